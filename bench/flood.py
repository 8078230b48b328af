"""A web chat flood against the shipped bot: what it adds to the database, what others wait.

Each run starts ``python -m bot run`` (shipped knowledge base, demo roster) on a fresh database,
SQLite or a scratch PostgreSQL one, and for :data:`DURATION_S` seconds:

* five people, each at an address of their own (the client sockets bind 127.0.0.2 … 127.0.0.6,
  which loopback accepts), each send a short question a second, on a timetable, keeping the
  session cookie the bot gives them, and time every answer;
* one flooder at 127.0.0.1 posts 2,000-character messages of random Chinese characters (what
  stores biggest: they neither compress nor match) to ``/api/messages`` as fast as
  :data:`FLOOD_CONNECTIONS` connections go, in one of three ways: with no cookie, with a
  made-up cookie each time (the audit's two bypasses of the per-session limit), or with the one
  cookie the bot gave it. The baseline is the same run without a flooder.

The database's growth is measured between the moment traffic starts and the moment it has
stopped: on SQLite the file and its WAL after a checkpoint, on PostgreSQL
``pg_database_size``. What the flooder added is a run's growth less the baseline's median (the
five people's own rows). Every setup runs :data:`RUNS` times; the table shows medians.

Targets: the flooder adds less than 1 MB in 60 s, and the others' p99 stays under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.cpu import CpuMeter, CpuUse, cpu_notes
from bench.figures import median_cpu, percentile, print_markdown
from bench.load import questions
from bench.procs import POSTGRES_URL, bot_process, cancel_on_sigterm, scratch_database

__all__ = ["Row", "main", "print_table", "run"]

DURATION_S = 60.0
RUNS = 3
OTHERS = 5
"""People writing while the flood goes on, one message a second each."""
FLOOD_CONNECTIONS = 4
"""Requests the flooder keeps in flight."""
FLOOD_LENGTH = 2000
"""Characters in a flood message: the most the bot takes (bot.messages.MAX_TEXT_LENGTH)."""
MODES = ("none (baseline)", "no cookie", "made-up cookie each time", "one cookie")
ADDED_TARGET = 1_000_000
P99_TARGET_MS = 100.0
COOKIE = "md_session"


@dataclass
class Sample:
    """One run's figures."""

    growth: int
    """Bytes the database grew while traffic ran."""
    sent: int = 0
    stored: int = 0
    """The flooder's messages answered 200 (handled, and so stored)."""
    refused: int = 0
    """The flooder's messages answered 429."""
    others_ms: list[float] = field(default_factory=list)
    others_failed: int = 0
    """The others' messages not answered 200."""
    cpu: CpuUse = field(default_factory=CpuUse)


@dataclass(frozen=True)
class Row:
    """A setup's medians."""

    database: str
    mode: str
    runs: int
    sent: float
    stored: float
    refused: float
    growth: float
    added: float | None
    """Growth less the baseline's; ``None`` for the baseline itself."""
    p50_ms: float
    p99_ms: float
    others_failed: float
    cpu: CpuUse

    @property
    def meets_target(self) -> bool:
        """Whether the flooder stayed under 1 MB, and the others were answered, p99 < 100 ms."""
        return (
            (self.added or 0) < ADDED_TARGET
            and self.p99_ms < P99_TARGET_MS
            and self.others_failed == 0
        )


# ---------------------------------------------------------------- the database's size


class SqliteSize:
    """The SQLite file and its WAL, after the WAL is checkpointed into the file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    async def __call__(self) -> int:
        return await asyncio.to_thread(self._measure)

    def _measure(self) -> int:
        with contextlib.closing(sqlite3.connect(self._path, timeout=30)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = self._path.with_name(self._path.name + "-wal")
        return self._path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


class PostgresSize:
    """``pg_database_size`` of the bot's database."""

    def __init__(self, url: str) -> None:
        self._url = url.replace("+asyncpg", "")

    async def __call__(self) -> int:
        import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415  # only for PostgreSQL

        connection = await asyncpg.connect(self._url)
        try:
            return int(await connection.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await connection.close()


# ---------------------------------------------------------------- the clients


def _flood_text(rng: random.Random) -> str:
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(FLOOD_LENGTH))


