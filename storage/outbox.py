"""The outbox: messages written in the transaction that caused them, delivered afterwards.

Also the keys of incoming deliveries already handled, so a message the platform delivers twice
is handled once and answered with the same reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import InboundKey, OutboxMessage
from storage.upsert import insert_for

__all__ = [
    "claim_inbound",
    "deliver_to_page",
    "enqueue",
    "replies_to",
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
    sent: bool = False,
) -> OutboxMessage:
    """Add a message to deliver; ``sent`` when the caller hands it over itself (an HTTP reply)."""
    row = OutboxMessage(
        channel=channel,
        chat_id=chat_id,
        payload=payload,
        created_at=now,
        inbound_key=inbound_key,
        request_id=request_id,
        status="sent" if sent else "pending",
        attempts=0,
        next_attempt_at=now,
        sent_at=now if sent else None,
    )
    session.add(row)
    return row


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
                OutboxMessage.status == "pending",
                OutboxMessage.id <= acknowledged,
            )
            .values(status="sent", sent_at=now)
        )
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == "pending",
                OutboxMessage.id > acknowledged,
            )
            .order_by(OutboxMessage.id)
            .limit(50)
        )
        return (await session.scalars(query)).all()
