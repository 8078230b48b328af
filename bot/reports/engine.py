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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SHANGHAI
from bot.domain.lifecycle import Status
from bot.domain.workdays import WorkCalendar
from bot.reports.figures import Figures, OverdueRequest, QuarterReport
from bot.reports.period import Period, midnight
from bot.reports.replay import Chain, Shape
from storage.reports import History, paused_gc, stream_histories

__all__ = ["ReportBuilder", "build_report", "count_periods"]


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
    worked out once per distinct log shape (:class:`Shape`: 2,433 in a million requests) and
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
        self._shapes: dict[tuple[str, int, int], Shape] = {}
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
        received, categories, channels = tallies.received, tallies.categories, tallies.channels
        firsts, resolutions, on_time = tallies.first_replies, tallies.resolutions, tallies.on_time
        ratings, resolved_at = tallies.ratings, self._report.resolved_at
        group_at, due_at = self._group, self._due
        # What the openings' data say, by text: almost every log's group and due date.
        opening_group, opening_due, stars_of = self._opening_group, self._opening_due, self._stars
        workdays = self._workdays
        bounds, counts, days = workdays.table()
        for history in histories:
            rid, _, category, _, channel, opened_at, kinds, times, values = history
            if not times:
                continue
            cut = len(times) if times[-1] < as_of else bisect_left(times, as_of)
            first_inside = 0 if times[0] >= start else bisect_left(times, start)
            shape = shapes.get((kinds, cut, first_inside))
            if shape is None:
                shape = Shape.of(kinds.split(","), cut, first_inside)
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
                came_in = (group, channel)
                (channels.get(came_in) or new(channels, came_in, group)).append(rid)
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
        for (group, channel), came_in in tallies.channels.items():
            ids = set(came_in)
            for figures in scopes[group, None]:
                figures.channels.setdefault(channel, set()).update(ids)
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
        self, rid: int, shape: Shape, values: Sequence[str | None], groups: list[str]
    ) -> None:
        for at, g, by in shape.ratings:
            stars = self._parsed(values[at]).get("stars")
            if isinstance(stars, int):
                self._stars[values[at]] = stars
                scope = (groups[g], None if by < 0 else values[by] or None)
                ratings = self._tallies.ratings
                (ratings.get(scope) or self._new_map(ratings, scope, *scope))[rid] = stars
                return

    def _stands(self, history: History, shape: Shape, groups: list[str]) -> None:
        """Count a request waiting on the entrepreneur, or overdue, at the report's moment."""
        group = groups[shape.group]
        if shape.status == Status.WAITING:
            waiting = self._tallies.waiting
            (waiting.get(group) or self._new(waiting, group, group)).append(history.request_id)
            return
        due = self._due(history.values, shape.dues[shape.due])
        if due is not None and due[1] <= self._as_of:
            self._overdue(history, shape, group, due[0])

    def _overdue(self, history: History, shape: Shape, group: str, due: date) -> None:
        assignee = None if shape.assignee < 0 else history.values[shape.assignee]
        scope = (group, assignee or None)
        overdue = self._tallies.overdue
        (overdue.get(scope) or self._new(overdue, scope, *scope)).append(history.request_id)
        late = self._late.get(due)
        if late is None:
            late = self._late[due] = self._calendar.working_days_between(
                midnight(due), self._report.as_of
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

    def _group(self, values: Sequence[str | None], chain: Chain) -> str:
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

    def _due(self, values: Sequence[str | None], chain: Chain) -> tuple[date, float] | None:
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


@dataclass(slots=True)
class _Tallies:
    """What the requests counted, gathered by group (and commissioner) until the end."""

    received: dict[str, dict[int, float]] = field(default_factory=dict)
    """Request → when it first reached the group, by group."""
    categories: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    channels: dict[tuple[str, str], list[int]] = field(default_factory=dict)
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
        origin, before = midnight(self._ORIGIN), midnight(day - timedelta(days=1))
        total = (
            self._calendar.working_days_between(origin, before)
            if before >= origin
            else -self._calendar.working_days_between(before, origin)
        )
        bounds, counts = [], []
        while day < end:
            bounds.append(midnight(day).timestamp())
            total += self._calendar.is_workday(day)
            counts.append(total)
            day += timedelta(days=1)
        bounds.append(midnight(end).timestamp())
        self._bounds, self._counts = bounds, counts


def _deadline(due: date) -> datetime:
    """24:00 of the due date, Asia/Shanghai, as UTC."""
    return midnight(due + timedelta(days=1))


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None