async def _flooder(url: str, mode: str, stop: asyncio.Event, sample: Sample) -> None:
    """Post flood messages from 127.0.0.1 until ``stop``, counting what the bot did with them."""
    rng = random.Random(7)
    texts = [_flood_text(rng) for _ in range(64)]  # made up front: the flooder's CPU is for posting
    jar = aiohttp.DummyCookieJar()  # cookies go by hand, as the mode says
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.1", 0), limit=FLOOD_CONNECTIONS)
    async with aiohttp.ClientSession(url, connector=connector, cookie_jar=jar) as client:
        own = ""
        if mode == "one cookie":
            async with client.get("/") as page:
                own = page.cookies[COOKIE].value
        counter = iter(range(10**9))

        async def one_connection() -> None:
            while not stop.is_set():
                n = next(counter)
                headers = {}
                if mode == "one cookie":
                    headers["Cookie"] = f"{COOKIE}={own}"
                elif mode == "made-up cookie each time":
                    headers["Cookie"] = f"{COOKIE}=flood-{n}-{rng.getrandbits(64):x}"
                body = {"text": texts[n % len(texts)], "id": f"flood-{n}"}
                async with client.post("/api/messages", json=body, headers=headers) as answer:
                    await answer.read()
                    sample.sent += 1
                    if answer.status == 200:
                        sample.stored += 1
                    elif answer.status == 429:
                        sample.refused += 1

        await asyncio.gather(*(one_connection() for _ in range(FLOOD_CONNECTIONS)))


