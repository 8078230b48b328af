"""The web chat's transcript: the visitor's lines and the bot's messages, read back in order.

The bot's half is the outbox, which keeps every message to a chat (handed back in the HTTP
response or fetched by the page) until the retention job forgets finished rows; the visitor's
half is :class:`~storage.models.TranscriptLine`, forgotten after the same age. A reload or a
second tab reads both back, with the conversation the visitor is in the middle of.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Conversation, OutboxMessage, OutboxStatus, TranscriptLine
from storage.upsert import insert_for
from storage.writer import Writer, stored_time

__all__ = ["LIMIT", "Entry", "Transcript", "forget", "read", "record"]

LIMIT = 200
"""Entries a transcript shows at most, the newest: a page of a long-lived session stays light."""

_SHOWN = (OutboxStatus.SENT, OutboxStatus.HANDED_BACK, OutboxStatus.PENDING)
"""Bot messages the page shows: delivered, or waiting for the page to fetch them."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One bubble of the conversation."""

    at: datetime
    mine: bool
    """Written by the visitor (``False``: by the bot)."""
    text: str
    choice: str | None = None
    """The visitor's line is a press of the button with this payload."""
    message_id: int | None = None
    """The bot's message: its outbox id, which the page's cursor counts in."""
    payload: dict[str, object] | None = None
    """The bot's message as stored (buttons, source)."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """A chat's conversation as a page shows it after a reload."""

    entries: list[Entry]
    step: tuple[str, str] | None
    """The conversation the visitor is in the middle of (kind, step), if any."""


async def record(
    sessions: async_sessionmaker[AsyncSession],
    writer: Writer | None,
    *,
    channel: str,
    chat_id: str,
    key: str,
    text: str,
    choice: str | None,
    at: datetime,
) -> None:
    """Keep what the visitor wrote; a second message with the same ``key`` keeps nothing.

    On SQLite it goes through the process's one ``writer``, in a batch with the other messages'
    work, rather than taking the database for a transaction of its own.
    """
    if writer is not None:
        values = (key, channel, chat_id, stored_time(at), text, choice)

        def unit(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO transcript_lines (key, channel, chat_id, at, text, choice)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                values,
            )

        await writer.run(unit)
        return
    async with sessions.begin() as session:
        await session.execute(
            insert_for(session, TranscriptLine)
            .values(key=key, channel=channel, chat_id=chat_id, at=at, text=text, choice=choice)
            .on_conflict_do_nothing()
        )


async def read(
    sessions: async_sessionmaker[AsyncSession], channel: str, chat_id: str, limit: int = LIMIT
) -> Transcript:
    """The newest ``limit`` entries of the chat, oldest first, and its conversation's step.

    The visitor's line comes just before the replies it caused, whatever the clock said.
    """
    async with sessions() as session:
        lines = (
            await session.scalars(
                select(TranscriptLine)
                .where(TranscriptLine.channel == channel, TranscriptLine.chat_id == chat_id)
                .order_by(TranscriptLine.at.desc(), TranscriptLine.id.desc())
                .limit(limit)
            )
        ).all()
        messages = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.status.in_(_SHOWN),
                )
                .order_by(OutboxMessage.id.desc())
                .limit(limit)
            )
        ).all()
        conversation = await session.get(Conversation, (channel, chat_id))
    # The bot's messages in the order they were written (their ids); each of the visitor's
    # lines goes just before the replies it caused (the rows its key caused), or, with none,
    # after everything written by its time.
    messages = sorted(messages, key=lambda row: row.id)
    first_reply: dict[str, int] = {}
    for row in messages:
        if row.inbound_key is not None:
            first_reply.setdefault(row.inbound_key, row.id)
    ranked: list[tuple[float, Entry]] = [
        (
            row.id,
            Entry(
                row.created_at,
                False,
                str(row.payload.get("text", "")),
                message_id=row.id,
                payload=row.payload,
            ),
        )
        for row in messages
    ]
    for line in reversed(lines):
        before = first_reply.get(line.key)
        if before is None:
            before = next((row.id for row in messages if row.created_at > line.at), None)
        rank = before - 0.5 if before is not None else (messages[-1].id if messages else 0) + 0.5
        ranked.append((rank, Entry(line.at, True, line.text, choice=line.choice)))
    # Lines with no message between them keep their own order (their ids, as written).
    ranked.sort(key=lambda item: item[0])
    entries = [entry for _, entry in ranked]
    step = None if conversation is None else (conversation.kind, conversation.step)
    return Transcript(entries[-limit:], step)


async def forget(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    """Delete up to ``batch`` lines written before ``cutoff``; how many went."""
    chosen = select(TranscriptLine.id).where(TranscriptLine.at < cutoff).limit(batch)
    result = await session.execute(
        delete(TranscriptLine).where(TranscriptLine.id.in_(chosen.scalar_subquery()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
