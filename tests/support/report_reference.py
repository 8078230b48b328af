"""The quarterly report as it was counted before it was made fast (commit 8e0aff4), kept as the
reference the fast path must agree with: one ORM row per event, one dataclass per event, each
log replayed event by event, each count added to every figure it belongs to at once.

Only the reading and the counting are kept here; the report's own classes (Figures,
QuarterReport…) are the product's. Since then the rules gained the assignee as the desk assigns
(the first to act, or a claim) and the times of reception and resolution, for the weekly chart;
both are made here the plain way too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SHANGHAI
from bot.domain.lifecycle import Status
from bot.domain.workdays import WorkCalendar
from bot.reports.figures import Figures, OverdueRequest, QuarterReport
from bot.reports.period import Period
from storage.models import Request, RequestEvent

__all__ = [
    "EventFact",
    "History",
    "build_report",
    "histories",
]


@dataclass(frozen=True, slots=True)
class EventFact:
    at: datetime
    kind: str
    actor: str
    data: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class History:
    request_id: int
    number: str
    category: str
    space_id: str
    channel: str
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
                Request.id,
                Request.number,
                Request.category,
                Request.space_id,
                Request.channel,
                Request.opened_at,
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
        History(
            row.id, row.number, row.category, row.space_id, row.channel, row.opened_at, logs[row.id]
        )
        for row in requests
    ]


_REPLIES = frozenset({"reply", "ask", "resolve"})
_ACTIVE = frozenset({"open", "claimed"})
_STATUS_AFTER = {
    "opened": "open",
    "claim": "claimed",
    "reply": "claimed",
    "ask": "waiting",
    "resolve": "resolved",
    "transferred": "open",
    "reopened": "claimed",
    "confirmed": "closed",
    "closed": "closed",
}
"""Event kind → the status after it (others leave it as it was; a follow-up ends a wait)."""


def build_report(
    histories: Iterable[History],
    quarter: Period,
    now: datetime,
    calendar: WorkCalendar,
    district_of: dict[str, str],
) -> QuarterReport:
    """Count the quarter from the requests' logs.

    Args:
        histories: Every request with an event before the quarter's end that was not closed
            before its start (more does no harm: what falls outside counts nowhere).
        quarter: The quarter (or a year).
        now: The present; a quarter still running is counted up to it.
        calendar: The working-day calendar.
        district_of: Group id → district id, from the roster (unknown groups fall under "?").
    """
    report = QuarterReport(quarter, min(now, quarter.end))
    for history in histories:
        _tally(report, _replay(history, report, calendar), history, calendar, district_of)
    report.overdue.sort(key=lambda row: (row.due_date, row.number))
    return report


@dataclass(slots=True)
class _Replayed:
    """A request at the report's moment, and what of its quarter counts."""

    group: str = ""
    status: str = "open"
    due: date | None = None
    assignee: str | None = None
    resolver: str | None = None
    received_by: list[tuple[str, datetime]] = field(default_factory=list)
    first_reply: tuple[int, str, str] | None = None
    """Working days, group, commissioner."""
    resolution: tuple[datetime, str, str, bool] | None = None
    """The last in the quarter: when, group, commissioner, on time."""
    rating: tuple[int, str, str | None] | None = None
    """Stars, group, the commissioner who resolved it."""


def _replay(history: History, report: QuarterReport, calendar: WorkCalendar) -> _Replayed:
    """Play the log up to the report's moment."""
    state = _Replayed()
    replied = False
    for event in history.events:
        if event.at >= report.as_of:
            break
        inside = event.at >= report.quarter.start
        data = event.data or {}
        if event.kind in ("opened", "transferred"):
            state.group = str(data.get("group" if event.kind == "opened" else "to", state.group))
            state.due = _date(data.get("due_date")) or state.due
            state.assignee = None
            if inside:
                state.received_by.append((state.group, event.at))
        elif event.kind == "due_changed":
            state.due = _date(data.get("to")) or state.due
        elif event.kind == "reopened":
            state.resolution = None  # not resolved after all: the next resolution counts
        elif event.kind in ("claim", "reply", "ask", "resolve"):
            if state.assignee is None or event.kind == "claim":
                state.assignee = event.actor
            if event.kind in _REPLIES and not replied:
                replied = True
                if inside:
                    days = calendar.working_days_between(history.opened_at, event.at)
                    state.first_reply = (days, state.group, event.actor)
            if event.kind == "resolve":
                state.resolver = event.actor
                if inside:
                    on_time = state.due is not None and event.at < _deadline(state.due)
                    state.resolution = (event.at, state.group, event.actor, on_time)
        elif event.kind == "rated" and inside:
            stars = data.get("stars")
            if isinstance(stars, int):
                state.rating = (stars, state.group, state.resolver)
        if event.kind == "follow_up" and state.status == "waiting":
            state.status = "claimed"
        else:
            state.status = _STATUS_AFTER.get(event.kind, state.status)
    return state


def _tally(
    report: QuarterReport,
    state: _Replayed,
    history: History,
    calendar: WorkCalendar,
    district_of: dict[str, str],
) -> None:
    """Add one request's counts to every figure it belongs to."""
    rid = history.request_id

    def scopes(group_id: str, person: str | None = None) -> list[Figures]:
        found = [
            report.total,
            report.districts.setdefault(district_of.get(group_id, "?"), Figures()),
            report.groups.setdefault(group_id, Figures()),
        ]
        if person:
            found.append(report.commissioners.setdefault(person, Figures()))
        return found

    for group, received_at in state.received_by:
        report.received_at.setdefault(group, {}).setdefault(rid, received_at.timestamp())
        for figures in scopes(group):
            figures.received.add(rid)
            figures.categories.setdefault(history.category, set()).add(rid)
            figures.channels.setdefault(history.channel, set()).add(rid)
    if state.first_reply is not None:
        days, group, actor = state.first_reply
        for figures in scopes(group, actor):
            figures.first_reply_days[rid] = days
    if state.resolution is not None:
        at, group, actor, on_time = state.resolution
        days = calendar.working_days_between(history.opened_at, at)
        report.resolved_at[rid] = at.timestamp()
        for figures in scopes(group, actor):
            figures.resolved.add(rid)
            figures.resolve_days[rid] = days
            if on_time:
                figures.on_time.add(rid)
    if state.rating is not None:
        stars, group, resolver = state.rating
        for figures in scopes(group, resolver):
            figures.stars[rid] = stars
    if state.status == "waiting":
        for figures in scopes(state.group):
            figures.waiting.add(rid)
    due = state.due
    if state.status in _ACTIVE and due is not None and _deadline(due) <= report.as_of:
        for figures in scopes(state.group, state.assignee):
            figures.overdue.add(rid)
        late = calendar.working_days_between(_midnight(due), report.as_of)
        report.overdue.append(
            OverdueRequest(
                history.number,
                state.group,
                history.space_id,
                history.category,
                Status(state.status),
                due,
                late,
                state.assignee,
            )
        )


def _deadline(due: date) -> datetime:
    """24:00 of the due date, Asia/Shanghai, as UTC."""
    return _midnight(due + timedelta(days=1))


def _midnight(day: date) -> datetime:
    """00:00 of ``day`` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None
