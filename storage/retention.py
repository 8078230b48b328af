"""Retention: what the bot forgets, and when, so the database stops growing with traffic alone.

Requests and their events are the performance archive and are never deleted, and nothing here
deletes a row they need. What goes, each kind after its own age:

- ``inbound_keys`` after :data:`INBOUND_HORIZON`: a key only has to outlive the platforms'
  redeliveries (Telegram keeps an undelivered update 24 hours, WeChat retries within 15 s).
- ``outbox`` rows that are finished (``sent``, ``handed_back`` or ``failed``) after the
  retention age, and never before the inbound horizon: a redelivered message is answered from
  the rows its key caused (:func:`storage.outbox.replies_to`). Nothing else reads a finished
  row: cards live in ``cards``, a request's history in ``request_events``, and every other
  reader wants rows still ``pending`` or ``held``, which are kept whatever their age.
- ``made_files`` (report files the bot made for a message) after :data:`INBOUND_HORIZON`,
  made or failed ones only: a file is sent within a day of being made, or its message has
  failed by then. Their outbox rows may be kept longer; a row deleted takes its files along.
- ``transcript_lines`` (what web chat visitors wrote) after the same age as the outbox, so a
  reloaded page shows both halves of a conversation or neither.
- ``answered_questions`` and ``unanswered_questions`` after the retention age (the admins' list
  of FAQ gaps; a rating button under a forgotten answer says it cannot find it).
- conversations left mid-way after :data:`CONVERSATION_AGE` (or the retention age if shorter).
- console sign-in tokens and sessions once they can no longer sign anyone in.

Deletes go in batches of :data:`BATCH` rows, one transaction each: a single ``DELETE`` of
millions of rows would hold its locks and the SQLite writer's turn for its whole length. Two
processes running the job at once only delete the same old rows; :class:`RetentionJob` makes
that rare by letting one process per hour take the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import console, transcript
from storage.database import Database
from storage.models import (
    AnsweredQuestion,
    Conversation,
    InboundKey,
    JobRun,
    MadeFile,
    MadeFileStatus,
    OutboxMessage,
    OutboxStatus,
    UnansweredQuestion,
)
from storage.upsert import insert_for

__all__ = [
    "BATCH",
    "CONVERSATION_AGE",
    "EVERY",
    "INBOUND_HORIZON",
    "Forget",
    "Prune",
    "RetentionJob",
    "standard_prunes",
]

log = logging.getLogger(__name__)

INBOUND_HORIZON = timedelta(days=7)
"""How long an incoming message's key is kept. Telegram keeps an update it could not deliver
for 24 hours and WeChat retries within 15 seconds; a week is far past both, and past a
weekend's outage of the bot, after which Telegram's backlog is replayed."""
CONVERSATION_AGE = timedelta(days=14)
"""How long a conversation left mid-way (a request half told) is kept. Longer than the longest
public holiday with its weekends (Spring Festival, National Day), so someone who stopped before
one finds it where they left it; after that they have forgotten the step, and a stale step
would take their next question as its answer."""
BATCH = 2000
"""Rows one delete statement removes: a few milliseconds of locks, then others get their turn."""
EVERY = timedelta(hours=1)
"""How often the job runs."""
_SLACK = timedelta(minutes=5)
"""A process whose turn comes a little before another's hour is over leaves it to the other."""

Forget = Callable[[AsyncSession, datetime], Awaitable[int | None]]
"""Deletes (some of) the rows older than the cutoff in the session's transaction; returns how
many, or ``None`` when it does not count. One returning :data:`BATCH` or more is called again
in a new transaction until it returns fewer."""


@dataclass(frozen=True, slots=True)
class Prune:
    """One kind of row the job forgets, and after how long."""

    name: str
    """For the log line."""
    age: timedelta
    """Rows older than this go."""
    forget: Forget


def standard_prunes(retention: timedelta) -> list[Prune]:
    """What the bot forgets when questions and finished messages are kept for ``retention``."""
    return [
        Prune("inbound_keys", INBOUND_HORIZON, _inbound_keys),
        Prune("made_files", INBOUND_HORIZON, _made_files),
        Prune("outbox", max(retention, INBOUND_HORIZON), _finished_outbox),
        Prune("transcript_lines", max(retention, INBOUND_HORIZON), _transcript_lines),
        Prune("answered_questions", retention, _answered),
        Prune("unanswered_questions", retention, _unanswered),
        Prune("conversations", min(retention, CONVERSATION_AGE), _conversations),
        Prune("console_sessions", timedelta(0), _console),
    ]