async def _person(
    url: str, address: str, asked: list[str], start: float, duration: float, sample: Sample
) -> None:
    """Send a question a second from ``address`` on a timetable, timing each answer."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    jar = aiohttp.CookieJar(unsafe=True)  # a browser keeps the cookie of an IP address
    async with aiohttp.ClientSession(url, connector=connector, cookie_jar=jar) as client:
        async with client.get("/") as page:
            await page.read()
        n = 0
        while (due := start + n) < start + duration:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            body = {"text": asked[n % len(asked)], "id": f"{address.replace('.', '-')}-{n}"}
            sent = time.monotonic()
            async with client.post("/api/messages", json=body) as answer:
                await answer.read()
                if answer.status == 200:
                    sample.others_ms.append((time.monotonic() - sent) * 1000)
                else:
                    sample.others_failed += 1
            n += 1


# ---------------------------------------------------------------- one run, the setups


async def _run_once(
    database: str, mode: str, duration: float, asked: list[str], db_url: str | None
) -> Sample:
    settings = {"BOT_DATABASE_URL": db_url} if db_url else {}
    async with bot_process(f"flood-{database.lower()}", settings) as bot:
        url = bot.url
        size: Callable[[], Awaitable[int]] = (
            PostgresSize(db_url) if db_url else SqliteSize(bot.log.parent / "bot.db")
        )
        before = await size()
        sample = Sample(growth=0)
        meter = CpuMeter(bot.pid, None)
        stop = asyncio.Event()
        start = time.monotonic() + 0.5
        people = [
            _person(url, f"127.0.0.{2 + k}", asked[k::OTHERS], start, duration, sample)
            for k in range(OTHERS)
        ]
        flooding = None
        if mode != MODES[0]:
            flooding = asyncio.create_task(_flooder(url, mode, stop, sample))
        await asyncio.gather(*people)
        stop.set()
        if flooding is not None:
            await flooding
        sample.cpu = meter.read()
        sample.growth = await size() - before
    return sample


@contextlib.asynccontextmanager
async def _database(name: str) -> AsyncIterator[str | None]:
    """``None`` for SQLite (the bot's own file), a scratch PostgreSQL database's URL otherwise."""
    if name == "SQLite":
        yield None
        return
    async with scratch_database(POSTGRES_URL) as url:
        yield url


async def _setups(quick: bool) -> list[Row | str]:
    duration = 10.0 if quick else DURATION_S
    runs = 1 if quick else RUNS
    asked = [question for question, _ in questions()]
    rows: list[Row | str] = []
    for database in ("SQLite", "PostgreSQL"):
        baseline_growth = 0.0
        for mode in MODES:
            samples = []
            try:
                for _ in range(runs):
                    async with _database(database) as db_url:
                        samples.append(await _run_once(database, mode, duration, asked, db_url))
            except OSError as problem:  # PostgreSQL not reachable
                rows.append(f"{database}: skipped ({problem})")
                break
            growth = statistics.median(s.growth for s in samples)
            if mode == MODES[0]:
                baseline_growth = growth
            rows.append(
                Row(
                    database=database,
                    mode=mode,
                    runs=runs,
                    sent=statistics.median(s.sent for s in samples),
                    stored=statistics.median(s.stored for s in samples),
                    refused=statistics.median(s.refused for s in samples),
                    growth=growth,
                    added=None if mode == MODES[0] else growth - baseline_growth,
                    p50_ms=statistics.median(percentile(s.others_ms, 0.5) for s in samples),
                    p99_ms=statistics.median(percentile(s.others_ms, 0.99) for s in samples),
                    others_failed=statistics.median(s.others_failed for s in samples),
                    cpu=median_cpu([s.cpu for s in samples]),
                )
            )
    return rows


def run(quick: bool = False) -> list[Row | str]:
    """Every setup; ``quick``: 10 s, one run each (a smoke run, not a measurement)."""

    async def main() -> list[Row | str]:
        cancel_on_sigterm()
        return await _setups(quick)

    return asyncio.run(main())


def print_table(rows: list[Row | str], quick: bool = False) -> None:
    """The table, with the targets and what to know."""
    duration = 10 if quick else int(DURATION_S)
    runs = next((row.runs for row in rows if isinstance(row, Row)), 0)
    cells = []
    for row in rows:
        if isinstance(row, str):
            cells.append([row, *[""] * 12])
            continue
        cells.append(
            [
                row.database,
                row.mode,
                f"{row.sent:,.0f}",
                f"{row.stored:,.0f}",
                f"{row.refused:,.0f}",
                f"{row.growth / 1e6:,.2f} MB",
                "—" if row.added is None else f"{row.added / 1e6:,.2f} MB",
                "—"
                if row.added is None or not row.stored
                else f"{row.added / row.stored / 1e3:,.1f} KB",
                f"{row.p50_ms:,.1f}",
                f"{row.p99_ms:,.1f}",
                f"{row.others_failed:,.0f}",
                "—" if row.cpu.own[0] is None else f"{row.cpu.own[0]:.2f}",
                "✓" if row.meets_target else "✗",
            ]
        )
    print_markdown(
        f"Web chat flood: {duration} s from one address, five others writing meanwhile",
        f"One flooder posts {FLOOD_LENGTH:,}-character messages with {FLOOD_CONNECTIONS} "
        f"connections; {OTHERS} people at other addresses send a question a second each. "
        f"Medians of {runs} run(s); each run "
        "is a fresh `python -m bot run` on a fresh database.",
        (
            [
                "database",
                "flood",
                "flooder sent",
                "stored (200)",
                "refused (429)",
                "DB growth",
                "added by the flooder",
                "per stored message",
                "others p50 (ms)",
                "others p99 (ms)",
                "others refused",
                "bot CPU (cores)",
                "target",
            ],
            "llrrrrrrrrrrc",
        ),
        cells,
        f"Targets: the flooder adds < {ADDED_TARGET / 1e6:.0f} MB in 60 s; the others' p99 "
        f"< {P99_TARGET_MS:.0f} ms, none of their messages refused.",
        [
            "The limits are per process: N processes behind one proxy let through N times as "
            "much; nginx `limit_req` on `/api/messages` is the brake they share.",
            *(
                note
                for row in rows
                if isinstance(row, Row)
                for note in cpu_notes(f"{row.database}, {row.mode}", row.cpu)
            ),
        ]
        + (
            ["--quick: 10 s and one run per setup, a smoke run; not a measurement."]
            if quick
            else []
        ),
    )


def main() -> None:
    """``python -m bench.flood [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.flood")
    parser.add_argument("--quick", action="store_true", help="10 s and one run per setup")
    args = parser.parse_args()
    print_table(run(quick=args.quick), quick=args.quick)


if __name__ == "__main__":
    main()
