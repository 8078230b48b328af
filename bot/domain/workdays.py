"""Working days and deadlines (Article 7: feedback within 10 working days).

Every date rule is decided on the Asia/Shanghai date; every timestamp in and out is
timezone-aware and comes back in UTC. The opening day never counts: the due date is the N-th
working day after it, and the deadline is 24:00 Shanghai time of the due date.

Which days are working days, in order of precedence:

1. the admins' override file (``BOT_CALENDAR``), which wins over everything below;
2. the State Council's yearly arrangement, make-up working weekends (调休) included, as the
   ``chinese-calendar`` package knows it;
3. for a year neither of those knows (today: 2027), an estimate from the statutory holidays
   alone — see :func:`estimated_holidays`. Any due date that depends on an estimated day is
   *provisional* (shown as "预计") until the year becomes known.

A year is *known* when ``chinese-calendar`` covers it or the override file declares it complete.
The override file's format, and how its faults are told, are in :mod:`bot.domain.workday_overrides`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
from lunardate import LunarDate  # type: ignore[import-untyped]  # annotated, but no py.typed

from bot.clock import SHANGHAI
from bot.domain.workday_overrides import PACKAGE_YEARS, read_overrides

__all__ = [
    "DEFAULT_WORKDAYS",
    "Due",
    "WorkCalendar",
    "end_of_day",
    "estimated_holidays",
    "shanghai_date",
]

DEFAULT_WORKDAYS = 10
"""Article 7: a commissioner feeds back within 10 working days unless the category says other."""


@dataclass(frozen=True, slots=True)
class Due:
    """When a request opened at ``opened_at`` must have its result.

    Attributes:
        opened_at: The opening, in UTC.
        due_date: The last working day allowed (Shanghai date).
        deadline: 24:00 Shanghai time of ``due_date`` (00:00 of the next day), in UTC.
        provisional: Whether a day from the opening to the due date lies in a year the
            calendar only estimates; show it as "预计" and recompute once the year is known.
    """

    opened_at: datetime
    due_date: date
    deadline: datetime
    provisional: bool


def shanghai_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware ``moment``.

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """24:00 Shanghai time of ``day`` (00:00 of the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)


def estimated_holidays(year: int) -> frozenset[date]:
    """The days off of ``year`` under the statutory rules alone, without the yearly arrangement.

    The national holidays as revised in 2024 (全国年节及纪念日放假办法): 元旦 1 January; 春节
    除夕 through 正月初三; 清明 (the solar term); 劳动节 1–2 May; 端午 (lunar 5/5); 中秋
    (lunar 8/15); 国庆 1–3 October. A holiday that falls on a Saturday or Sunday is made up on
    the next weekday that is not already off, as the rules require (补假). The make-up working
    weekends (调休) are unknowable until announced and are not guessed.

    The lunar and solar-term dates are computed for 2000–2099; outside those years only the
    fixed-date holidays are returned.
    """
    days = {date(year, 1, 1), date(year, 5, 1), date(year, 5, 2)}
    days.update(date(year, 10, day) for day in (1, 2, 3))
    if 2000 <= year <= 2099:
        days.add(_qingming(year))
        spring = LunarDate(year, 1, 1).to_solar_date()
        days.update(spring + timedelta(days=offset) for offset in range(-1, 3))
        days.add(LunarDate(year, 5, 5).to_solar_date())
        days.add(LunarDate(year, 8, 15).to_solar_date())
    off = set(days)
    for day in sorted(days):
        if day.weekday() >= 5:
            in_lieu = day + timedelta(days=1)
            while in_lieu.weekday() >= 5 or in_lieu in off:
                in_lieu += timedelta(days=1)
            off.add(in_lieu)
    return frozenset(off)


def _qingming(year: int) -> date:
    # The 寿星 formula for the 21st century, [Y*D + C] - [Y/4] with C = 4.81 for 清明; it agrees
    # with the astronomical dates for every year from 2000 to 2099.
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