class RetentionJob:
    """Runs the prunes about every :data:`EVERY`, one process of several at a time."""

    name = "retention"

    def __init__(self, prunes: Sequence[Prune], every: timedelta = EVERY) -> None:
        """Forget with ``prunes`` every ``every``."""
        self.prunes = tuple(prunes)
        self._every = every
        self._next: datetime | None = None

    async def run_if_due(self, database: Database, now: datetime) -> dict[str, int | None] | None:
        """Run when this process's hour has come and no other process took it.

        Returns:
            How many rows each prune deleted, or ``None`` when it was not this run's turn.
        """
        if self._next is not None and now < self._next:
            return None
        self._next = now + self._every
        if not await self._take_turn(database, now):
            return None
        return await self.run(database, now)

    async def run(self, database: Database, now: datetime) -> dict[str, int | None]:
        """Run every prune now, batch by batch, and log what each deleted in one line."""
        deleted: dict[str, int | None] = {}
        for prune in self.prunes:
            cutoff = now - prune.age
            total: int | None = None
            while True:
                async with database.transaction() as session:
                    count = await prune.forget(session, cutoff)
                if count is None:
                    break
                total = (total or 0) + count
                if count < BATCH:
                    break
            deleted[prune.name] = total
        log.info(
            "retention: deleted %s",
            ", ".join(f"{name} {'done' if n is None else n}" for name, n in deleted.items()),
        )
        return deleted

    async def _take_turn(self, database: Database, now: datetime) -> bool:
        """Whether this process runs the job now: it moved the job's last run to ``now``.

        On PostgreSQL a second process's ``UPDATE`` waits for the first to commit and then no
        longer matches, so only one of them runs each time; SQLite serialises writers anyway.
        """
        async with database.transaction() as session:
            await session.execute(
                insert_for(session, JobRun)
                .values(job=self.name, ran_at=datetime(2000, 1, 1, tzinfo=UTC))
                .on_conflict_do_nothing()
            )
            taken = await session.execute(
                update(JobRun)
                .where(JobRun.job == self.name, JobRun.ran_at <= now - (self._every - _SLACK))
                .values(ran_at=now)
                .returning(JobRun.job)
            )
            return taken.scalar_one_or_none() is not None


async def _batch(
    session: AsyncSession, key: Any, *conditions: ColumnElement[bool], table: Any
) -> int:
    """Delete up to :data:`BATCH` rows of ``table`` that meet ``conditions``; how many went."""
    chosen = select(key).where(*conditions).limit(BATCH)
    result = await session.execute(delete(table).where(key.in_(chosen.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)


async def _inbound_keys(session: AsyncSession, cutoff: datetime) -> int:
    return await _batch(session, InboundKey.key, InboundKey.received_at < cutoff, table=InboundKey)


async def _finished_outbox(session: AsyncSession, cutoff: datetime) -> int:
    # next_attempt_at is the row's last turn with the sender (its creation if it went back in
    # an HTTP response), so a finished row's is when it finished; ix_outbox_due finds them.
    return await _batch(
        session,
        OutboxMessage.id,
        OutboxMessage.status.in_(
            (OutboxStatus.SENT, OutboxStatus.HANDED_BACK, OutboxStatus.FAILED)
        ),
        OutboxMessage.next_attempt_at < cutoff,
        table=OutboxMessage,
    )


async def _transcript_lines(session: AsyncSession, cutoff: datetime) -> int:
    return await transcript.forget(session, cutoff, BATCH)


async def _made_files(session: AsyncSession, cutoff: datetime) -> int:
    return await _batch(
        session,
        MadeFile.id,
        MadeFile.status.in_((MadeFileStatus.MADE, MadeFileStatus.FAILED)),
        MadeFile.created_at < cutoff,
        table=MadeFile,
    )


async def _answered(session: AsyncSession, cutoff: datetime) -> int:
    return await _batch(
        session,
        AnsweredQuestion.id,
        AnsweredQuestion.answered_at < cutoff,
        table=AnsweredQuestion,
    )


async def _unanswered(session: AsyncSession, cutoff: datetime) -> int:
    return await _batch(
        session,
        UnansweredQuestion.id,
        UnansweredQuestion.asked_at < cutoff,
        table=UnansweredQuestion,
    )


async def _conversations(session: AsyncSession, cutoff: datetime) -> int:
    key = tuple_(Conversation.channel, Conversation.user_id)
    chosen = (
        select(Conversation.channel, Conversation.user_id)
        .where(Conversation.updated_at < cutoff)
        .limit(BATCH)
    )
    result = await session.execute(delete(Conversation).where(key.in_(chosen)))
    return int(getattr(result, "rowcount", 0) or 0)


async def _console(session: AsyncSession, cutoff: datetime) -> None:
    # The console decides when a token or session is spent; a handful of rows, one statement.
    await console.forget_expired(session, cutoff)
