"""Counts for people and machines: today's for ``/stats``, and where things stand for metrics."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import CLOCK_RUNNING, Status
from storage.models import OutboxMessage, OutboxStatus, Request, RequestEvent, UnansweredQuestion

__all__ = ["DayCounts", "Standing", "day_counts", "standing"]


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Requests of some duty groups since the start of a day, and where they stand now."""

    opened: int
    """Opened since the start of the day."""
    resolved: int
    """Resolutions given since the start of the day (a request resolved twice counts twice)."""
    active: int
    """Open or being worked on now (the deadline clock runs)."""
    overdue: int
    """Of those, past their deadline."""
    waiting: int
    """Waiting on the entrepreneur now."""
    unanswered: int
    """Questions the bot could not answer since the start of the day (all channels)."""


async def day_counts(
    session: AsyncSession, group_ids: Collection[str] | None, start: datetime, now: datetime
) -> DayCounts:
    """Count the requests of ``group_ids`` (every group with ``None``) since ``start``."""

    async def count(query: Select[int], scoped: bool = True) -> int:
        if scoped and group_ids is not None:
            query = query.where(Request.group_id.in_(list(group_ids)))
        return int(await session.scalar(query) or 0)

    requests = select(func.count()).select_from(Request)
    active = requests.where(Request.status.in_(CLOCK_RUNNING))
    resolutions = (
        select(func.count())
        .select_from(RequestEvent)
        .join(Request, Request.id == RequestEvent.request_id)
        .where(RequestEvent.kind == "resolve", RequestEvent.at >= start)
    )
    unanswered = (
        select(func.count())
        .select_from(UnansweredQuestion)
        .where(UnansweredQuestion.asked_at >= start)
    )
    return DayCounts(
        opened=await count(requests.where(Request.opened_at >= start)),
        resolved=await count(resolutions),
        active=await count(active),
        overdue=await count(active.where(Request.deadline < now)),
        waiting=await count(requests.where(Request.status == Status.WAITING)),
        unanswered=await count(unanswered, scoped=False),
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the requests and the outbox stand at one moment."""

    requests: dict[Status, int]
    """Status → how many requests."""
    overdue: int
    """Open or being worked on, past their deadline."""
    outbox: dict[tuple[str, OutboxStatus], int]
    """(channel, status) → messages waiting: ``pending``, ``held``, or ``waiting`` for a file."""
    oldest_waiting: dict[str, datetime]
    """Channel → when its oldest pending message was queued."""


async def standing(session: AsyncSession, now: datetime) -> Standing:
    """Count requests by status, the overdue ones, and the outbox's waiting messages."""
    by_status = await session.execute(select(Request.status, func.count()).group_by(Request.status))
    overdue = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.status.in_(CLOCK_RUNNING), Request.deadline < now)
    )
    waiting = OutboxMessage.status.in_(
        (OutboxStatus.PENDING, OutboxStatus.HELD, OutboxStatus.WAITING)
    )
    backlog = await session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(waiting)
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    oldest = await session.execute(
        select(OutboxMessage.channel, func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == OutboxStatus.PENDING)
        .group_by(OutboxMessage.channel)
    )
    return Standing(
        requests={status: int(count) for status, count in by_status.all()},
        overdue=int(overdue or 0),
        outbox={(channel, status): int(count) for channel, status, count in backlog.all()},
        oldest_waiting={channel: at for channel, at in oldest.all() if at is not None},
    )
