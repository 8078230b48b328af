"""Entrepreneurs and their accounts on each channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, Person
from storage.upsert import insert_for

__all__ = ["find_person", "identify"]


async def identify(
    session: AsyncSession,
    *,
    channel: str,
    user_id: str,
    chat_id: str,
    display_name: str | None,
    language: str,
    now: datetime,
) -> Person:
    """The person behind a channel account, created on first contact.

    Also remembers the chat that reaches them and when they last wrote (WeChat may push only
    within 48 hours of that).
    """
    # The account and its person in one query: this runs for nearly every message.
    row = (
        await session.execute(
            select(Identity, Person)
            .join(Person, Person.id == Identity.person_id)
            .where(Identity.channel == channel, Identity.user_id == user_id)
        )
    ).first()
    identity, found = (None, None) if row is None else row
    if identity is None:
        person = Person(display_name=display_name, language=language, created_at=now)
        session.add(person)
        await session.flush()
        # Two first messages of one user racing in two processes: the second insert is a no-op
        # and both go on with the identity that won.
        await session.execute(
            insert_for(session, Identity)
            .values(
                channel=channel,
                user_id=user_id,
                person_id=person.id,
                chat_id=chat_id,
                last_seen_at=now,
            )
            .on_conflict_do_nothing()
        )
        identity = await session.get(Identity, (channel, user_id), populate_existing=True)
        assert identity is not None
        found = await session.get(Person, identity.person_id)
    else:
        identity.chat_id = chat_id
        identity.last_seen_at = max(identity.last_seen_at, now)
    assert found is not None
    if display_name and found.display_name != display_name:
        found.display_name = display_name
    found.language = language
    return found


async def find_person(session: AsyncSession, channel: str, user_id: str) -> Person | None:
    """The person with this channel account, if they ever wrote."""
    return await session.scalar(
        select(Person)
        .join(Identity)
        .where(Identity.channel == channel, Identity.user_id == user_id)
    )
