"""The admins' working-day override file (``BOT_CALENDAR``), checked with every fault's line.

The override file wins over the State Council's arrangement as ``chinese-calendar`` knows it,
and over the estimate for years it does not know (:mod:`bot.domain.workdays`). Its format
(YAML; every key is optional; an empty file changes nothing)::

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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import chinese_calendar
from pydantic import BeforeValidator, PlainValidator, TypeAdapter

from knowledge.yaml_lines import (
    FileEntry,
    Issue,
    Lined,
    Malformed,
    Unreadable,
    fault,
    one_value,
    read_lined,
)

__all__ = ["PACKAGE_YEARS", "CalendarError", "Overrides", "read_overrides"]

PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
"""The years ``chinese-calendar`` knows; outside them ``chinese_calendar.is_workday`` raises."""

_KEYS = ("known_years", "holidays", "workdays")
_DATE = r"\d{4}-\d{2}-\d{2}"
_DATES = re.compile(rf"^({_DATE})(?:\s*\.\.\s*({_DATE}))?$")
_FOUR_DIGITS = re.compile(r"^\d{4}$")
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
_UNEXPECTED = "{key} 有误：{problem}"
_EXAMPLES = {
    "known_years": "[2027]",
    "holidays": "[2027-01-01, 2027-02-05..2027-02-12]",
    "workdays": "[2027-02-20]",
}
_ITEMS = {"known_years": ("年份", "2027")}
"""What one item of a list is, for messages; a date or a range unless listed."""


class CalendarError(Exception):
    """The override file cannot be used; every fault is ``file:line: 说明`` for the admins."""

    def __init__(self, faults: Iterable[str]) -> None:
        """Keep the faults; the message is one fault a line."""
        self.faults = tuple(faults)
        super().__init__("\n".join(self.faults))


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the override file says.

    Attributes:
        holidays: Days off, whatever else says so.
        workdays: Working days, whatever else says so.
        known_years: Years the file describes completely.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()


def read_overrides(path: Path) -> Overrides:
    """Read and check the override file at ``path``.

    Raises:
        CalendarError: The file cannot be read or has faults; each names file and line.
    """
    try:
        document = read_lined(path)
    except Unreadable as error:
        raise CalendarError([f"{path}: {_UNREADABLE.format(problem=error)}"]) from None
    except Malformed as error:
        where = f"{path}:{error.line}" if error.line else str(path)
        raise CalendarError([f"{where}: {_YAML_ERROR.format(problem=error.problem)}"]) from None
    if not document.has(()):
        return Overrides()  # an empty file, or only comments
    faults = [(issue.line, _word(issue)) for issue in document.check(_File).issues]
    # The checks across the lists read every item that holds, whatever else is wrong.
    holidays = _days(document, "holidays")
    workdays = _days(document, "workdays")
    for day, line in sorted(workdays.items()):
        if day in holidays:
            faults.append((line, _IN_BOTH.format(day=day.isoformat(), line=holidays[day])))
    years: dict[int, int] = {}
    for loc in document.items(("known_years",)):
        year = document.value(_YEAR, loc)
        if year is not None:
            years.setdefault(year, document.line(loc))
    listed = {day.year for day in holidays}
    for year, line in sorted(years.items()):
        if year not in PACKAGE_YEARS and year not in listed:
            faults.append((line, _YEAR_WITHOUT_HOLIDAYS.format(year=year)))
    if faults:
        raise CalendarError(f"{path}:{line}: {message}" for line, message in sorted(faults))
    return Overrides(frozenset(holidays), frozenset(workdays), frozenset(years))


def _days(document: Lined, key: str) -> dict[date, int]:
    """Every day the list names, with the line that first named it."""
    found: dict[date, int] = {}
    for loc in document.items((key,)):
        span = document.value(_SPAN, loc)
        if span is None:
            continue
        first, last = span
        for offset in range((last - first).days + 1):
            found.setdefault(first + timedelta(days=offset), document.line(loc))
    return found


# --- the file's shape -------------------------------------------------------------------------


def _span(value: object) -> tuple[date, date]:
    """A date, or an inclusive range ``FROM..TO``, as (first, last)."""
    match = _DATES.match(one_value(value))
    try:
        # The pattern first: fromisoformat alone would also take 20270101 or 2027-W01-1.
        first = date.fromisoformat(match.group(1)) if match else None
        last = date.fromisoformat(match.group(2)) if match and match.group(2) else first
    except ValueError:
        first = last = None
    if first is None or last is None:
        raise fault("bad_date")
    if last < first:
        raise fault("bad_range")
    if (last - first).days >= _MAX_RANGE:
        raise fault("long_range")
    return first, last


def _year(value: object) -> int:
    text = one_value(value)
    if not _FOUR_DIGITS.match(text):
        raise fault("bad_year")
    return int(text)


def _empty_if_null(value: object) -> object:
    return () if value is None else value  # "holidays:" with nothing under it yet


Span = Annotated[tuple[date, date], PlainValidator(_span)]
Year = Annotated[int, PlainValidator(_year)]
_SPAN: TypeAdapter[tuple[date, date]] = TypeAdapter(Span)
_YEAR: TypeAdapter[int] = TypeAdapter(Year)


class _File(FileEntry):
    known_years: Annotated[tuple[Year, ...], BeforeValidator(_empty_if_null)] = ()
    holidays: Annotated[tuple[Span, ...], BeforeValidator(_empty_if_null)] = ()
    workdays: Annotated[tuple[Span, ...], BeforeValidator(_empty_if_null)] = ()


def _word(issue: Issue) -> str:
    """The admin's message for an issue of the file's shape."""
    if not issue.loc:
        return _NOT_A_MAPPING.format(known="、".join(_KEYS))
    key = str(issue.loc[0])
    if issue.kind == "duplicate_key" and key in _KEYS:
        return _DUPLICATE_KEY.format(key=key)
    if issue.kind in ("extra_forbidden", "duplicate_key"):
        return _UNKNOWN_KEY.format(key=key, known="、".join(_KEYS))
    if issue.kind == "tuple_type":
        return _NOT_A_LIST.format(key=key, example=_EXAMPLES[key])
    text = issue.input.strip() if isinstance(issue.input, str) else ""
    what, example = _ITEMS.get(key, ("日期或区间", "2027-01-01"))
    return _BY_KIND.get(issue.kind, _UNEXPECTED).format(
        key=key, what=what, example=example, text=text, limit=_MAX_RANGE, problem=issue.message
    )


_BY_KIND = {
    "not_scalar": _NOT_A_SCALAR,
    "bad_date": _BAD_DATE,
    "bad_range": _BAD_RANGE,
    "long_range": _LONG_RANGE,
    "bad_year": _BAD_YEAR,
}
"""The message for each kind of fault in one item of a list."""
