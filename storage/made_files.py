"""Made files: the files the bot makes for outbox messages (reports), each a job of its own.

A message that carries a file to make is written ``waiting``, with one job here per file, in
the transaction that caused it. A maker takes due jobs under a lease (as the sender takes
messages), makes each file once and stores its bytes; when the last file of a message is made
the message becomes ``pending`` in that same transaction, and the sender sends bytes that are
already here. A maker that dies mid-way leaves its jobs to fall due again when the lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from storage.models import MadeFile, MadeFileStatus, OutboxMessage, OutboxStatus

__all__ = [
    "Job",
    "MadeFileStatus",
    "StoredFile",
    "claim_due",
    "fail",
    "files_of",
    "order",
    "retry_later",
    "store",
]


def order(
    session: AsyncSession, message: OutboxMessage, specs: Sequence[tuple[int, str]], now: datetime
) -> None:
    """Have the files ``specs`` describes made for ``message``, which waits for them.

    Args:
        session: The transaction that writes ``message``.
        message: The outbox row, new in ``session``; it becomes ``waiting``.
        specs: ``(position, spec)``: which attachment, and what to make for it.
        now: When the jobs are due.
    """
    message.status = OutboxStatus.WAITING
    for position, spec in specs:
        # The message's id is known only at the flush, which writes the message first.
        session.add(
            MadeFile(
                message=message,
                position=position,
                spec=spec,
                status=MadeFileStatus.QUEUED,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A file to make, taken under a lease."""

    id: int
    spec: str
    attempts: int
    """Attempts so far, this one included."""
    lease_end: datetime


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    lease: timedelta,
    limit: int = 5,
) -> list[Job]:
    """Take up to ``limit`` queued jobs whose time has come, oldest first.

    Claiming moves each job's next attempt ``lease`` ahead and counts the attempt, in one
    statement, so a second maker skips them (``SKIP LOCKED`` on PostgreSQL; SQLite serialises
    writers).
    """
    due = (
        select(MadeFile.id)
        .where(MadeFile.status == MadeFileStatus.QUEUED, MadeFile.next_attempt_at <= now)
        .order_by(MadeFile.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease_end = now + lease
    async with sessions.begin() as session:
        claimed = await session.execute(
            update(MadeFile)
            .where(MadeFile.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_end, attempts=MadeFile.attempts + 1)
            .returning(MadeFile.id, MadeFile.spec, MadeFile.attempts)
        )
        jobs = [Job(job_id, spec, attempts, lease_end) for job_id, spec, attempts in claimed]
    return sorted(jobs, key=lambda job: job.id)


async def store(
    session: AsyncSession, job: Job, *, name: str, media_type: str, content: bytes, now: datetime
) -> int | None:
    """Keep the made file, and let its message go if it was the message's last.

    Returns:
        The message's id when it became ``pending`` (the sender has something to send);
        ``None`` when it still waits for another file, or the job's lease had ended and
        another maker has it now (its file is not stored twice).
    """
    message_id = await _settle(
        session,
        job,
        status=MadeFileStatus.MADE,
        made_at=now,
        name=name[:200],
        media_type=media_type[:100],
        content=content,
        last_error=None,
    )
    if message_id is None:
        return None
    others = aliased(MadeFile)
    released = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == OutboxStatus.WAITING,
            ~exists().where(others.outbox_id == message_id, others.status != MadeFileStatus.MADE),
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now)
        .returning(OutboxMessage.id)
    )
    return released.scalar_one_or_none()


async def retry_later(session: AsyncSession, job: Job, at: datetime, error: str) -> None:
    """Making failed for now; try again at ``at``."""
    await session.execute(
        update(MadeFile)
        .where(MadeFile.id == job.id, MadeFile.next_attempt_at == job.lease_end)
        .values(next_attempt_at=at, last_error=error[:500])
    )


async def fail(session: AsyncSession, job: Job, error: str) -> OutboxMessage | None:
    """The file cannot be made: the job and the message waiting for it fail.

    Returns:
        The message, now ``failed``, so the caller can tell its reader; ``None`` when the
        lease had ended (another maker has the job) or the message no longer waits.
    """
    message_id = await _settle(session, job, status=MadeFileStatus.FAILED, last_error=error[:500])
    if message_id is None:
        return None
    return await session.scalar(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.WAITING)
        .values(status=OutboxStatus.FAILED, last_error=f"file not made: {error}"[:500])
        .returning(OutboxMessage)
    )


async def _settle(session: AsyncSession, job: Job, **values: object) -> int | None:
    """End ``job`` with ``values`` if it is still queued under its taker's lease.

    Returns:
        The id of the message it was made for; ``None`` when the lease had ended (another
        maker has the job now) or the job was settled already.
    """
    settled = await session.execute(
        update(MadeFile)
        .where(
            MadeFile.id == job.id,
            MadeFile.status == MadeFileStatus.QUEUED,
            MadeFile.next_attempt_at == job.lease_end,
        )
        .values(**values)
        .returning(MadeFile.outbox_id)
    )
    return settled.scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A made file, as the sender hands it to a platform."""

    name: str
    media_type: str
    content: bytes


async def files_of(session: AsyncSession, message_id: int) -> dict[int, StoredFile]:
    """The made files of a message, by the position of their attachment."""
    found = await session.execute(
        select(MadeFile.position, MadeFile.name, MadeFile.media_type, MadeFile.content).where(
            MadeFile.outbox_id == message_id, MadeFile.status == MadeFileStatus.MADE
        )
    )
    return {
        position: StoredFile(name or "", media_type or "", content or b"")
        for position, name, media_type, content in found
    }
