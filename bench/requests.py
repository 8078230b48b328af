"""Request-creation throughput: ``/new text`` through the real dispatcher, SQLite and PostgreSQL.

Each run builds the bot as ``python -m bot run`` does (``create_bot``: demo roster, shipped
knowledge base, migrations) on a fresh database, then:

* setup, untimed: every one of ``requests`` distinct web users presses ``space:<id>`` (the six
  demo maker spaces in turn), so the bot knows their maker space;
* timed: every user sends ``/new <text>`` once, through
  ``Dispatcher.handle(…, inline=InlinePolicy())`` exactly as the web chat adapter calls it —
  inbound dedup, person lookup, request number, request + event + outbox rows. With the lane
  (the bot as it runs), that is the quick lane: on SQLite a unit on the writer thread, on
  PostgreSQL a plan in PostgreSQL's writer's batch, committed with the others that arrive while
  a batch runs. The baseline, in the same run, is the same bot behind a dispatcher without the
  lane: one ORM transaction per message, the full path. ``concurrency`` asyncio tasks take the
  messages from one queue.

The clock is a :class:`~bot.clock.ManualClock` standing at Monday 2026-11-23 10:00 Shanghai
time (a working day of a year the calendar knows), so every run dates its requests the same way.

SQLite is a file database in a temporary folder with the product's own engine settings (WAL,
see ``storage/database.py``). PostgreSQL is a scratch database created on
``BOT_BENCH_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) and
dropped afterwards; when the server is not reachable its rows say so instead of failing.

Every configuration runs three times; the table shows the median of each figure. The machine
may be shared: compare a lane row with the baseline row beside it, not with another run's.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs; tests use it the same way
from sqlalchemy import func, select

import knowledge
from bench.procs import POSTGRES_URL, scratch_database
from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Sender
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import load_settings
from handlers import ROUTERS
from handlers.basics import unknown
from storage.models import Request

SHIPPED_FAQ = Path(knowledge.__file__).parent / "faq"
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working day
TARGET = 1000.0  # requests/s on SQLite (issue 18, at concurrency 16)
REPEATS = 3
CONCURRENCY = (1, 16)
LANE = "lane"
BASELINE = "full path (baseline)"
TEXTS = (
    "想咨询公司注册需要哪些材料",
    "我们团队想申请创业补贴，需要准备什么",
    "工位租金可以减免吗",
    "想了解知识产权专利申请的流程",
    "需要对接天使投资和融资渠道",
    "社保和税务登记怎么办理",
    "能不能帮忙联系高校的技术专家",
    "想参加创业培训和路演活动",
)


@dataclass(frozen=True)
class Sample:
    requests: int
    wall_s: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass(frozen=True)
class Row:
    database: str
    path: str
    concurrency: int
    requests: int
    wall_s: float
    per_s: float
    p50_ms: float
    p99_ms: float
    skipped: str | None = None

    @property
    def target(self) -> str:
        if self.skipped is not None or (self.database, self.path, self.concurrency) != (
            "SQLite",
            LANE,
            16,
        ):
            return "—"
        return "✓" if self.per_s >= TARGET else "✗"


@asynccontextmanager
async def _sqlite() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}"


async def _postgres_reachable() -> bool:
    try:
        connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


async def _start(url: str) -> Bot:
    # Explicit values and no .env, so a setting of the machine cannot change the bench.
    settings = load_settings(
        database_url=url, knowledge_dir=SHIPPED_FAQ, roster=None, calendar=None, _env_file=None
    )
    return await create_bot(settings, ManualClock(MONDAY))


def _message(bot: Bot, user: int, text: str = "", choice: str | None = None) -> IncomingMessage:
    sender = Sender(Channel.WEB, f"bench-{user}", f"创业者{user}")
    key = f"web:{sender.user_id}:{'space' if choice else 'new'}"
    return IncomingMessage(sender, sender.user_id, text, key, bot.clock.now(), choice=choice)


def _without_lane(bot: Bot) -> Dispatcher:
    """The bot's dispatcher as it was before the quick lane: every message on the full path."""
    plain = Dispatcher(bot.services, fallback=unknown)
    plain.include(*ROUTERS)
    return plain


