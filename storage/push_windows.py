"""Push windows: what a platform lets the bot send a user unasked, kept per user.

The rules themselves (how long a window lasts, how many messages it allows) belong to the
channel adapter; this module only records the user's last message and event, the pushes left,
and whether they unfollowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PushWindow
from storage.upsert import insert_for

__all__ = [
    "close",
    "load",
    "note_events",
    "note_messages",
    "note_notified",
    "note_unsubscribed",
    "spend",
]


async def load(session: AsyncSession, channel: str, chat_id: str) -> PushWindow | None:
    """The user's window, or ``None`` when they never wrote."""
    return await session.get(PushWindow, (channel, chat_id))


async def note_messages(
    session: AsyncSession, channel: str, messages: Mapping[str, datetime], *, quota: int
) -> None:
    """Many users wrote (user → when): one statement for all; each follows the account."""
    await _note_many(
        session, channel, messages, "message", quota=quota, also={"unsubscribed_at": None}
    )


async def note_events(
    session: AsyncSession,
    channel: str,
    events: Mapping[str, datetime],
    *,
    quota: int,
    following: bool = False,
) -> None:
    """Many users clicked, followed or scanned (user → when): one statement for all.

    ``following``: the events are follows, which end an earlier unfollow.
    """
    also: dict[str, object] = {"unsubscribed_at": None} if following else {}
    await _note_many(session, channel, events, "event", quota=quota, also=also)


async def _note_many(
    session: AsyncSession,
    channel: str,
    contacts: Mapping[str, datetime],
    kind: str,
    *,
    quota: int,
    also: dict[str, object],
) -> None:
    """Upsert ``{kind}_at`` and ``{kind}_quota`` of many users at once."""
    if not contacts:
        return
    at, left = f"{kind}_at", f"{kind}_quota"
    rows = [
        {"channel": channel, "chat_id": chat_id, at: when, left: quota}
        for chat_id, when in contacts.items()
    ]
    statement = insert_for(session, PushWindow).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PushWindow.channel, PushWindow.chat_id],
            set_={at: statement.excluded[at], left: statement.excluded[left], **also},
        )
    )


async def note_unsubscribed(
    session: AsyncSession, channel: str, chat_id: str, now: datetime
) -> None:
    """The user unfollowed: nothing is pushed until they follow again."""
    await _upsert(session, channel, chat_id, {"unsubscribed_at": now})


async def note_notified(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> None:
    """The user was told a reply waits for them."""
    await _upsert(session, channel, chat_id, {"notified_at": now})


async def spend(
    session: AsyncSession, channel: str, chat_id: str, *, event: int = 0, message: int = 0
) -> None:
    """Count pushes sent against the event window and the message window."""
    await session.execute(
        update(PushWindow)
        .where(PushWindow.channel == channel, PushWindow.chat_id == chat_id)
        .values(
            event_quota=PushWindow.event_quota - event,
            message_quota=PushWindow.message_quota - message,
        )
    )


async def close(session: AsyncSession, channel: str, chat_id: str) -> None:
    """The platform refused a push: no pushes left until the user writes again.

    The row is created if need be: a user with held messages always has a window, which is
    how their next message finds what waits for them.
    """
    await _upsert(session, channel, chat_id, {"event_quota": 0, "message_quota": 0})


async def _upsert(
    session: AsyncSession, channel: str, chat_id: str, values: dict[str, object]
) -> None:
    statement = insert_for(session, PushWindow).values(channel=channel, chat_id=chat_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[PushWindow.channel, PushWindow.chat_id], set_=values
        )
    )
