"""What a report shows: the figures of each district, group and commissioner, and what is late."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.lifecycle import Status
from bot.reports.period import Period

__all__ = ["Figures", "OverdueRequest", "QuarterReport", "median_p90"]


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
    channels: dict[str, set[int]] = field(default_factory=dict)
    """Intake channel (:class:`~bot.messages.Intake`'s values) → the requests received."""

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
        return median_p90(self.first_reply_days.values())

    def resolution(self) -> tuple[float | None, int | None]:
        """Median and 90th percentile of working days to the resolution."""
        return median_p90(self.resolve_days.values())


@dataclass(frozen=True, slots=True)
class OverdueRequest:
    """A request past its deadline at the report's moment."""

    number: str
    group_id: str
    space_id: str
    category: str
    status: Status
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


def median_p90(values: Iterable[int]) -> tuple[float | None, int | None]:
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
