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

import json
import math
import re
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SHANGHAI
from bot.domain.events import ACTING, REPLIES, EventKind, status_after
from bot.domain.lifecycle import Status
from bot.domain.workdays import WorkCalendar
from storage.reports import History, paused_gc, stream_histories

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "Figures",
    "OverdueRequest",
    "Period",
    "Quarter",
    "QuarterReport",
    "ReportBuilder",
    "Year",
    "build_report",
    "count_periods",
]

_ACTIVE = frozenset({Status.OPEN, Status.CLAIMED})


FIRST_YEAR = 2000
LAST_YEAR = 2100
"""The years a report may count. The service began long after 2000 (its rules are of 2015),
and 2100 is further ahead than anyone will ask. Within them every quarter is written with four
digits and reads back the same (the outbox keeps reports as ``report:2026Q4:…``), the days
around a quarter or year exist (``date`` ends at 9999), and Asia/Shanghai is +08:00 without
summer time (which it last had in 1991)."""


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(
            f"no report for the year {year}: only {FIRST_YEAR} to {LAST_YEAR} (write it as 2026Q4)"
        )


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

    def __post_init__(self) -> None:
        """Check that it is a quarter of the years :data:`FIRST_YEAR` to :data:`LAST_YEAR`.

        Raises:
            ValueError: It is not.
        """
        _check_year(self.year)
        if not 1 <= self.number <= 4:
            raise ValueError(f"no quarter {self.number}: only 1 to 4 (write it as 2026Q4)")

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q4`` (or ``2026-Q4``, ``2026q4``) as a quarter, of the years 2000 to 2100.

        Raises:
            ValueError: Not a quarter, or not of those years.
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

    def __post_init__(self) -> None:
        """Check that it is one of the years :data:`FIRST_YEAR` to :data:`LAST_YEAR`.

        Raises:
            ValueError: It is not.
        """
        _check_year(self.year)

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
        return _median_p90(self.first_reply_days.values())

    def resolution(self) -> tuple[float | None, int | None]:
        """Median and 90th percentile of working days to the resolution."""
        return _median_p90(self.resolve_days.values())


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
    received_at: dict[str, dict[int, float]] = field(default_factory=dict)
    """Group → request → when it first reached the group in the quarter (POSIX timestamps),
    for the weekly volume."""
    resolved_at: dict[int, float] = field(default_factory=dict)
    """Request → when its resolution that counts came (a POSIX timestamp)."""


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
    builder = ReportBuilder(quarter, now, calendar, district_of)
    with paused_gc():
        builder.add(histories)
        return builder.finish()


async def count_periods(
    session: AsyncSession,
    periods: Sequence[Period],
    now: datetime,
    calendar: WorkCalendar,
    district_of: dict[str, str],
) -> list[QuarterReport]:
    """The reports of ``periods`` (a quarter, or the quarters and year of the archive).

    One pass over the requests of the span the periods cover: each chunk read is counted for
    every period while the database reads the next (what :func:`build_report` does over
    :func:`~storage.reports.histories`, without waiting for all of them first).

    Args:
        session: Where to read.
        periods: The periods to count.
        now: The present; a period still running is counted up to it.
        calendar: The working-day calendar.
        district_of: Group id → district id, from the roster.
    """
    builders = [ReportBuilder(period, now, calendar, district_of) for period in periods]
    start = min(period.start for period in periods)
    end = max(period.end for period in periods)
    with paused_gc():
        async for chunk in stream_histories(session, start, end):
            for builder in builders:
                builder.add(chunk)
        return [builder.finish() for builder in builders]


