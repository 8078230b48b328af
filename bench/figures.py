"""A benchmark's figures and how they are printed.

A timed run's :class:`Sample`, a setup's :class:`Row` of medians over its runs, the
:class:`Report`; the Markdown section a benchmark prints (:func:`print_markdown`,
:func:`format_ms`, :func:`format_cpu`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import inf
from typing import Any, Generic, Self, TypeVar

from bench.cpu import CpuUse
from bench.load import Drive, Plan

K = TypeVar("K")
PlanT = TypeVar("PlanT", bound="Plan")
RowT = TypeVar("RowT", bound="Row")


@dataclass
class Sample:
    """One timed run of one setup: what every channel benchmark measures of it."""

    sent: int
    answered: int
    wall_s: float
    acks_per_s: float
    """HTTP 200 responses per second while posting: how fast the server takes messages in."""
    latencies_ms: list[float]
    """One per message sent; ``inf`` for a message never answered."""
    errors: Counter[str] = field(default_factory=Counter)
    cpu: CpuUse = field(default_factory=CpuUse)
    """CPU use while posting: server, load generator and fake API; the rest of the machine;
    steal time."""
    budget_hit: bool = False
    """Posting stopped at the plan's budget before every message was sent."""
    distinct: int = 0
    """Distinct question texts among the messages posted."""
    cache: tuple[float, float] | None = None
    """The bot's match cache over the timed batch: hits and misses (``None``: not counted)."""

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of the match-cache lookups that hit, ``None`` where none were counted."""
        if self.cache is None or sum(self.cache) <= 0:
            return None
        return self.cache[0] / sum(self.cache)

    @classmethod
    def of(
        cls,
        drive: Drive[K],
        answers: Mapping[K, float],
        started: float,
        cpu: CpuUse,
        errors: Counter[str],
        **extra: Any,
    ) -> Self:
        """The figures of a timed batch, from what its posting saw and the answers found.

        Args:
            drive: The posting.
            answers: When each addressee was answered.
            started: When the posting began, should no message have been posted.
            cpu: The CPU use while posting.
            errors: Every fault of the run.
            **extra: The fields a subclass adds.

        Returns:
            The sample; throughput runs from the first post to the last answer.
        """
        first = min(drive.posted.values(), default=started)
        last = max(answers.values(), default=first)
        last_ack = max(drive.acks, default=first)
        return cls(
            sent=len(drive.posted),
            answered=len(answers),
            wall_s=last - first,
            acks_per_s=len(drive.acks) / (last_ack - first) if last_ack > first else 0.0,
            latencies_ms=[
                (answers[to] - start) * 1000 if to in answers else inf
                for to, start in drive.posted.items()
            ],
            errors=errors,
            cpu=cpu,
            budget_hit=drive.budget_hit,
            **extra,
        )

    @property
    def rate(self) -> float:
        """Answered messages per second, from the first post to the last answer."""
        return self.answered / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, share: float) -> float:
        """The latency below which ``share`` of the messages were answered, in ms."""
        return percentile(self.latencies_ms, share)


@dataclass(frozen=True)
class Row:
    """A setup's line of the table: every figure the median over its runs."""

    setup: str
    sent: int
    answered: int
    per_s: float
    acks_per_s: float
    p50_ms: float
    p99_ms: float
    unanswered: int
    errors: int
    cpu: CpuUse
    distinct: int = 0
    """Distinct question texts among the messages posted (median over runs)."""
    cache_hits: float | None = None
    """Share of the match-cache lookups that hit (median over runs; ``None``: not counted)."""

    @classmethod
    def of(cls, setup: str, samples: Sequence[Sample], **extra: Any) -> Self:
        """The row of ``setup``: the medians of ``samples``, and the fields a subclass adds."""
        return cls(
            setup=setup,
            sent=round(statistics.median(s.sent for s in samples)),
            answered=round(statistics.median(s.answered for s in samples)),
            per_s=statistics.median(s.rate for s in samples),
            acks_per_s=statistics.median(s.acks_per_s for s in samples),
            p50_ms=statistics.median(s.percentile(0.50) for s in samples),
            p99_ms=statistics.median(s.percentile(0.99) for s in samples),
            unanswered=round(statistics.median(s.sent - s.answered for s in samples)),
            errors=round(statistics.median(sum(s.errors.values()) for s in samples)),
            cpu=median_cpu([s.cpu for s in samples]),
            distinct=round(statistics.median(s.distinct for s in samples)),
            cache_hits=median_or_none([s.cache_hit_rate for s in samples]),
            **extra,
        )


@dataclass(frozen=True)
class Report(Generic[PlanT, RowT]):
    """What a benchmark measured: one row per setup, and what the table's reader should know."""

    plan: PlanT
    rows: list[RowT]
    notes: list[str]


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); ``inf`` if none."""
    ordered = sorted(values)
    if not ordered:
        return inf
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def median_or_none(values: Sequence[float | None]) -> float | None:
    """The median of the known values, ``None`` if none is known."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_cpu(uses: Sequence[CpuUse]) -> CpuUse:
    """Every figure of ``uses``, each the median of those known."""
    return CpuUse(
        own=(
            median_or_none([use.own[0] for use in uses]),
            median_or_none([use.own[1] for use in uses]),
            median_or_none([use.own[2] for use in uses]),
        ),
        others=median_or_none([use.others for use in uses]),
        steal=median_or_none([use.steal for use in uses]),
    )


def format_ms(value: float, drain_s: float) -> str:
    """A latency in ms for the table; ``inf`` (never answered) as "> the drain time"."""
    # An update never answered waited at least the drain time after the last post.
    return f"> {drain_s * 1000:,.0f}" if value == inf else f"{value:,.1f}"


def format_share(value: float | None) -> str:
    """A share for the table as a percentage; ``n/a`` where it was not measured."""
    return "n/a" if value is None else f"{value:.1%}"


def format_cpu(values: tuple[float | None, float | None, float | None]) -> str:
    """The CPU column: server · generator · fake, "—" where unknown."""
    return " · ".join("—" if v is None else f"{v:.2f}" for v in values)


_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}


def print_markdown(
    title: str,
    intro: str,
    columns: tuple[Sequence[str], str],
    rows: Iterable[Sequence[str]],
    summary: str,
    notes: Sequence[str],
) -> None:
    """Print a benchmark's section: its title, what it measured, the table, and what to know.

    Args:
        title: The section's heading.
        intro: The paragraph before the table.
        columns: The table's column names, and their alignment: a letter each, ``l``eft,
            ``r``ight or ``c``entre.
        rows: The table's cells, a row at a time, formatted.
        summary: The paragraph after the table (the targets, the verdict).
        notes: A paragraph each, after the summary.
    """
    names, align = columns
    print(f"\n## {title}\n")
    print(f"{intro}\n")
    print("| " + " | ".join(names) + " |")
    print("|" + "|".join(_ALIGN[a] for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{summary}")
    for note in notes:
        print(f"\n{note}")