async def _one_run(url: str, count: int, concurrency: int, path: str) -> Sample:
    bot = await _start(url)
    try:
        spaces = [s.id for s in bot.services.roster.current.spaces]
        handle = (bot.dispatcher if path == LANE else _without_lane(bot)).handle
        for user in range(count):  # setup, untimed: the bot learns each user's maker space
            await handle(
                _message(bot, user, choice=f"space:{spaces[user % len(spaces)]}"),
                inline=InlinePolicy(),
            )
        messages = [_message(bot, u, f"/new {TEXTS[u % len(TEXTS)]}") for u in range(count)]
        queue = iter(messages)
        latencies: list[float] = []

        async def worker() -> None:
            for message in queue:  # one shared iterator: each message is taken exactly once
                start = time.perf_counter()
                await handle(message, inline=InlinePolicy())
                latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
        async with bot.database.sessions() as session:
            opened = await session.scalar(select(func.count(Request.id)))
            numbers = await session.scalar(select(func.count(func.distinct(Request.number))))
        if opened != count or numbers != count:
            raise AssertionError(f"expected {count} requests, found {opened} ({numbers} numbers)")
        return Sample(count, wall, latencies)
    finally:
        await bot.close()


async def _measure(database: str, count: int, concurrency: int) -> list[Row]:
    """The lane's row and the baseline's, their runs taking turns so both see the same load."""
    samples: dict[str, list[Sample]] = {LANE: [], BASELINE: []}
    for _ in range(REPEATS):
        for path, taken in samples.items():
            fresh = _sqlite() if database == "SQLite" else scratch_database()
            async with fresh as url:
                taken.append(await _one_run(url, count, concurrency, path))
    return [_row(database, path, count, concurrency, taken) for path, taken in samples.items()]


def _row(database: str, path: str, count: int, concurrency: int, samples: list[Sample]) -> Row:
    return Row(
        database,
        path,
        concurrency,
        count,
        statistics.median(s.wall_s for s in samples),
        statistics.median(s.rate for s in samples),
        statistics.median(s.percentile(0.50) for s in samples),
        statistics.median(s.percentile(0.99) for s in samples),
    )


async def _run(quick: bool) -> list[Row]:
    count = 300 if quick else 3000
    rows = [row for c in CONCURRENCY for row in await _measure("SQLite", count, c)]
    if await _postgres_reachable():
        rows += [row for c in CONCURRENCY for row in await _measure("PostgreSQL", count, c)]
    else:
        rows += [
            Row("PostgreSQL", path, c, 0, 0, 0, 0, 0, "skipped: not reachable")
            for c in CONCURRENCY
            for path in (LANE, BASELINE)
        ]
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure opening ~300 (quick) or 3,000 requests on SQLite and PostgreSQL, 1 and 16 tasks.

    Each with the quick lane and, as the baseline in the same run, without it.
    """
    return asyncio.run(_run(quick))


def print_table(rows: Sequence[Row]) -> None:
    print("\n## Service requests: opening throughput (`/new text` through the dispatcher)\n")
    print(
        f"Fresh database per run, median of {REPEATS} runs; ManualClock; demo roster; "
        f"target ≥ {TARGET:.0f} requests/s on SQLite at concurrency 16 (the lane). "
        "Each lane row has its baseline (no lane: the ORM's full path) beside it, "
        "their runs taking turns; the machine may be shared, so compare within a run.\n"
    )
    print(
        "| database | path | concurrency | requests | wall (s) | requests/s | × baseline "
        "| p50 (ms) | p99 (ms) | target |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    baselines = {(r.database, r.concurrency): r.per_s for r in rows if r.path == BASELINE}
    for r in rows:
        if r.skipped is not None:
            print(f"| {r.database} | {r.path} | {r.concurrency} | {r.skipped} | | | | | | — |")
            continue
        base = baselines.get((r.database, r.concurrency))
        times = f"{r.per_s / base:.1f}" if r.path == LANE and base else "—"
        print(
            f"| {r.database} | {r.path} | {r.concurrency} | {r.requests:,} | {r.wall_s:.2f} "
            f"| {r.per_s:,.0f} | {times} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.target} |"
        )