class ReportBuilder:
    """A report counted a chunk of histories at a time (:func:`build_report` in one go).

    Each log is replayed up to the report's moment. What a log counts depends only on the kinds
    of its events and on where the quarter's start and the report's moment cut it, so that is
    worked out once per distinct log shape (:class:`_Shape`: 2,433 in a million requests) and
    each request only looks up the values at the positions its shape names. Counts are
    gathered in lists by group and commissioner and poured into the figures' sets at the end.
    """

    def __init__(
        self, quarter: Period, now: datetime, calendar: WorkCalendar, district_of: dict[str, str]
    ) -> None:
        """Start an empty report; see :func:`build_report` for the arguments."""
        self._report = QuarterReport(quarter, min(now, quarter.end))
        self._start = quarter.start.timestamp()
        self._as_of = self._report.as_of.timestamp()
        self._calendar = calendar
        self._district_of = district_of
        self._workdays = _WorkdayCount(
            calendar, quarter.first_day.year - 1, self._report.as_of.year
        )
        self._shapes: dict[tuple[str, int, int], _Shape] = {}
        self._data: dict[str, dict[str, object]] = {}
        # Per data key, per JSON text: what it names (None: nothing).
        self._groups: dict[str, dict[str | None, object]] = {}
        self._dues: dict[str, dict[str | None, object]] = {}
        self._opening_group: dict[str | None, str] = {}
        self._opening_due: dict[str | None, tuple[date, float]] = {}
        self._stars: dict[str | None, int] = {}
        self._late: dict[date, int] = {}
        self._tallies = _Tallies()

    # One loop over a million requests: a helper call per request costs more than it reads.
    def add(self, histories: Iterable[History]) -> None:  # noqa: PLR0915
        """Replay and count these requests (each request once over all calls)."""
        start, as_of = self._start, self._as_of
        shapes, tallies, new, new_map = self._shapes, self._tallies, self._new, self._new_map
        received, categories = tallies.received, tallies.categories
        firsts, resolutions, on_time = tallies.first_replies, tallies.resolutions, tallies.on_time
        ratings, resolved_at = tallies.ratings, self._report.resolved_at
        group_at, due_at = self._group, self._due
        # What the openings' data say, by text: almost every log's group and due date.
        opening_group, opening_due, stars_of = self._opening_group, self._opening_due, self._stars
        workdays = self._workdays
        bounds, counts, days = workdays.table()
        for history in histories:
            rid, _, category, _, opened_at, kinds, times, values = history
            if not times:
                continue
            cut = len(times) if times[-1] < as_of else bisect_left(times, as_of)
            first_inside = 0 if times[0] >= start else bisect_left(times, start)
            shape = shapes.get((kinds, cut, first_inside))
            if shape is None:
                shape = _Shape.of(kinds.split(","), cut, first_inside)
                shapes[kinds, cut, first_inside] = shape
            if shape.counts_nothing:
                continue
            if shape.opening is not None:
                group = opening_group.get(values[shape.opening])
                groups = [group if group is not None else group_at(values, shape.groups[0])]
            else:
                groups = [group_at(values, chain) for chain in shape.groups]
            for at, g in shape.received:
                group = groups[g]
                # The first time it reached the group counts for the week it came in.
                (received.get(group) or new_map(received, group, group)).setdefault(rid, times[at])
                of_kind = (group, category)
                (categories.get(of_kind) or new(categories, of_kind, group)).append(rid)
            if shape.first_reply is not None or shape.resolution is not None:
                # Working days from the opening: differences of counts up to each day.
                moment = opened_at.timestamp()
                day = bisect_right(bounds, moment) - 1
                if not 0 <= day < days:
                    bounds, counts, days = workdays.table(moment)
                    day = bisect_right(bounds, moment) - 1
                opened = counts[day]
                if shape.first_reply is not None:
                    at, g = shape.first_reply
                    day = bisect_right(bounds, times[at]) - 1
                    if not 0 <= day < days:
                        bounds, counts, days = workdays.table(times[at])
                        day = bisect_right(bounds, times[at]) - 1
                    scope = (groups[g], values[at] or None)
                    spent = counts[day] - opened
                    (firsts.get(scope) or new_map(firsts, scope, *scope))[rid] = (
                        spent if spent > 0 else 0
                    )
                if shape.resolution is not None:
                    at, g, d = shape.resolution
                    day = bisect_right(bounds, times[at]) - 1
                    if not 0 <= day < days:
                        bounds, counts, days = workdays.table(times[at])
                        day = bisect_right(bounds, times[at]) - 1
                    scope = (groups[g], values[at] or None)
                    spent = counts[day] - opened
                    (resolutions.get(scope) or new_map(resolutions, scope, *scope))[rid] = (
                        spent if spent > 0 else 0
                    )
                    resolved_at[rid] = times[at]
                    due = (
                        opening_due.get(values[shape.opening_due])
                        if shape.opening_due is not None
                        else None
                    ) or due_at(values, shape.dues[d])
                    if due is not None and times[at] < due[1]:
                        on_time.setdefault(scope, []).append(rid)
            if shape.ratings:
                at, g, by = shape.ratings[0]
                stars = stars_of.get(values[at])
                if stars is None:
                    self._rate(rid, shape, values, groups)
                else:
                    scope = (groups[g], None if by < 0 else values[by] or None)
                    (ratings.get(scope) or new_map(ratings, scope, *scope))[rid] = stars
            if shape.stands:
                self._stands(history, shape, groups)

    def _new(
        self, table: dict[_K, list[int]], key: _K, group: str, person: str | None = None
    ) -> list[int]:
        """An empty list for ``table[key]``, noting whom a count touches first.

        Callers write ``table.get(key) or new(…)``: an entry is never left empty.
        """
        found: list[int] = []
        table[key] = found
        self._touch(group, person)
        return found

    def _new_map(
        self, table: dict[_K, dict[int, _V]], key: _K, group: str, person: str | None = None
    ) -> dict[int, _V]:
        """An empty dict for ``table[key]``, as :meth:`_new`."""
        found: dict[int, _V] = {}
        table[key] = found
        self._touch(group, person)
        return found

    def _touch(self, group: str, person: str | None) -> None:
        scope = (group, person)
        if scope not in self._tallies.seen:
            self._tallies.seen.add(scope)
            self._tallies.touched.append(scope)

    def finish(self) -> QuarterReport:
        """The report, with everything added so far."""
        report, tallies = self._report, self._tallies
        scopes: dict[tuple[str, str | None], list[Figures]] = {}
        # The districts, groups and commissioners appear in the order the requests first
        # touched them, as they did when each request was counted on its own.
        for group, person in tallies.touched:
            found = [
                report.total,
                report.districts.setdefault(self._district_of.get(group, "?"), Figures()),
                report.groups.setdefault(group, Figures()),
            ]
            if person:
                found.append(report.commissioners.setdefault(person, Figures()))
            scopes[group, person] = found
        # Merging a set or dict into another takes its size and hashes at once: each is built
        # from the gathered list once, then merged into every figure it counts for.
        for group, received in tallies.received.items():
            ids = set(received)
            for figures in scopes[group, None]:
                figures.received.update(ids)
        for (group, category), of_kind in tallies.categories.items():
            ids = set(of_kind)
            for figures in scopes[group, None]:
                figures.categories.setdefault(category, set()).update(ids)
        for key, days in tallies.first_replies.items():
            for figures in scopes[key]:
                figures.first_reply_days.update(days)
        for key, days in tallies.resolutions.items():
            on_time = set(tallies.on_time.get(key, ()))
            for figures in scopes[key]:
                figures.resolved.update(days)
                figures.resolve_days.update(days)
                figures.on_time.update(on_time)
        for key, stars in tallies.ratings.items():
            for figures in scopes[key]:
                figures.stars.update(stars)
        for group, waiting in tallies.waiting.items():
            ids = set(waiting)
            for figures in scopes[group, None]:
                figures.waiting.update(ids)
        for key, overdue in tallies.overdue.items():
            ids = set(overdue)
            for figures in scopes[key]:
                figures.overdue.update(ids)
        report.overdue.sort(key=lambda row: (row.due_date, row.number))
        for group, received in tallies.received.items():
            report.received_at.setdefault(group, {}).update(received)
        self._tallies = _Tallies()
        return report

    def _rate(
        self, rid: int, shape: _Shape, values: Sequence[str | None], groups: list[str]
    ) -> None:
        for at, g, by in shape.ratings:
            stars = self._parsed(values[at]).get("stars")
            if isinstance(stars, int):
                self._stars[values[at]] = stars
                scope = (groups[g], None if by < 0 else values[by] or None)
                ratings = self._tallies.ratings
                (ratings.get(scope) or self._new_map(ratings, scope, *scope))[rid] = stars
                return

    def _stands(self, history: History, shape: _Shape, groups: list[str]) -> None:
        """Count a request waiting on the entrepreneur, or overdue, at the report's moment."""
        group = groups[shape.group]
        if shape.status == Status.WAITING:
            waiting = self._tallies.waiting
            (waiting.get(group) or self._new(waiting, group, group)).append(history.request_id)
            return
        due = self._due(history.values, shape.dues[shape.due])
        if due is not None and due[1] <= self._as_of:
            self._overdue(history, shape, group, due[0])

    def _overdue(self, history: History, shape: _Shape, group: str, due: date) -> None:
        assignee = None if shape.assignee < 0 else history.values[shape.assignee]
        scope = (group, assignee or None)
        overdue = self._tallies.overdue
        (overdue.get(scope) or self._new(overdue, scope, *scope)).append(history.request_id)
        late = self._late.get(due)
        if late is None:
            late = self._late[due] = self._calendar.working_days_between(
                _midnight(due), self._report.as_of
            )
        self._report.overdue.append(
            OverdueRequest(
                history.number,
                group,
                history.space_id,
                history.category,
                shape.status,
                due,
                late,
                assignee,
            )
        )

    def _parsed(self, text: str | None) -> dict[str, object]:
        """An event's data; the same few texts recur, so each is parsed once."""
        if text is None:
            return _NO_DATA
        found = self._data.get(text)
        if found is None:
            value = json.loads(text)
            found = self._data[text] = value if isinstance(value, dict) else _NO_DATA
        return found

    def _group(self, values: Sequence[str | None], chain: _Chain) -> str:
        """The group named by the newest event of ``chain`` that names one."""
        for at, key in chain:
            named = self._groups.setdefault(key, {})
            text = values[at]
            group = named.get(text, _UNKNOWN)
            if group is _UNKNOWN:
                data = self._parsed(text)
                group = named[text] = str(data[key]) if key in data else None
                if key == "group" and isinstance(group, str):
                    self._opening_group[text] = group
            if group is not None:
                return str(group)
        return ""

    def _due(self, values: Sequence[str | None], chain: _Chain) -> tuple[date, float] | None:
        """The due date set by the newest event of ``chain`` that sets one, and its deadline."""
        for at, key in chain:
            dated = self._dues.setdefault(key, {})
            text = values[at]
            due = dated.get(text, _UNKNOWN)
            if due is _UNKNOWN:
                value = self._parsed(text).get(key)
                due = None
                if isinstance(value, str):
                    day = date.fromisoformat(value)
                    due = (day, _deadline(day).timestamp())
                    if key == "due_date":
                        self._opening_due[text] = due
                dated[text] = due
            if due is not None:
                return due  # type: ignore[return-value]
        return None


