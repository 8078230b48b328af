"""What the quarterly report reads: the requests of a period and their logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Request, RequestEvent

__all__ = ["EventFact", "History", "histories"]


@dataclass(frozen=True, slots=True)
class EventFact:
    """One entry of a request's log, as the report reads it."""

    at: datetime
    kind: str
    actor: str
    data: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class History:
    """A request and its log, oldest event first."""

    request_id: int
    number: str
    category: str
    space_id: str
    opened_at: datetime
    events: Sequence[EventFact]


async def histories(session: AsyncSession, start: datetime, end: datetime) -> list[History]:
    """Every request that may count between ``start`` and ``end``, with its log up to ``end``.

    That is each request opened before ``end`` and not closed before ``start`` (a request's
    ``updated_at`` is the time of its last event).
    """
    wanted = (
        select(Request.id)
        .where(Request.opened_at < end)
        .where(or_(Request.status != "closed", Request.updated_at >= start))
    )
    requests = (
        await session.execute(
            select(
                Request.id, Request.number, Request.category, Request.space_id, Request.opened_at
            ).where(Request.id.in_(wanted))
        )
    ).all()
    logs: dict[int, list[EventFact]] = {row.id: [] for row in requests}
    events = await session.execute(
        select(
            RequestEvent.request_id,
            RequestEvent.at,
            RequestEvent.kind,
            RequestEvent.actor,
            RequestEvent.data,
        )
        .where(RequestEvent.request_id.in_(wanted), RequestEvent.at < end)
        .order_by(RequestEvent.request_id, RequestEvent.at, RequestEvent.id)
    )
    for request_id, at, kind, actor, data in events:
        logs[request_id].append(EventFact(at, kind, actor, data))
    return [
        History(row.id, row.number, row.category, row.space_id, row.opened_at, logs[row.id])
        for row in requests
    ]
