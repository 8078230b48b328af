"""Ratings throughput: the stars under a result through the real dispatcher, lane on and off.

Each run builds the bot as :mod:`bench.requests` does (``create_bot``, demo roster, shipped
knowledge base) on a fresh SQLite file, then:

* setup, untimed: every one of ``count`` distinct web users picks a maker space and opens a
  request (``/new text``); the requests are then marked resolved in one statement;
* timed: every user presses ``req:rate:<number>:5`` once, through
  ``Dispatcher.handle(…, inline=InlinePolicy())`` as the web chat adapter calls it, from
  ``CONCURRENCY`` asyncio tasks. "lane on" is the bot's own dispatcher (the rating is a unit of
  SQLite's writer, :mod:`bot.desk.quick_moves`); "lane off" a dispatcher without the quick lane
  on the same services (one ORM transaction per press, as before).

Both rows come from the same invocation, alternating, three runs each; the table shows medians.
Every run checks that each request got its one rating.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.requests import REPEATS, TEXTS, Sample, _sqlite, _start
from bot.app import Bot
from bot.messages import Channel, IncomingMessage, Sender
from bot.routing import Dispatcher, InlinePolicy
from handlers import ROUTERS
from handlers.basics import unknown

CONCURRENCY = 16


@dataclass(frozen=True)
class Row:
    lane: str
    presses: int
    per_s: float
    p50_ms: float
    p99_ms: float


def _message(
    bot: Bot, user: int, key: str, text: str = "", choice: str | None = None
) -> IncomingMessage:
    sender = Sender(Channel.WEB, f"bench-{user}", f"创业者{user}")
    return IncomingMessage(sender, sender.user_id, text, key, bot.clock.now(), choice=choice)


async def _one_run(url: str, count: int, lane: bool) -> Sample:
    bot = await _start(url)
    try:
        spaces = [s.id for s in bot.services.roster.current.spaces]
        setup = bot.dispatcher.handle
        for user in range(count):
            space = f"space:{spaces[user % len(spaces)]}"
            await setup(_message(bot, user, f"s{user}", choice=space), inline=InlinePolicy())
            text = f"/new {TEXTS[user % len(TEXTS)]}"
            await setup(_message(bot, user, f"n{user}", text), inline=InlinePolicy())
        assert bot.database.file is not None
        with sqlite3.connect(bot.database.file) as database:
            database.execute("UPDATE requests SET status = 'resolved', resolved_at = updated_at")
            numbers = dict(database.execute("SELECT chat_id, number FROM requests"))
        dispatcher = bot.dispatcher
        if not lane:
            dispatcher = Dispatcher(bot.services, fallback=unknown)
            dispatcher.include(*ROUTERS)
        presses = [
            _message(bot, u, f"r{u}", choice=f"req:rate:{numbers[f'bench-{u}']}:5")
            for u in range(count)
        ]
        queue = iter(presses)
        latencies: list[float] = []

        async def worker() -> None:
            for message in queue:  # one shared iterator: each press is taken exactly once
                start = time.perf_counter()
                await dispatcher.handle(message, inline=InlinePolicy())
                latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - start
        with sqlite3.connect(bot.database.file) as database:
            rated = database.execute(
                "SELECT count(*) FROM requests WHERE satisfaction = 5"
            ).fetchone()[0]
        if rated != count:
            raise AssertionError(f"expected {count} ratings, found {rated}")
        return Sample(count, wall, latencies)
    finally:
        await bot.close()


async def _run(quick: bool) -> list[Row]:
    count = 200 if quick else 600
    samples: dict[bool, list[Sample]] = {True: [], False: []}
    for _ in range(REPEATS):
        for lane in (True, False):
            async with _sqlite() as url:
                samples[lane].append(await _one_run(url, count, lane))
    return [
        Row(
            "on" if lane else "off",
            count,
            statistics.median(s.rate for s in taken),
            statistics.median(s.percentile(0.50) for s in taken),
            statistics.median(s.percentile(0.99) for s in taken),
        )
        for lane, taken in samples.items()
    ]


def run(quick: bool = False) -> list[Row]:
    """Measure ~200 (quick) or 600 ratings on SQLite, the quick lane on and off."""
    return asyncio.run(_run(quick))


def print_table(rows: Sequence[Row]) -> None:
    print("\n## Ratings: the stars under a result, through the dispatcher on SQLite\n")
    print(
        f"Fresh database per run, median of {REPEATS} runs, lane on and off alternating in the "
        f"same invocation; {CONCURRENCY} tasks; ManualClock; demo roster.\n"
    )
    print("| quick lane | presses | ratings/s | p50 (ms) | p99 (ms) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.lane} | {r.presses:,} | {r.per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |")


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
