"""The periods a report counts: a quarter, or a whole year (the archive)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from bot.clock import SHANGHAI

__all__ = ["FIRST_YEAR", "LAST_YEAR", "Period", "Quarter", "Year", "midnight"]

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
        return midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The first moment after it (UTC)."""
        return midnight(self.next_first_day)


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


def midnight(day: date) -> datetime:
    """00:00 of ``day`` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)
