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

Override file format (YAML; every key is optional; an empty file changes nothing)::

    # 2027 as announced by the State Council (国务院办公厅关于2027年部分节假日安排的通知)
    known_years: [2027]       # these years are complete below: no longer provisional
    holidays:                 # days off: a date, or an inclusive range FROM..TO
      - 2027-01-01..2027-01-03
      - 2027-02-05..2027-02-12
      - 2027-10-01..2027-10-07
    workdays:                 # working days, e.g. make-up weekends (调休上班)
      - 2027-02-20
      - 2027-09-26
      - 2027-10-09

Dates are ``YYYY-MM-DD``. A day in ``holidays`` is not a working day and a day in ``workdays``
is one, whatever the package or the estimate says; every other day of a year listed in
``known_years`` (and not covered by the package) is a working day from Monday to Friday. A
year in ``known_years`` that the package does not cover must have at least one holiday listed,
so that a half-finished file cannot silently declare a year without holidays. A date in both
lists is an error. :class:`CalendarError` names the file and line of every fault.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import yaml
from lunardate import LunarDate  # type: ignore[import-untyped]  # annotated, but no py.typed

from bot.clock import SHANGHAI

__all__ = [
    "DEFAULT_WORKDAYS",
    "CalendarError",
    "Due",
    "WorkCalendar",
    "end_of_day",
    "estimated_holidays",
    "shanghai_date",
]

DEFAULT_WORKDAYS = 10
"""Article 7: a commissioner feeds back within 10 working days unless the category says other."""

# libyaml's parser is much faster and keeps the line marks the fault messages need.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_KEYS = ("known_years", "holidays", "workdays")
_DATE = r"\d{4}-\d{2}-\d{2}"
_DATES = re.compile(rf"^({_DATE})(?:\s*\.\.\s*({_DATE}))?$")
_YEAR = re.compile(r"^\d{4}$")
_MAX_RANGE = 366
"""Longer ranges are typos (a wrong year), not holidays."""

# Messages to the admin, in one place.
_UNREADABLE = "无法读取：{problem}"
_YAML_ERROR = "YAML 格式错误：{problem}"
_NOT_A_MAPPING = "文件顶层应是“键: 值”的映射（可用的键：{known}）"
_UNKNOWN_KEY = "未知的键“{key}”（可用的键：{known}）"
_DUPLICATE_KEY = "键“{key}”出现了两次"
_NOT_A_LIST = "{key} 应是列表，例如 {example}"
_NOT_A_SCALAR = "{key} 中的每一项应是单个{what}，例如 {example}"
_BAD_DATE = (
    "“{text}”不是有效日期：应写成 YYYY-MM-DD（如 2027-01-01）"
    "或区间 YYYY-MM-DD..YYYY-MM-DD（如 2027-02-05..2027-02-12）"
)
_BAD_RANGE = "区间“{text}”的开始晚于结束"
_LONG_RANGE = "区间“{text}”超过 {limit} 天，请检查年份"
_BAD_YEAR = "“{text}”不是有效年份：应是四位数字，如 2027"
_IN_BOTH = "{day} 同时出现在 holidays（第 {line} 行）和 workdays 中"
_YEAR_WITHOUT_HOLIDAYS = (
    "known_years 声明 {year} 年已完整，但 holidays 中没有 {year} 年的日期；"
    "请先按国务院通知列出放假日期"
)
_EXAMPLES = {
    "known_years": "[2027]",
    "holidays": "[2027-01-01, 2027-02-05..2027-02-12]",
    "workdays": "[2027-02-20]",
}

# The package's own range: outside it, ``chinese_calendar.is_workday`` raises.
_PACKAGE_FIRST = min(chinese_calendar.holidays).year
_PACKAGE_LAST = max(chinese_calendar.holidays).year


