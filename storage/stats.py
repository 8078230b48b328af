"""Today's counts for supervisors and admins (``/stats``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Request, RequestEvent, UnansweredQuestion

__all__ = ["DayCounts", "day_counts"]

_ACTIVE = ("open", "claimed")


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
    active = requests.where(Request.status.in_(_ACTIVE))
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
        waiting=await count(requests.where(Request.status == "waiting")),
        unanswered=await count(unanswered, scoped=False),
    )
