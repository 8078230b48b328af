"""The quarterly report (``python -m bot report --quarter 2026Q4``) over a million requests.

Issue 6: building the report over 1,000,000 requests takes under 10 s on PostgreSQL. Two
databases of 1,000,000 requests each (20,000 with ``--quick``), built by
:mod:`bench.report_data` with the event logs the handlers write, over the roster of
:func:`~bench.report_data.bench_roster` (four districts, twelve maker spaces, eight groups):

* ``all in the quarter``: every request opened in 2026Q4 — every one of them is read and
  replayed (the hard case, and the target's);
* ``over four years``: requests opened from 2023 to 2026, so the quarter holds its share and
  most of the others were closed long before it.

Each run is the report as the command builds it, end to end, in this process: connect and
migrate, read and count the quarter's requests and logs (``bot.reports.engine.count_periods`` over
``storage.reports.stream_histories``, at 2027-03-01 so the quarter is over), write the Markdown
and the CSV. The table shows the median of the runs, and the slowest. Then the same report as
users run it, ``python -m bot report --quarter 2026Q4`` in a process of its own, start to exit:
Python's start-up and imports included, and counted up to the machine's clock (while 2026Q4
runs, only its part so far).

Some requests are never taken up, never answered or never resolved (a few in a hundred, see
:mod:`bench.report_data`), and stay open for good: over four years they pile up, so that case
reads about 170,000 requests, not only the quarter's 63,000.

The data is generated once per size and kept between runs in databases of their own
(``makerdesk_bench_report_<case>_<size>`` on ``BOT_BENCH_POSTGRES_URL``, by default the local
server), marked with :data:`~bench.report_data.GENERATOR_VERSION`: a database left by another
version, or by an interrupted generation, is built again. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs; tests use it the same way

from bench import report_data
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.reports.engine import count_periods
from bot.reports.figures import QuarterReport
from bot.reports.period import Quarter
from bot.reports.tables import report_csv, report_markdown
from storage import Database
from tests.support.processes import clean_env

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "BOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TARGET_S = 10.0
FULL = 1_000_000
QUARTER = Quarter(2026, 4)
NOW = datetime(2027, 3, 1, tzinfo=UTC)
"""After every event of the generated logs: the quarter is over and counted to its end."""
FOUR_YEARS = (Quarter(2023, 1), QUARTER)
SEED = 6
PEOPLE = 50_000
CASES = ("all in the quarter", "over four years")


@dataclass(frozen=True)
class Sample:
    requests: int
    """Requests that count somewhere in the report."""
    connect_s: float
    count_s: float
    tables_s: float
    total_s: float


@dataclass(frozen=True)
class Row:
    case: str
    stored: int
    stored_events: int
    generated_s: float | None
    """How long generating took this time; ``None`` when the stored data was reused."""
    samples: list[Sample]
    command_s: list[float]
    """``python -m bot report --quarter 2026Q4`` run as a command, start to exit."""

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(s, name) for s in self.samples))

    @property
    def target(self) -> str:
        if self.case != CASES[0] or self.stored < FULL:
            return "—"  # the target is the million's
        return "✓" if self.median("total_s") < TARGET_S else "✗"


def _admin_url() -> str:
    return POSTGRES_URL.replace("+asyncpg", "")


def _url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def _stored(name: str, size: int) -> tuple[int, int] | None:
    """The requests and events of the database ``name``, if it holds this generator's data."""
    admin = await asyncpg.connect(_admin_url(), timeout=5)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return None
    finally:
        await admin.close()
    connection = await asyncpg.connect(_url(name).replace("+asyncpg", ""), timeout=5)
    try:
        marked = await connection.fetchrow(
            "SELECT version, size, seed, requests, events FROM bench_report_meta"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()
    if marked is None or (marked["version"], marked["size"], marked["seed"]) != (
        report_data.GENERATOR_VERSION,
        size,
        SEED,
    ):
        return None
    return int(marked["requests"]), int(marked["events"])


async def _generate(name: str, case: str, size: int, roster: Roster) -> tuple[int, int]:
    admin = await asyncpg.connect(_admin_url(), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    database = Database(_url(name))
    try:
        await database.migrate()
    finally:
        await database.close()
    first, last = (QUARTER, QUARTER) if case == CASES[0] else FOUR_YEARS
    requests = report_data.simulate(
        size, first.start, last.end, roster, WorkCalendar(), seed=SEED, people=PEOPLE
    )
    connection = await asyncpg.connect(_url(name).replace("+asyncpg", ""))
    try:
        written, events = await report_data.load(connection, requests, PEOPLE, roster)
        # Written last: a generation cut short leaves no mark, and is done again next time.
        await connection.execute(
            "CREATE TABLE bench_report_meta "
            "(version int, size int, seed int, requests int, events int)"
        )
        await connection.execute(
            "INSERT INTO bench_report_meta VALUES ($1, $2, $3, $4, $5)",
            report_data.GENERATOR_VERSION,
            size,
            SEED,
            written,
            events,
        )
    finally:
        await connection.close()
    return written, events


async def _one_run(url: str, roster: Roster, calendar: WorkCalendar) -> Sample:
    district_of = {g.id: g.district for g in roster.groups}
    started = time.perf_counter()
    database = Database(url)
    try:
        await database.migrate()
        async with database.sessions() as session:
            connected = time.perf_counter()
            (report,) = await count_periods(session, [QUARTER], NOW, calendar, district_of)
    finally:
        await database.close()
    counted = time.perf_counter()
    markdown = report_markdown(report, roster).encode("utf-8")
    table = report_csv(report, roster)
    done = time.perf_counter()
    assert markdown
    assert table
    return Sample(
        requests=len(report.total.received | _touched(report)),
        connect_s=connected - started,
        count_s=counted - connected,
        tables_s=done - counted,
        total_s=done - started,
    )


def _touched(report: QuarterReport) -> set[int]:
    total = report.total
    return total.resolved | set(total.first_reply_days) | total.waiting | total.overdue


async def _measure(case: str, size: int, repeats: int, roster: Roster) -> Row:
    name = f"makerdesk_bench_report_{'quarter' if case == CASES[0] else 'years'}_{size}"
    stored = await _stored(name, size)
    generated_s = None
    if stored is None:
        started = time.perf_counter()
        stored = await _generate(name, case, size, roster)
        generated_s = time.perf_counter() - started
    calendar = WorkCalendar()
    samples = [await _one_run(_url(name), roster, calendar) for _ in range(repeats)]
    commands = [await asyncio.to_thread(_command, _url(name), roster) for _ in range(repeats)]
    return Row(case, stored[0], stored[1], generated_s, samples, commands)


def _command(url: str, roster: Roster) -> float:
    """The report as users run it, in a process of its own: imports, exit and all."""
    assert roster.source is not None
    environment = clean_env()
    environment |= {"BOT_DATABASE_URL": url, "BOT_ROSTER": str(roster.source)}
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-report-") as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "report", "--quarter", str(QUARTER), "--out",
             str(Path(folder) / "report.md")],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        spent = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"python -m bot report failed:\n{done.stderr}")
    return spent