class CalendarError(Exception):
    """The override file cannot be used; every fault is ``file:line: 说明`` for the admins."""

    def __init__(self, faults: Iterable[str]) -> None:
        """Keep the faults; the message is one fault a line."""
        self.faults = tuple(faults)
        super().__init__("\n".join(self.faults))


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
            CalendarError: The file cannot be read or has faults; each names file and line.
        """
        if path is None:
            return cls()
        holidays, workdays, known_years = _read_overrides(path)
        return cls(holidays=holidays, workdays=workdays, known_years=known_years, source=path)

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
        from_package = _PACKAGE_FIRST <= year <= _PACKAGE_LAST
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


def _read_overrides(path: Path) -> tuple[set[date], set[date], set[int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CalendarError([f"{path}: {_UNREADABLE.format(problem=error)}"]) from None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(filter(None, [error.context, error.problem]))
        raise CalendarError([f"{path}:{line}: {_YAML_ERROR.format(problem=problem)}"]) from None
    except yaml.YAMLError as error:
        raise CalendarError([f"{path}: {_YAML_ERROR.format(problem=error)}"]) from None
    if root is None:
        return set(), set(), set()
    faults = _Faults()
    known = "、".join(_KEYS)
    if not isinstance(root, yaml.MappingNode):
        faults.add(root, _NOT_A_MAPPING.format(known=known))
        raise faults.error(path)
    sections: dict[str, list[yaml.Node]] = {}
    for key_node, value_node in root.value:
        key = str(key_node.value)
        if key not in _KEYS:
            faults.add(key_node, _UNKNOWN_KEY.format(key=key, known=known))
        elif key in sections:
            faults.add(key_node, _DUPLICATE_KEY.format(key=key))
        elif isinstance(value_node, yaml.SequenceNode):
            sections[key] = list(value_node.value)
        elif isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
            sections[key] = []  # "holidays:" with nothing under it yet
        else:
            sections[key] = []
            faults.add(value_node, _NOT_A_LIST.format(key=key, example=_EXAMPLES[key]))
    holidays = _read_dates(sections.get("holidays", []), "holidays", faults)
    workdays = _read_dates(sections.get("workdays", []), "workdays", faults)
    years = _read_years(sections.get("known_years", []), faults)
    for day, node in sorted(workdays.items()):
        if day in holidays:
            faults.add(node, _IN_BOTH.format(day=day.isoformat(), line=_line(holidays[day])))
    listed = {day.year for day in holidays}
    for year, node in sorted(years.items()):
        if not _PACKAGE_FIRST <= year <= _PACKAGE_LAST and year not in listed:
            faults.add(node, _YEAR_WITHOUT_HOLIDAYS.format(year=year))
    if faults:
        raise faults.error(path)
    return set(holidays), set(workdays), set(years)


class _Faults:
    """Faults found in the override file, each with its line."""

    def __init__(self) -> None:
        self._found: list[tuple[int, str]] = []

    def __bool__(self) -> bool:
        return bool(self._found)

    def add(self, node: yaml.Node, message: str) -> None:
        self._found.append((_line(node), message))

    def error(self, path: Path) -> CalendarError:
        return CalendarError(f"{path}:{line}: {message}" for line, message in sorted(self._found))


def _read_dates(nodes: list[yaml.Node], key: str, faults: _Faults) -> dict[date, yaml.Node]:
    """Every day the list names, with the node that first named it."""
    found: dict[date, yaml.Node] = {}
    for node in nodes:
        if not isinstance(node, yaml.ScalarNode):
            faults.add(node, _NOT_A_SCALAR.format(key=key, what="日期或区间", example="2027-01-01"))
            continue
        text = str(node.value).strip()
        match = _DATES.match(text)
        try:
            # The pattern first: fromisoformat alone would also take 20270101 or 2027-W01-1.
            first = date.fromisoformat(match.group(1)) if match else None
            last = date.fromisoformat(match.group(2)) if match and match.group(2) else first
        except ValueError:
            first = last = None
        if first is None or last is None:
            faults.add(node, _BAD_DATE.format(text=text))
        elif last < first:
            faults.add(node, _BAD_RANGE.format(text=text))
        elif (last - first).days >= _MAX_RANGE:
            faults.add(node, _LONG_RANGE.format(text=text, limit=_MAX_RANGE))
        else:
            for offset in range((last - first).days + 1):
                found.setdefault(first + timedelta(days=offset), node)
    return found


def _read_years(nodes: list[yaml.Node], faults: _Faults) -> dict[int, yaml.Node]:
    found: dict[int, yaml.Node] = {}
    for node in nodes:
        if not isinstance(node, yaml.ScalarNode):
            faults.add(node, _NOT_A_SCALAR.format(key="known_years", what="年份", example="2027"))
            continue
        text = str(node.value).strip()
        if _YEAR.match(text):
            found.setdefault(int(text), node)
        else:
            faults.add(node, _BAD_YEAR.format(text=text))
    return found


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