_UNKNOWN = object()
_NO_DATA: dict[str, object] = {}
_Chain = tuple[tuple[int, str], ...]
"""Positions of the events that may set a value (a group, a due date), newest first, each with
the key of its data that holds the value; the first that holds one wins."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a log of given kinds counts, cut at the report's moment: positions, not values."""

    groups: tuple[_Chain, ...]
    """The distinct group chains the fields below refer to by index."""
    dues: tuple[_Chain, ...]
    """The distinct due-date chains the fields below refer to by index."""
    received: tuple[tuple[int, int], ...]
    """Each opening or transfer in the quarter: its position and group chain."""
    first_reply: tuple[int, int] | None
    """The first reply (position, group chain), if it came in the quarter."""
    resolution: tuple[int, int, int] | None
    """The resolution that counts (position, group chain, due chain at that moment)."""
    ratings: tuple[tuple[int, int, int], ...]
    """The ratings of the quarter, newest first: position, group chain, position of the
    resolution before it (-1: none). The newest with whole stars counts."""
    status: str
    group: int
    """The group chain at the report's moment."""
    due: int
    """The due-date chain at the report's moment."""
    assignee: int
    """Position of the event whose actor holds the request at the report's moment (-1: none)."""
    counts_nothing: bool
    stands: bool
    """Waiting on the entrepreneur or being worked on at the report's moment."""
    opening: int | None
    """The position of the only event naming a group, if an opening: the common case."""
    opening_due: int | None
    """The position of the only event dating the resolution that counts, if an opening."""

    @classmethod
    def of(cls, kinds: Sequence[str], cut: int, first_inside: int) -> _Shape:
        """Replay ``kinds[:cut]``; the events from ``first_inside`` on are in the quarter."""
        groups: list[_Chain] = []
        dues: list[_Chain] = []

        def index(chains: list[_Chain], chain: _Chain) -> int:
            if chain not in chains:
                chains.append(chain)
            return chains.index(chain)

        group: _Chain = ()
        due: _Chain = ()
        status = Status.OPEN
        assignee = resolver = -1
        replied = False
        received: list[tuple[int, int]] = []
        first_reply: tuple[int, int] | None = None
        resolution: tuple[int, int, int] | None = None
        ratings: list[tuple[int, int, int]] = []
        for at, kind in enumerate(kinds[:cut]):
            inside = at >= first_inside
            if kind in (EventKind.OPENED, EventKind.TRANSFERRED):
                group = ((at, "group" if kind == EventKind.OPENED else "to"), *group)
                due = ((at, "due_date"), *due)
                assignee = -1
                if inside:
                    received.append((at, index(groups, group)))
            elif kind == EventKind.DUE_CHANGED:
                due = ((at, "to"), *due)
            elif kind == EventKind.REOPENED:
                resolution = None  # not resolved after all: the next resolution counts
            elif kind in ACTING:
                if assignee < 0 or kind == EventKind.CLAIM:
                    assignee = at  # as the desk assigns: the first to act, or a claim
                if kind in REPLIES and not replied:
                    replied = True
                    if inside:
                        first_reply = (at, index(groups, group))
                if kind == EventKind.RESOLVE:
                    resolver = at
                    if inside:
                        resolution = (at, index(groups, group), index(dues, due))
            elif kind == EventKind.RATED and inside:
                ratings.append((at, index(groups, group), resolver))
            status = status_after(kind, status)
        final_group, final_due = index(groups, group), index(dues, due)
        return cls(
            groups=tuple(groups),
            dues=tuple(dues),
            received=tuple(received),
            first_reply=first_reply,
            resolution=resolution,
            ratings=tuple(reversed(ratings)),
            status=status,
            group=final_group,
            due=final_due,
            assignee=assignee,
            counts_nothing=not (received or first_reply or resolution or ratings)
            and status not in (Status.WAITING, *_ACTIVE),
            stands=status in (Status.WAITING, *_ACTIVE),
            opening=_opening(groups, "group"),
            opening_due=None
            if resolution is None
            else _opening((dues[resolution[2]],), "due_date"),
        )