@dataclass(frozen=True, slots=True)
class _Year:
    """One calendar year, precomputed so that every lookup is a set probe or a bisection."""

    known: bool
    workdays: tuple[int, ...]
    """Ordinals (``date.toordinal``) of the working days, ascending."""
    workday_set: frozenset[int]


class WorkCalendar:
    """Working days: the package's arrangement, then the admins' overrides; estimates beyond.

    Instances are immutable once built and safe to share; each year is computed on first use
    and cached, so recomputing many due dates costs a few microseconds each.

    Attributes:
        source: The override file the calendar was loaded from, if any.
    """

    def __init__(
        self,
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        known_years: Iterable[int] = (),
        source: Path | None = None,
    ) -> None:
        """Build a calendar from override days (none: the package and the estimate only).

        Args:
            holidays: Days that are not working days, whatever else says so.
            workdays: Days that are working days, whatever else says so.
            known_years: Years the overrides describe completely.
            source: The override file, for messages.

        Raises:
            ValueError: A day is both a holiday and a working day.
        """
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self._known_years = frozenset(known_years)
        self.source = source
        both = self._holidays & self._workdays
        if both:
            raise ValueError(f"days both off and working: {sorted(both)}")
        self._years: dict[int, _Year] = {}

    @classmethod
    def load(cls, path: Path | None) -> WorkCalendar:
        """The calendar with the overrides of the file at ``path`` (None: no overrides).

        Raises:
            bot.domain.workday_overrides.CalendarError: The file cannot be read or has faults;
                each names file and line.
        """
        if path is None:
            return cls()
        found = read_overrides(path)
        return cls(
            holidays=found.holidays,
            workdays=found.workdays,
            known_years=found.known_years,
            source=path,
        )

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` (a Shanghai date, not a datetime) is a working day."""
        return day.toordinal() in self._year(_plain(day).year).workday_set

    def is_known(self, day_or_year: date | int) -> bool:
        """Whether the day's (or the year's) working days are official rather than estimated."""
        year = day_or_year if isinstance(day_or_year, int) else _plain(day_or_year).year
        return self._year(year).known

    def unknown_years(self, within: tuple[date, date]) -> list[int]:
        """The years from ``within[0]`` to ``within[1]`` (inclusive) the calendar estimates."""
        first, last = within
        return [year for year in range(first.year, last.year + 1) if not self.is_known(year)]

    def next_workday(self, day: date) -> date:
        """The first working day after ``day``."""
        return date.fromordinal(self._nth_after(_plain(day).toordinal(), 1))

    def previous_workday(self, day: date) -> date:
        """The last working day before ``day``."""
        ordinal = _plain(day).toordinal()
        year = day.year
        while True:
            days = self._year(year).workdays
            index = bisect_left(days, ordinal)
            if index:
                return date.fromordinal(days[index - 1])
            year -= 1

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days elapsed from ``start`` to ``end``, the convention of due dates.

        The day of ``start`` does not count and the day of ``end`` does (Shanghai dates), so a
        request answered on its due date took exactly its N working days. Zero when ``end``
        falls on or before the day of ``start``.
        """
        return self._count(shanghai_date(start).toordinal(), shanghai_date(end).toordinal())

    def due(
        self,
        opened_at: datetime,
        days: int = DEFAULT_WORKDAYS,
        paused: Iterable[tuple[datetime, datetime | None]] = (),
        *,
        now: datetime | None = None,
    ) -> Due:
        """The due date and deadline of a request opened at ``opened_at``.

        The clock stands still while the request waits on the entrepreneur: a working day does
        not count if a pause began before that day's 24:00 (Shanghai) and ended after it. A
        question asked and answered the same day therefore changes nothing; asked on Monday and
        answered on Tuesday, it moves the due date one working day later.

        A pause still open (``end`` is None) is taken to end at ``now``: the result is the due
        date if the entrepreneur answered now, the earliest the request can be due. It moves on
        as the wait goes on, so callers should neither announce nor escalate on it while the
        request waits.

        Args:
            opened_at: When the request was opened (timezone-aware).
            days: Working days allowed, at least 1.
            paused: ``(start, end)`` stretches of waiting, in any order, end None while open.
            now: The current time; needed only when a pause is still open.

        Raises:
            ValueError: A naive timestamp, ``days`` below 1, a pause that ends before it
                starts, or an open pause without ``now``.
        """
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        opened_at = _utc(opened_at)
        start = shanghai_date(opened_at).toordinal()
        if paused:
            due = self._due_with_pauses(start, days, _lost_days(paused, now))
        else:
            due = self._nth_after(start, days)
        due_date = date.fromordinal(due)
        provisional = any(
            not self._year(year).known
            for year in range(date.fromordinal(start + 1).year, due_date.year + 1)
        )
        return Due(opened_at, due_date, end_of_day(due_date), provisional)

    def _due_with_pauses(self, start: int, days: int, lost: list[tuple[int, int]]) -> int:
        position, remaining = start, days
        for first, last in lost:
            if last <= position:
                continue  # days up to the position have been dealt with
            available = self._count(position, max(first, position + 1) - 1)
            if available >= remaining:
                return self._nth_after(position, remaining)
            remaining -= available
            position = last
        return self._nth_after(position, remaining)

    def _nth_after(self, ordinal: int, n: int) -> int:
        """The ordinal of the ``n``-th working day after ``ordinal`` (``n`` >= 1)."""
        year = date.fromordinal(ordinal).year
        days = self._year(year).workdays
        index = bisect_right(days, ordinal)
        while True:
            available = len(days) - index
            if n <= available:
                return days[index + n - 1]
            n -= available
            year += 1
            days = self._year(year).workdays
            index = 0

    def _count(self, after: int, through: int) -> int:
        """Working days with ordinals in ``(after, through]``."""
        if through <= after:
            return 0
        total = 0
        last_year = date.fromordinal(through).year
        for year in range(date.fromordinal(after + 1).year, last_year + 1):
            days = self._year(year).workdays
            total += bisect_right(days, through) - bisect_right(days, after)
        return total

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            # Two threads may build the same year at once; both results are equal.
            cached = self._years[year] = self._build(year)
        return cached

    def _build(self, year: int) -> _Year:
        first = date(year, 1, 1)
        days = [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
        from_package = year in PACKAGE_YEARS
        if from_package:
            # is_workday's own rule, on its public tables: calling it per day costs 10 ms a year.
            official_off, official_on = chinese_calendar.holidays, chinese_calendar.workdays
            working = {
                day
                for day in days
                if day in official_on or (day.weekday() < 5 and day not in official_off)
            }
        else:
            off = frozenset() if year in self._known_years else estimated_holidays(year)
            working = {day for day in days if day.weekday() < 5 and day not in off}
        working -= self._holidays
        working |= {day for day in self._workdays if day.year == year}
        ordinals = tuple(sorted(day.toordinal() for day in working))
        return _Year(
            known=from_package or year in self._known_years,
            workdays=ordinals,
            workday_set=frozenset(ordinals),
        )


def _plain(day: date) -> date:
    # A datetime is a date too, and its own date is not necessarily the Shanghai one.
    if isinstance(day, datetime):
        raise TypeError("pass a Shanghai date, e.g. shanghai_date(moment), not a datetime")
    return day


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(UTC)


def _lost_days(
    paused: Iterable[tuple[datetime, datetime | None]], now: datetime | None
) -> list[tuple[int, int]]:
    """Ordinal ranges ``[first, last]`` of the days a pause kept from counting, merged."""
    ranges: list[tuple[int, int]] = []
    for began, ended in paused:
        start = _utc(began)
        if ended is not None:
            end = _utc(ended)
            if end < start:
                raise ValueError(f"pause ends before it starts: {began} > {ended}")
        elif now is not None:
            end = max(_utc(now), start)
        else:
            raise ValueError("a pause is still open: pass now to date the request")
        # Day D is lost when start < 24:00 of D < end: D runs from the start's day to the day
        # before the end's, or two days before when the end is exactly at midnight.
        local_end = end.astimezone(SHANGHAI)
        last = local_end.date().toordinal() - (2 if local_end.time() == time() else 1)
        first = shanghai_date(start).toordinal()
        if first <= last:
            ranges.append((first, last))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