async def _reachable() -> bool:
    try:
        connection = await asyncpg.connect(_admin_url(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


async def _run(quick: bool) -> list[Row] | str:
    if not await _reachable():
        return f"skipped: PostgreSQL is not reachable at {_admin_url()}"
    size = 20_000 if quick else FULL
    repeats = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-report-") as folder:
        roster = report_data.bench_roster(Path(folder))
        return [await _measure(case, size, repeats, roster) for case in CASES]


def run(quick: bool = False) -> list[Row] | str:
    """Time the 2026Q4 report over 1,000,000 requests (20,000 with ``quick``), in two cases."""
    return asyncio.run(_run(quick))


def print_table(rows: Sequence[Row] | str) -> None:
    print("\n## Quarterly report (PostgreSQL)\n")
    if isinstance(rows, str):
        print(rows)
        return
    repeats = len(rows[0].samples) if rows else 0
    print(
        "`python -m bot report --quarter 2026Q4` end to end in one process, as the command runs "
        "it: connect and migrate; read and count the requests and their logs "
        "(`bot.reports.engine.count_periods`: PostgreSQL reads the next chunk while Python "
        "counts the last); write the Markdown and the CSV. "
        f"Median of {repeats} runs (slowest in brackets); the stored data is reused between "
        f"runs. Target: under {TARGET_S:.0f} s with every request in the quarter.\n"
    )
    print(
        "| case | requests stored | events stored | requests counted "
        "| connect (s) | read + count (s) | tables (s) | total (s) | command (s) | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        slowest = max(s.total_s for s in r.samples)
        print(
            f"| {r.case} | {r.stored:,} | {r.stored_events:,} | {r.samples[0].requests:,} "
            f"| {r.median('connect_s'):.2f} | {r.median('count_s'):.2f} "
            f"| {r.median('tables_s'):.2f} | {r.median('total_s'):.2f} ({slowest:.2f}) "
            f"| {statistics.median(r.command_s):.2f} ({max(r.command_s):.2f}) | {r.target} |"
        )
    print(
        "\nCommand: `python -m bot report --quarter 2026Q4 --out FILE` in a process of its own, "
        "start to exit (Python's start-up and imports, about a second, included). It counts up "
        "to the machine's clock, not to 2027-03-01: while 2026Q4 runs, only its part so far."
    )
    made = [f"{r.case}: {r.generated_s:.0f} s" for r in rows if r.generated_s is not None]
    if made:
        print(f"\nData generated this time ({'; '.join(made)}), then reused.")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("--quick", action="store_true", help="20,000 requests (smoke run)")
    print_table(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
