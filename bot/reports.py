"""The Article 8 quarterly report (季报): each district's, group's and commissioner's figures.

Every figure is counted from the requests' event log (``request_events``), replayed up to the
report's moment (the end of the quarter, or now while it runs). The rules, as supervisors read
them:

* A request belongs, at any moment, to the group that holds it: the group it was opened for,
  then each group it was transferred to. Each figure goes to the group holding the request when
  the counted thing happened, and to that group's district.
* **Received**: requests that reached the group in the quarter (opened for it, or transferred to
  it). A district or the whole report counts each request once.
* **Resolved**: requests resolved in the quarter and not reopened since; one resolved twice
  (reopened in between) counts once, by its last resolution. **On time**: that resolution came
  before the deadline in force then (24:00 of the due date, Asia/Shanghai; the due date moves
  with waits on the entrepreneur).
* **Overdue** and **waiting on the entrepreneur**: where the requests stand at the report's
  moment. Overdue means open or in progress past the deadline (a wait stops the clock).
* **Working days** to the first reply (a reply, a question or the resolution) and to the
  resolution, from the opening, by the calendar with its make-up days: the median and the 90th
  percentile (nearest rank) over the replies and resolutions of the quarter.
* **Satisfaction**: the stars given in the quarter (a request's last rating), the mean and how
  many.
* A commissioner is credited with the replies and resolutions they gave, the ratings of requests
  they resolved, and the overdue requests assigned to them.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot.clock import SHANGHAI
from bot.workdays import WorkCalendar
from storage.reports import History

__all__ = [
    "Figures",
    "OverdueRequest",
    "Period",
    "Quarter",
    "QuarterReport",
    "Year",
    "build_report",
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


class _Span:
    """A stretch of whole days in Asia/Shanghai, from ``first_day`` to ``next_first_day``."""

    __slots__ = ()

    @property
    def first_day(self) -> date:
        """Its first day."""
        raise NotImplementedError

    @property
    def next_first_day(self) -> date:
        """The first day after it."""
        raise NotImplementedError

    @property
    def start(self) -> datetime:
        """Its first moment (UTC)."""
        return _midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The first moment after it (UTC)."""
        return _midnight(self.next_first_day)


@dataclass(frozen=True, slots=True)
class Quarter(_Span):
    """A calendar quarter in Asia/Shanghai, such as ``2026Q4``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q4`` (or ``2026-Q4``, ``2026q4``) as a quarter.

        Raises:
            ValueError: Not a quarter.
        """
        found = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text.strip())
        if not found:
            raise ValueError(f"not a quarter: {text!r} (write it as 2026Q4)")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Quarter:
        """The quarter ``moment`` falls in (Asia/Shanghai)."""
        day = moment.astimezone(SHANGHAI).date()
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        """Its first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next_first_day(self) -> date:
        """The first day of the next quarter."""
        return (
            date(self.year + 1, 1, 1)
            if self.number == 4
            else date(self.year, 3 * self.number + 1, 1)
        )

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        """``2026年第四季度``."""
        return f"{self.year}年第{'一二三四'[self.number - 1]}季度"


@dataclass(frozen=True, slots=True)
class Year(_Span):
    """A calendar year in Asia/Shanghai: the performance archive's whole-year column."""

    year: int

    @property
    def first_day(self) -> date:
        """January 1st."""
        return date(self.year, 1, 1)

    @property
    def next_first_day(self) -> date:
        """January 1st of the next year."""
        return date(self.year + 1, 1, 1)

    def quarters(self) -> list[Quarter]:
        """Its four quarters."""
        return [Quarter(self.year, n) for n in range(1, 5)]

    def __str__(self) -> str:
        return str(self.year)

    @property
    def label(self) -> str:
        """``2026年全年``."""
        return f"{self.year}年全年"


Period = Quarter | Year
"""What a report counts: a quarter, or a whole year (the archive)."""


@dataclass(slots=True)
class Figures:
    """The counts of one district, group or commissioner (or of the whole report)."""

    received: set[int] = field(default_factory=set)
    resolved: set[int] = field(default_factory=set)
    on_time: set[int] = field(default_factory=set)
    overdue: set[int] = field(default_factory=set)
    waiting: set[int] = field(default_factory=set)
    first_reply_days: dict[int, int] = field(default_factory=dict)
    """Request → working days from opening to its first reply (replied in the quarter)."""
    resolve_days: dict[int, int] = field(default_factory=dict)
    """Request → working days from opening to its resolution (resolved in the quarter)."""
    stars: dict[int, int] = field(default_factory=dict)
    """Request → its last rating in the quarter."""
    categories: dict[str, set[int]] = field(default_factory=dict)
    """Category → the requests received."""
    received_at: dict[int, datetime] = field(default_factory=dict)
    """Request → when it first reached this scope in the quarter (for the weekly volume)."""
    resolved_at: dict[int, datetime] = field(default_factory=dict)
    """Request → when its counted resolution came."""

    @property
    def on_time_rate(self) -> float | None:
        """Share of the resolved that were on time; ``None`` with nothing resolved."""
        return len(self.on_time) / len(self.resolved) if self.resolved else None

    @property
    def satisfaction(self) -> float | None:
        """Mean stars; ``None`` without ratings."""
        return statistics.fmean(self.stars.values()) if self.stars else None

    def first_reply(self) -> tuple[float | None, int | None]:
        """Median and 90th percentile of working days to the first reply."""
        return _median(self.first_reply_days.values()), _p90(self.first_reply_days.values())

    def resolution(self) -> tuple[float | None, int | None]:
        """Median and 90th percentile of working days to the resolution."""
        return _median(self.resolve_days.values()), _p90(self.resolve_days.values())


@dataclass(frozen=True, slots=True)
class OverdueRequest:
    """A request past its deadline at the report's moment."""

    number: str
    group_id: str
    space_id: str
    category: str
    status: str
    due_date: date
    workdays_late: int
    assignee: str | None


@dataclass(slots=True)
class QuarterReport:
    """Everything the report shows."""

    quarter: Period
    """The period counted (a quarter, or the year of the archive)."""
    as_of: datetime
    total: Figures = field(default_factory=Figures)
    districts: dict[str, Figures] = field(default_factory=dict)
    groups: dict[str, Figures] = field(default_factory=dict)
    commissioners: dict[str, Figures] = field(default_factory=dict)
    """Keyed by the commissioner as ``channel:user_id``."""
    overdue: list[OverdueRequest] = field(default_factory=list)


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
    """Each group it reached in the quarter, and when."""
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
                state.assignee = event.actor  # as the desk assigns: the first to act, or a claim
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

    for group, at in state.received_by:
        for figures in scopes(group):
            figures.received.add(rid)
            figures.received_at.setdefault(rid, at)
            figures.categories.setdefault(history.category, set()).add(rid)
    if state.first_reply is not None:
        days, group, actor = state.first_reply
        for figures in scopes(group, actor):
            figures.first_reply_days[rid] = days
    if state.resolution is not None:
        at, group, actor, on_time = state.resolution
        days = calendar.working_days_between(history.opened_at, at)
        for figures in scopes(group, actor):
            figures.resolved.add(rid)
            figures.resolve_days[rid] = days
            figures.resolved_at[rid] = at
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
                state.status,
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


def _median(values: Iterable[int]) -> float | None:
    ordered = sorted(values)
    return float(statistics.median(ordered)) if ordered else None


def _p90(values: Iterable[int]) -> int | None:
    """The 90th percentile by nearest rank: the smallest value at or above 90% of them."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
