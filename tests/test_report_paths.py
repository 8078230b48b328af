"""The fast report agrees with the report as it was counted before, request for request.

Three thousand requests from the bench's generator (seeded; transfers, waits, due-date moves,
reopenings, ratings given twice, notices, requests left open or waiting), opened over the
second half of 2026, on SQLite and PostgreSQL. For several periods and moments:

* PostgreSQL's fast reading (one aggregated row per request, through asyncpg) gives exactly
  the histories the portable query gives;
* the report counted from them, in one go or streamed chunk by chunk, equals the one the old
  code (``report_reference``: ORM rows, one event at a time) counts from the same database:
  every figure of every district, group and commissioner, the overdue list, and the order in
  which districts, groups and commissioners appear.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.report_data import bench_roster, insert, simulate
from bot.domain.workdays import WorkCalendar
from bot.reports.engine import (
    _WorkdayCount,  # the private helper the report counts working days with
    build_report,
    count_periods,
)
from bot.reports.figures import Figures, QuarterReport
from bot.reports.period import Period, Quarter, Year
from storage import Database
from storage.reports import _portable, histories, stream_histories
from tests.support import report_reference as reference

pytestmark = pytest.mark.slow  # each builds a generated data set of thousands of requests

SIZE = 3000
PEOPLE = 200
CASES = [
    (Quarter(2026, 4), datetime(2027, 3, 1, tzinfo=UTC)),  # over
    (Quarter(2026, 4), datetime(2026, 11, 20, 3, 30, tzinfo=UTC)),  # running
    (Quarter(2026, 3), datetime(2027, 3, 1, tzinfo=UTC)),  # requests carried into Q4
    (Year(2026), datetime(2026, 12, 15, tzinfo=UTC)),
]


@pytest.fixture
async def filled(database: Database, tmp_path: Path) -> tuple[Database, dict[str, str]]:
    roster = bench_roster(tmp_path)
    calendar = WorkCalendar()
    requests = simulate(
        SIZE, Quarter(2026, 3).start, Quarter(2026, 4).end, roster, calendar, seed=7, people=PEOPLE
    )
    async with database.sessions.begin() as session:
        await insert(session, requests, PEOPLE)
    return database, {g.id: g.district for g in roster.groups}


def same(mine: QuarterReport, theirs: QuarterReport) -> None:
    assert (mine.quarter, mine.as_of) == (theirs.quarter, theirs.as_of)
    assert mine.total == theirs.total
    for name in ("districts", "groups", "commissioners"):
        assert list(getattr(mine, name)) == list(getattr(theirs, name)), name
        assert getattr(mine, name) == getattr(theirs, name), name
    assert mine.overdue == theirs.overdue
    assert mine.received_at == theirs.received_at
    assert mine.resolved_at == theirs.resolved_at


@pytest.mark.parametrize(("period", "now"), CASES)
async def test_the_report_is_the_one_counted_event_by_event(
    filled: tuple[Database, dict[str, str]], period: Period, now: datetime
) -> None:
    database, district_of = filled
    calendar = WorkCalendar()
    async with database.sessions() as session:
        found = await histories(session, period.start, period.end)
        old = await reference.histories(session, period.start, period.end)
    expected = reference.build_report(old, period, now, calendar, district_of)
    assert len(expected.total.received) > 100  # the case counts something
    same(build_report(found, period, now, calendar, district_of), expected)
    async with database.sessions() as session:
        streamed = await count_periods(session, [period], now, calendar, district_of)
    same(streamed[0], expected)


async def test_the_archive_counts_each_quarter_in_one_pass(
    filled: tuple[Database, dict[str, str]],
) -> None:
    database, district_of = filled
    calendar = WorkCalendar()
    now = datetime(2027, 1, 10, tzinfo=UTC)
    year = Year(2026)
    periods: list[Period] = [*year.quarters(), year]
    async with database.sessions() as session:
        counted = await count_periods(session, periods, now, calendar, district_of)
        old = await reference.histories(session, year.start, year.end)
    for period, report in zip(periods, counted, strict=True):
        same(report, reference.build_report(old, period, now, calendar, district_of))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgresql_reads_the_histories_the_portable_query_reads(
    filled: tuple[Database, dict[str, str]],
) -> None:
    database, _ = filled
    for period, _now in CASES:
        async with database.sessions() as session:
            portable = await _portable(session, period.start, period.end)
        async with database.sessions() as session:
            fast = [
                history
                async for chunk in stream_histories(session, period.start, period.end, chunk=97)
                for history in chunk
            ]
        assert len(fast) > 1000
        assert fast == portable


def test_working_days_counted_by_table_agree_with_the_calendar() -> None:
    # New Year's Day 2026 made a working day: a table must not count its first day twice, or a
    # table starting in 2026 and one grown back into 2025 disagree.
    calendar = WorkCalendar(workdays=[date(2026, 1, 1)])
    rng = random.Random(3)
    span = (
        datetime(2027, 12, 31, tzinfo=UTC).timestamp()
        - datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    )
    base = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    for _ in range(1000):
        a, b = sorted(base + rng.random() * span for _ in range(2))
        if rng.random() < 0.5:
            b = a + rng.random() * 40 * 86400  # mostly near each other, as replies are
        # A count taken before the table grows (back in time) goes with one taken after.
        year = datetime.fromtimestamp(b, UTC).year
        table = _WorkdayCount(calendar, year, year)
        bounds, counts, _ = table.table(b)
        count_b = counts[bisect.bisect_right(bounds, b) - 1]
        bounds, counts, _ = table.table(a)
        count_a = counts[bisect.bisect_right(bounds, a) - 1]
        at_a, at_b = datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)
        assert max(0, count_b - count_a) == calendar.working_days_between(at_a, at_b)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_reader_may_stop_early(filled: tuple[Database, dict[str, str]]) -> None:
    database, _ = filled
    period = Quarter(2026, 4)
    async with database.sessions() as session:
        stream = stream_histories(session, period.start, period.end, chunk=10)
        async for chunk in stream:
            assert len(chunk) == 10
            break
        await stream.aclose()
        # The session's connection is usable again.
        assert len(await histories(session, period.start, period.end)) > 1000


def test_medians_and_90th_percentiles_are_counted_as_they_were_sorted() -> None:
    rng = random.Random(5)
    for size in [0, 1, 2, 3, 10, 11, *(rng.randrange(1, 400) for _ in range(200))]:
        days = {rid: rng.choice((0, 1, 2, 3, 5, 8, 13, 40)) for rid in range(size)}
        figures = Figures(first_reply_days=days, resolve_days=dict(reversed(days.items())))
        ordered = sorted(days.values())
        expected = (
            (float(statistics.median(ordered)), ordered[max(0, math.ceil(0.9 * size) - 1)])
            if ordered
            else (None, None)
        )
        assert figures.first_reply() == expected
        assert figures.resolution() == expected
