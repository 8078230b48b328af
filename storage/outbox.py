"""The outbox: messages written in the transaction that caused them, delivered afterwards.

Also the keys of incoming deliveries already handled, so a message the platform delivers twice
is handled once and answered with the same reply.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import OutgoingMessage
from storage import made_files
from storage.models import InboundKey, OutboxMessage, OutboxStatus, Request
from storage.upsert import insert_for

__all__ = [
    "Claimed",
    "OutboxStatus",
    "backlog",
    "claim_due",
    "claim_inbound",
    "deliver_to_page",
    "enqueue",
    "enqueue_message",
    "mark_all_sent",
    "mark_failed",
    "mark_held",
    "mark_sent",
    "release",
    "release_held",
    "replies_to",
    "retry_later",
]


async def claim_inbound(session: AsyncSession, key: str, now: datetime) -> bool:
    """Record ``key`` as handled; ``False`` when it already was (a redelivery).

    On PostgreSQL a second process inserting the same key waits for the first transaction and
    then sees the conflict, so exactly one of them handles the message.
    """
    result = await session.execute(
        insert_for(session, InboundKey)
        .values(key=key, received_at=now)
        .on_conflict_do_nothing()
        .returning(InboundKey.key)
    )
    return result.scalar_one_or_none() is not None


def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    payload: dict[str, object],
    now: datetime,
    inbound_key: str | None = None,
    request_id: int | None = None,
    handed_back: bool = False,
    made: Sequence[tuple[int, str]] = (),
) -> OutboxMessage:
    """Add a message to deliver; ``handed_back`` when the caller hands it over itself.

    A handed-back message goes in the HTTP response to ``inbound_key``'s message
    (:attr:`OutboxStatus.HANDED_BACK`); the sender never takes it. One that carries files the
    bot makes (``made``: position and spec of each) waits until they are made.
    """
    row = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        payload=payload,
        created_at=now,
        inbound_key=inbound_key,
        request_id=request_id,
        status=OutboxStatus.HANDED_BACK if handed_back else OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        sent_at=now if handed_back else None,
    )
    session.add(row)
    if made:
        made_files.order(session, row, made, now)
    return row


def enqueue_message(
    session: AsyncSession,
    message: OutgoingMessage,
    now: datetime,
    *,
    inbound_key: str | None = None,
    handed_back: bool = False,
) -> OutboxMessage:
    """:func:`enqueue` ``message`` as it is stored: its payload, request and files to make."""
    return enqueue(
        session,
        channel=message.channel.value,
        chat_id=message.chat_id,
        payload=message.to_payload(),
        now=now,
        inbound_key=inbound_key,
        request_id=message.request_id,
        handed_back=handed_back,
        made=message.files_to_make,
    )


async def replies_to(session: AsyncSession, inbound_key: str) -> Sequence[OutboxMessage]:
    """What the bot answered to an incoming message, in order (for a redelivery)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.inbound_key == inbound_key)
        .order_by(OutboxMessage.id)
    )
    return (await session.scalars(query)).all()


async def deliver_to_page(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    chat_id: str,
    *,
    acknowledged: int,
    now: datetime,
) -> Sequence[OutboxMessage]:
    """For a channel the client polls (the web chat): ack up to ``acknowledged``, return the rest.

    A message counts as delivered only when the page asks for what comes after it, so a poll
    whose response is lost is answered again by the next one.
    """
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.id <= acknowledged,
            )
            .values(status=OutboxStatus.SENT, sent_at=now)
        )
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.id > acknowledged,
            )
            .order_by(OutboxMessage.id)
            .limit(50)
        )
        return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message taken for delivery."""

    message: OutboxMessage
    request_number: str | None
    """The number of the request the message is about (``2026-0001``), for the log."""


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    channels: Sequence[str],
    *,
    now: datetime,
    lease: timedelta,
    limit: int = 50,
) -> list[Claimed]:
    """Take up to ``limit`` pending messages for ``channels`` whose time has come, oldest first.

    Claiming moves each row's next attempt ``lease`` ahead and counts the attempt, in one
    statement: a second sender process skips the rows (``SKIP LOCKED`` on PostgreSQL; SQLite
    serialises writers), and a sender that dies mid-delivery leaves rows that fall due again
    when the lease runs out, so nothing is lost. The request numbers of the batch are read with
    it, in one query, so the sender's log lines name the request without a query per row.
    """
    if not channels:
        return []
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel.in_(channels),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with sessions.begin() as session:
        claimed = (
            await session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(next_attempt_at=now + lease, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage)
            )
        ).all()
        about = {row.request_id for row in claimed if row.request_id is not None}
        numbers: dict[int, str] = {}
        if about:
            found = await session.execute(
                select(Request.id, Request.number).where(Request.id.in_(about))
            )
            numbers = {request_id: number for request_id, number in found}
    taken = [
        Claimed(row, numbers.get(row.request_id) if row.request_id is not None else None)
        for row in claimed
    ]
    return sorted(taken, key=lambda item: item.message.id)


async def release(
    session: AsyncSession, message_ids: Collection[int], *, lease_end: datetime, now: datetime
) -> int:
    """Give back claimed rows their sender will not get to in time: due again at once.

    Only rows still under that claim (pending, their next attempt still ``lease_end``) are
    released, and the claim is not counted as an attempt. Returns how many were released.
    """
    if not message_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(message_ids)),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at == lease_end,
        )
        .values(next_attempt_at=now, attempts=OutboxMessage.attempts - 1)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_sent(session: AsyncSession, message_id: int, now: datetime) -> None:
    """The channel accepted the message."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
    )


async def mark_all_sent(session: AsyncSession, message_ids: Collection[int], now: datetime) -> None:
    """The channel accepted all these messages: one statement for a sender's round."""
    if not message_ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(message_ids)))
        .values(status=OutboxStatus.SENT, sent_at=now, last_error=None)
        # The rows were read in another session: none here to bring up to date.
        .execution_options(synchronize_session=False)
    )


async def retry_later(session: AsyncSession, message_id: int, at: datetime, error: str) -> None:
    """The channel failed for now; try again at ``at``."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(next_attempt_at=at, last_error=error[:500])
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    """The message cannot be delivered; it stays in the table with the reason."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=OutboxStatus.FAILED, last_error=error[:500])
    )


async def mark_held(session: AsyncSession, message_id: int, error: str) -> None:
    """The channel refuses pushes to this user for now; the message waits for them to write."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=OutboxStatus.HELD, last_error=error[:500])
    )


async def release_held(
    session: AsyncSession, channel: str, chat_ids: Collection[str], now: datetime
) -> int:
    """These users wrote again: what was held for them is due now. Returns how many."""
    if not chat_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id.in_(list(chat_ids)),
            OutboxMessage.status == OutboxStatus.HELD,
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def backlog(
    sessions: async_sessionmaker[AsyncSession], channels: Sequence[str]
) -> tuple[int, datetime | None]:
    """Pending messages for ``channels`` and the time the oldest was written."""
    async with sessions() as session:
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.channel.in_(channels),
                )
            )
        ).one()
    return int(count), oldest