def _opening(chains: Sequence[_Chain], key: str) -> int | None:
    """The position of the event in ``chains`` if that is one event, read by ``key``."""
    if len(chains) == 1 and len(chains[0]) == 1 and chains[0][0][1] == key:
        return chains[0][0][0]
    return None


@dataclass(slots=True)
class _Tallies:
    """What the requests counted, gathered by group (and commissioner) until the end."""

    received: dict[str, dict[int, float]] = field(default_factory=dict)
    """Request → when it first reached the group, by group."""
    categories: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    first_replies: dict[tuple[str, str | None], dict[int, int]] = field(default_factory=dict)
    """Request → working days, by group and commissioner."""
    resolutions: dict[tuple[str, str | None], dict[int, int]] = field(default_factory=dict)
    """Request → working days, by group and commissioner."""
    on_time: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    ratings: dict[tuple[str, str | None], dict[int, int]] = field(default_factory=dict)
    """Request → stars, by group and the commissioner who resolved it."""
    waiting: dict[str, list[int]] = field(default_factory=dict)
    overdue: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    touched: list[tuple[str, str | None]] = field(default_factory=list)
    """Each group (and commissioner) the first time something was counted for it."""
    seen: set[tuple[str, str | None]] = field(default_factory=set)


_K = TypeVar("_K")
_V = TypeVar("_V")


