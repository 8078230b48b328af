"""The web chat's visitors: the key their session cookies are signed with, and who is known.

The key is made by the first process that starts and read by every other, so a cookie one
process issued is good at all of them and after a restart, with no setting to share.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Identity, SigningKey
from storage.upsert import insert_for

__all__ = ["Key", "is_known", "signing_key"]


@dataclass(frozen=True, slots=True)
class Key:
    """A shared secret and when it was made."""

    secret: bytes
    created_at: datetime


async def signing_key(sessions: async_sessionmaker[AsyncSession], name: str, now: datetime) -> Key:
    """The key called ``name``, made now if no process made it before (then kept for good)."""
    async with sessions.begin() as session:
        # Two processes starting at once both insert; the second insert is a no-op and both
        # read the one that won.
        await session.execute(
            insert_for(session, SigningKey)
            .values(name=name, secret=secrets.token_urlsafe(32), created_at=now)
            .on_conflict_do_nothing()
        )
        row = await session.get(SigningKey, name, populate_existing=True)
        assert row is not None
        return Key(row.secret.encode("ascii"), row.created_at)


async def is_known(sessions: async_sessionmaker[AsyncSession], channel: str, user_id: str) -> bool:
    """Whether the user has written to the bot before in a way that left an account."""
    async with sessions() as session:
        found = await session.scalar(
            select(Identity.user_id).where(Identity.channel == channel, Identity.user_id == user_id)
        )
        return found is not None
