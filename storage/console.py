"""The commissioners' web console: one-time sign-in tokens, browser sessions, and its reads.

Neither a token nor a session cookie is ever stored: only its SHA-256, so a copy of the
database opens no console. A token is redeemed once, in one ``UPDATE``, so two browsers racing
with the same link (or two bot processes on PostgreSQL) cannot both sign in with it.

The console only reads requests here; every change goes through the chat commands.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import Status
from storage.models import ConsoleSession, ConsoleToken, Person, Request, RequestEvent

__all__ = [
    "SESSION_LIFETIME",
    "TokenCheck",
    "TokenState",
    "check_token",
    "close_session",
    "digest",
    "events_for",
    "first_opened_at",
    "forget_expired",
    "issue_token",
    "open_session",
    "people_by_id",
    "redeem_token",
    "requests_for_groups",
    "resolved_since",
    "session_person",
]

SESSION_LIFETIME = timedelta(days=7)
"""How long a signed-in browser stays signed in."""
_SECRET_BYTES = 32
"""256 random bits: a token or cookie nobody can guess."""


class TokenState(StrEnum):
    """What a sign-in token is worth."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The state of a sign-in token and whom it signs in (``channel:user_id``), if known."""

    state: TokenState
    person: str | None = None


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token or cookie is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def issue_token(
    session: AsyncSession, person: str, now: datetime, lifetime: timedelta
) -> str:
    """A new one-time sign-in token for ``person`` (``web:zhangwei``), valid for ``lifetime``.

    Returns:
        The token itself; only its hash is stored, so this is the one chance to show it.
    """
    token = secrets.token_urlsafe(_SECRET_BYTES)
    session.add(ConsoleToken(token_hash=digest(token), person=person, expires_at=now + lifetime))
    return token


async def check_token(session: AsyncSession, token: str, now: datetime) -> TokenCheck:
    """What ``token`` is worth at ``now``, without using it."""
    row = await session.get(ConsoleToken, digest(token))
    if row is None:
        return TokenCheck(TokenState.UNKNOWN)
    if row.used_at is not None:
        return TokenCheck(TokenState.USED, row.person)
    if now >= row.expires_at:
        return TokenCheck(TokenState.EXPIRED, row.person)
    return TokenCheck(TokenState.VALID, row.person)


async def redeem_token(session: AsyncSession, token: str, now: datetime) -> TokenCheck:
    """Use ``token``: ``VALID`` (and marked used) the first time only, else why not."""
    token_hash = digest(token)
    # One statement both tests and spends the token: of two racing redeemers, one updates the
    # row and the other finds it already used.
    person = await session.scalar(
        update(ConsoleToken)
        .where(
            ConsoleToken.token_hash == token_hash,
            ConsoleToken.used_at.is_(None),
            ConsoleToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(ConsoleToken.person)
    )
    if person is not None:
        return TokenCheck(TokenState.VALID, person)
    return await check_token(session, token, now)


async def open_session(
    session: AsyncSession, person: str, now: datetime, lifetime: timedelta = SESSION_LIFETIME
) -> str:
    """Sign ``person`` in; returns the cookie value (only its hash is stored)."""
    cookie = secrets.token_urlsafe(_SECRET_BYTES)
    session.add(
        ConsoleSession(
            session_hash=digest(cookie), person=person, created_at=now, expires_at=now + lifetime
        )
    )
    return cookie


async def session_person(session: AsyncSession, cookie: str, now: datetime) -> str | None:
    """Who the browser holding ``cookie`` is signed in as, unless the session ended."""
    row = await session.get(ConsoleSession, digest(cookie))
    if row is None or now >= row.expires_at:
        return None
    return row.person


async def close_session(session: AsyncSession, cookie: str) -> None:
    """Sign the browser holding ``cookie`` out."""
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.session_hash == digest(cookie))
    )


async def forget_expired(session: AsyncSession, now: datetime) -> None:
    """Drop sessions and tokens that can no longer sign anyone in."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    # Spent and expired tokens stay a day, so their link still says "used" or "expired"
    # rather than "unknown" to someone who tries it again soon after.
    await session.execute(
        delete(ConsoleToken).where(ConsoleToken.expires_at <= now - timedelta(days=1))
    )


async def requests_for_groups(
    session: AsyncSession, group_ids: Iterable[str], statuses: Sequence[Status], limit: int = 500
) -> Sequence[Request]:
    """The requests of these groups in ``statuses``, the earliest deadline first."""
    groups = sorted(set(group_ids))
    if not groups:
        return ()
    query = (
        select(Request)
        .where(Request.group_id.in_(groups), Request.status.in_(statuses))
        .order_by(Request.deadline, Request.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def resolved_since(
    session: AsyncSession, group_ids: Iterable[str], since: datetime, limit: int = 50
) -> Sequence[Request]:
    """The requests of these groups resolved since ``since`` (closed ones too), newest first."""
    groups = sorted(set(group_ids))
    if not groups:
        return ()
    query = (
        select(Request)
        .where(
            Request.group_id.in_(groups),
            Request.status.in_((Status.RESOLVED, Status.CLOSED)),
            Request.resolved_at >= since,
        )
        .order_by(Request.resolved_at.desc(), Request.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def events_for(
    session: AsyncSession, request_ids: Iterable[int]
) -> dict[int, list[RequestEvent]]:
    """The logs of several requests at once, each oldest first."""
    ids = sorted(set(request_ids))
    logs: dict[int, list[RequestEvent]] = {request_id: [] for request_id in ids}
    if not ids:
        return logs
    query = (
        select(RequestEvent)
        .where(RequestEvent.request_id.in_(ids))
        .order_by(RequestEvent.request_id, RequestEvent.at, RequestEvent.id)
    )
    for event in (await session.scalars(query)).all():
        logs[event.request_id].append(event)
    return logs


async def people_by_id(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, Person]:
    """The entrepreneurs with these ids."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    found = await session.scalars(select(Person).where(Person.id.in_(ids)))
    return {person.id: person for person in found.all()}


async def first_opened_at(session: AsyncSession) -> datetime | None:
    """When the oldest request was opened; ``None`` before the first.

    The lowest id is the oldest (numbers and ids are given as requests open), and the primary
    key finds it at once where ``MIN(opened_at)`` would read the whole table.
    """
    query = select(Request.opened_at).order_by(Request.id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()