class _WorkdayCount:
    """Working days counted up to each Shanghai date: a bisection, not a calendar walk.

    ``working_days_between(a, b)`` is ``max(0, count(b) - count(a))``, ``count(t)`` being the
    working days from a fixed origin through the date of ``t``. The table covers whole years,
    the quarter's from the start, and grows when a moment falls outside it; counts from tables
    before and after growing can be mixed, as they share the origin.
    """

    _ORIGIN = date(2000, 1, 1)

    def __init__(self, calendar: WorkCalendar, first_year: int, last_year: int) -> None:
        self._calendar = calendar
        self._years = (first_year, last_year)
        self._bounds: list[float] = []
        """Shanghai midnights (POSIX), one per day, and the one after the last day."""
        self._counts: list[int] = []
        self._build()

    def table(self, moment: float | None = None) -> tuple[list[float], list[int], int]:
        """The midnights, the counts through each day, and the days covered.

        Args:
            moment: A moment the table must cover (it grows to take it in).
        """
        if moment is not None:
            year = datetime.fromtimestamp(moment, SHANGHAI).year
            first, last = self._years
            if not first <= year <= last:
                self._years = (min(first, year), max(last, year))
                self._build()
        return self._bounds, self._counts, len(self._counts)

    def _build(self) -> None:
        first, last = self._years
        day, end = date(first, 1, 1), date(last + 1, 1, 1)
        # The count through the day before the table's first: negative before the origin.
        origin, before = _midnight(self._ORIGIN), _midnight(day - timedelta(days=1))
        total = (
            self._calendar.working_days_between(origin, before)
            if before >= origin
            else -self._calendar.working_days_between(before, origin)
        )
        bounds, counts = [], []
        while day < end:
            bounds.append(_midnight(day).timestamp())
            total += self._calendar.is_workday(day)
            counts.append(total)
            day += timedelta(days=1)
        bounds.append(_midnight(end).timestamp())
        self._bounds, self._counts = bounds, counts


def _deadline(due: date) -> datetime:
    """24:00 of the due date, Asia/Shanghai, as UTC."""
    return _midnight(due + timedelta(days=1))


def _midnight(day: date) -> datetime:
    """00:00 of ``day`` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _median_p90(values: Iterable[int]) -> tuple[float | None, int | None]:
    """The median, and the 90th percentile by nearest rank (the smallest value at or above 90%).

    Counted rather than sorted: there may be a million values, of a few dozen distinct days.
    """
    counts = Counter(values)
    size = counts.total()
    if not size:
        return None, None
    ordered = sorted(counts.items())

    def nth(rank: int) -> int:
        """The value at ``rank`` (from 0) in sorted order."""
        for value, many in ordered:
            if rank < many:
                return value
            rank -= many
        raise IndexError(rank)

    middle = size // 2
    median = nth(middle) if size % 2 else (nth(middle - 1) + nth(middle)) / 2
    return float(median), nth(max(0, math.ceil(0.9 * size) - 1))
