"""Six PDF reports asked for at once: one Chromium per request (before) against one at a time.

Audit #15 saw six concurrent ``/console/report?format=pdf`` requests take 7.5 s each, one
Chromium per request. :class:`bot.reports.pdf.PdfPrinter` now prints one at a time, and hands
out again the PDF of a page it printed lately. Each case asks one printer for six PDFs at once
and times each from the ask to its PDF:

* ``six pages, all at once`` (the baseline: the old behaviour, a printer with six turns);
* ``six pages, two at a time``;
* ``six pages, one at a time`` (the bot's printer);
* ``one page six times, one at a time`` (six supervisors opening the same quarter's link);
* ``one page, alone``: a single print, for scale.

The pages are the quarterly report of the benchmark roster (:func:`bench.report_data.
bench_roster`: four districts, eight groups, 24 commissioners) counted over no requests, each
counted up to a different minute so that no two are the same page. Memory is the peak of the
proportional set size (PSS) of this process's Chromium processes together, sampled every
50 ms. Every case runs in each round, in turn, so that the machine's load falls on all of them
alike; the table shows the medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report_data import bench_roster
from bot.domain.workdays import WorkCalendar
from bot.reports.engine import build_report
from bot.reports.html import report_html
from bot.reports.pdf import PdfError, PdfPrinter, find_chromium
from bot.reports.period import Quarter

QUARTER = Quarter(2026, 4)
ASKED = 6
"""As many PDFs at once as the audit asked for."""


@dataclass(frozen=True)
class Case:
    name: str
    at_once: int
    same_page: bool
    asked: int = ASKED


CASES = (
    Case("six pages, all at once (before)", at_once=ASKED, same_page=False),
    Case("six pages, two at a time", at_once=2, same_page=False),
    Case("six pages, one at a time (now)", at_once=1, same_page=False),
    Case("one page six times, one at a time (now)", at_once=1, same_page=True),
    Case("one page, alone", at_once=1, same_page=True, asked=1),
)


@dataclass(frozen=True)
class Sample:
    first_s: float
    median_s: float
    last_s: float
    peak_mb: float


@dataclass(frozen=True)
class Row:
    case: Case
    samples: Sequence[Sample]

    def median(self, field: str) -> float:
        return statistics.median(float(getattr(s, field)) for s in self.samples)


def pages(count: int) -> list[str]:
    """``count`` different report pages: the same quarter, counted up to different minutes."""
    with tempfile.TemporaryDirectory() as folder:
        roster = bench_roster(Path(folder))
    district_of = {g.id: g.district for g in roster.groups}
    calendar = WorkCalendar.load(None)
    moment = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    return [
        report_html(
            build_report([], QUARTER, moment + timedelta(minutes=n), calendar, district_of),
            roster,
        )
        for n in range(count)
    ]


def _descendants() -> list[int]:
    """The processes this one started, and theirs."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, mine = [os.getpid()], []
    while found:
        parent = found.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        mine += children
        found += children
    return mine


def _pss_mb() -> float:
    total_kb = 0
    for pid in _descendants():
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


async def _measure(case: Case, chromium: str, distinct: list[str]) -> Sample:
    printer = PdfPrinter(chromium, at_once=case.at_once, kept=0 if not case.same_page else 4)
    asked = [distinct[0]] * case.asked if case.same_page else distinct[: case.asked]
    peak = 0.0
    printing = True

    async def sample_memory() -> None:
        nonlocal peak
        while printing:
            peak = max(peak, await asyncio.to_thread(_pss_mb))
            await asyncio.sleep(0.05)

    async def one(page: str) -> float:
        await printer.print(page)
        return time.perf_counter() - start

    sampler = asyncio.create_task(sample_memory())
    start = time.perf_counter()
    try:
        took = sorted(await asyncio.gather(*(one(page) for page in asked)))
    finally:
        printing = False
        await sampler
    return Sample(took[0], statistics.median(took), took[-1], peak)


def run(quick: bool = False) -> list[Row] | str:
    try:
        chromium = find_chromium(os.environ.get("BOT_CHROMIUM"))
    except PdfError as error:
        return f"skipped: {error}"
    rounds = 1 if quick else 5
    distinct = pages(ASKED)

    async def rounds_of_all() -> list[Row]:
        samples: dict[Case, list[Sample]] = {case: [] for case in CASES}
        for _ in range(rounds):
            for case in CASES:
                samples[case].append(await _measure(case, chromium, distinct))
        return [Row(case, found) for case, found in samples.items()]

    return asyncio.run(rounds_of_all())


def print_table(rows: Sequence[Row] | str) -> None:
    print("\n## PDF reports asked for at once\n")
    if isinstance(rows, str):
        print(rows)
        return
    print(
        f"{ASKED} PDFs of the quarterly report asked of one `PdfPrinter` at once, each timed "
        "from the ask to its PDF; Chromium memory is the peak PSS of all its processes. Median "
        f"of {len(rows[0].samples)} rounds; each round runs every case, in turn.\n"
    )
    print("| case | first PDF (s) | median PDF (s) | last PDF (s) | Chromium memory (MB) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.case.name} | {row.median('first_s'):.2f} | {row.median('median_s'):.2f} "
            f"| {row.median('last_s'):.2f} | {row.median('peak_mb'):.0f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.pdf")
    parser.add_argument("--quick", action="store_true", help="one round (smoke run)")
    print_table(run(quick=parser.parse_args().quick))
