"""Outbox delivery: how fast the outbox sender empties a full outbox to a fake platform.

Handlers never talk to a platform: what they return waits in the outbox until
:class:`bot.sender.OutboxSender` delivers it (requests' cards, replies relayed from a duty group,
the scheduler's notices, answers a webhook response could not carry). This measures that way
out. Each run builds the bot as ``python -m bot run`` does (``create_bot``: demo roster, shipped
knowledge base, migrations) with the Telegram channel pointed at a fake Bot API, on a fresh
database (a SQLite file in a temporary folder, or a scratch database on the PostgreSQL server
``BOT_BENCH_POSTGRES_URL`` names; when it does not answer, its rows say so). Untimed, it queues
``messages`` text messages in one transaction, spread over ``messages / PER_CHAT`` private chats
in turn (a chat's messages go out in order, chats side by side); then it starts the sender's
own loop (:meth:`~bot.sender.OutboxSender.run`) and times it until the database holds every
message as sent, reading the outbox every ``POLL_S``.

Two ways out, both through the real sender, its claims and its bookkeeping, over HTTP to the
fake in a process of its own (``python -m bench.delivery fake``: ``tests.support.fake_telegram``'s
Bot API, which notes every call with the outbox row it names):

* **the Telegram channel** as shipped (``TelegramChannel``: PTB, its HTTP pool, and its
  ``AIORateLimiter``, which keeps a bot within Telegram's 30 messages a second): what users get;
* **a bare deliverer**: one JSON ``sendMessage`` POST per message over an aiohttp session, the
  least a channel can do; what the sender itself can deliver, which the target is about.

Afterwards the fake is asked what reached it: a message missing, one sent twice or one whose
call did not name its outbox row shows under the table. The CPU column is CPU seconds per wall
second of this process (the sender, its database work and the client) and of the fake; a run
disturbed by the rest of the machine, or by steal time, says so under the table. Every setup
runs three times and the table shows the medians (``--quick``: once, on fewer messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bench.cpu import CpuMeter, CpuUse, cpu_notes
from bench.figures import median_cpu, print_markdown
from bench.procs import (
    POSTGRES_URL,
    SHIPPED_FAQ,
    Child,
    cancel_on_sigterm,
    child,
    cli,
    postgres_reachable,
    scratch_database,
)
from bot.app import Bot, create_bot
from bot.delivery import Delivered, Deliverer, DeliveryError, outbox_headers
from bot.messages import Channel, OutgoingMessage
from bot.sender import OutboxSender
from bot.settings import load_settings
from storage import outbox
from storage.models import OutboxMessage, OutboxStatus
from tests.support.fake_telegram import FakeTelegram

TOKEN = "123:delivery"
TARGET = 1000.0
"""Messages/s the sender delivers to a fake platform (issue 18)."""
PER_CHAT = 5
"""Messages queued per chat."""
FIRST_CHAT = 8_000_000_000
POLL_S = 0.02
"""How often the outbox is read for the messages sent."""
TEXT = (
    "第{n}条：您好，您的工单已提交，服务专员将在3个工作日内与您联系。"
    "如需补充材料，请直接回复本消息。"
)
COLUMNS = (
    "way out", "database", "messages", "chats", "delivered", "wall (s)", "messages/s",
    "at the fake", "CPU sender · fake", "target",
)  # fmt: skip

Json = dict[str, Any]


@dataclass(frozen=True)
class DeliveryPlan:
    """How much one benchmark does."""

    messages: int
    """Messages queued for the bare deliverer."""
    channel_messages: int
    """Messages queued for the Telegram channel (30 a second at the most)."""
    repeats: int
    wait_s: float
    """A run gives up this long after the sender started."""


FULL = DeliveryPlan(messages=5000, channel_messages=300, repeats=3, wait_s=60.0)
QUICK = DeliveryPlan(messages=500, channel_messages=60, repeats=1, wait_s=20.0)
WAYS = (
    ("bare", "OutboxSender → bare HTTP deliverer"),
    ("channel", "OutboxSender → Telegram channel (PTB, 30/s limiter)"),
)


# ---------------------------------------------------------------- the fake (helper process)


class _Fake(FakeTelegram):
    """The tests' fake Bot API served by :func:`bench.procs.serve`, with a count of arrivals.

    ``benchSent`` (a method only it has) tells how many ``sendMessage`` calls succeeded, how
    many outbox rows they named, and how many rows came twice or calls named none;
    ``benchReset`` forgets every call before the next run.
    """

    def app(self) -> web.Application:
        """The Bot API's routes, for :func:`~bench.procs.serve` (called in its event loop)."""
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _api_benchsent(self, params: Json) -> Json:
        sent = [c for c in self.calls if c.method.lower() == "sendmessage" and c.status == 200]
        rows: dict[int | None, int] = {}
        for call in sent:
            rows[call.outbox_id] = rows.get(call.outbox_id, 0) + 1
        return {
            "calls": len(sent),
            "rows": len([row for row in rows if row is not None]),
            "twice": sum(1 for row, n in rows.items() if row is not None and n > 1),
            "unnamed": rows.get(None, 0),
        }

    async def _api_benchreset(self, params: Json) -> bool:
        self.calls.clear()
        self.messages.clear()
        return True


ROLES = {"fake": lambda: _Fake(token=TOKEN).app()}
"""The helper ``python -m bench.delivery fake`` serves."""


# ---------------------------------------------------------------- the bare deliverer


class _BareDeliverer:
    """A channel as small as it gets: one JSON ``sendMessage`` POST per message."""

    def __init__(self, client: aiohttp.ClientSession, root: str) -> None:
        self._client = client
        self._url = f"{root}/bot{TOKEN}/sendMessage"

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Send ``message``'s text to its chat, naming its outbox row as the channels do."""
        call = {"chat_id": int(message.chat_id), "text": message.text}
        try:
            async with self._client.post(self._url, json=call, headers=outbox_headers()) as sent:
                body = await sent.json()
        except (aiohttp.ClientError, ValueError) as error:
            raise DeliveryError(type(error).__name__) from None
        if not body.get("ok"):
            raise DeliveryError(str(body.get("description")))
        return Delivered(str(body["result"]["message_id"]))


# ---------------------------------------------------------------- one run


@dataclass(frozen=True)
class _Sample:
    queued: int
    delivered: int
    wall_s: float
    cpu: CpuUse
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.delivered / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class Row:
    """A setup's line: every figure the median over its runs, or why it did not run."""

    way: str
    database: str
    messages: int
    delivered: int
    wall_s: float
    per_s: float
    cpu: CpuUse
    problems: list[str]
    skipped: str | None = None

    @property
    def target(self) -> str:
        """Whether the bare way out reaches :data:`TARGET` ("—": not its row)."""
        if self.skipped is not None or self.way != dict(WAYS)["bare"]:
            return "—"
        return "✓" if self.per_s >= TARGET else "✗"


@contextlib.asynccontextmanager
async def _database(name: str) -> AsyncIterator[str]:
    if name == "PostgreSQL":
        async with scratch_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-delivery-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}"


async def _start(url: str, fake_root: str) -> Bot:
    # Explicit values and no .env, so a setting of the machine cannot change the bench.
    settings = load_settings(
        database_url=url,
        knowledge_dir=SHIPPED_FAQ,
        roster=None,
        calendar=None,
        telegram_token=TOKEN,
        telegram_api_url=fake_root,
        _env_file=None,
    )
    return await create_bot(settings)


async def _queue(bot: Bot, count: int) -> None:
    """``count`` messages to ``count / PER_CHAT`` chats in turn, due now, in one transaction."""
    chats = max(1, count // PER_CHAT)
    now = bot.clock.now()
    async with bot.database.transaction() as session:
        for n in range(count):
            chat = str(FIRST_CHAT + n % chats)
            message = OutgoingMessage(chat, Channel.TELEGRAM, TEXT.format(n=n))
            outbox.enqueue(
                session, channel="telegram", chat_id=chat, payload=message.to_payload(), now=now
            )


async def _sent(bot: Bot) -> int:
    async with bot.database.sessions() as session:
        found = await session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == OutboxStatus.SENT)
        )
    return int(found or 0)


async def _call(client: aiohttp.ClientSession, fake: Child, method: str) -> Any:
    async with client.post(f"{fake.root}/bot{TOKEN}/{method}") as response:
        return (await response.json())["result"]


async def _one_run(
    client: aiohttp.ClientSession, fake: Child, database: str, way: str, count: int, wait_s: float
) -> _Sample:
    async with _database(database) as url:
        bot = await _start(url, fake.root)
        try:
            await _queue(bot, count)
            await _call(client, fake, "benchReset")
            sender = bot.sender
            if way == "bare":
                bare: Deliverer = _BareDeliverer(client, fake.root)
                sender = OutboxSender(
                    bot.database,
                    bot.clock,
                    {Channel.TELEGRAM: bare},
                    bot.services.roster,
                    metrics=bot.services.metrics,
                )
            else:
                assert bot.telegram is not None
                await bot.telegram.start()  # getMe, as at the bot's start
            stop = asyncio.Event()
            meter = CpuMeter(os.getpid(), fake.process.pid)
            running = asyncio.create_task(sender.run(stop))
            deadline = meter.started + wait_s
            # The database is the truth of what was sent, and nothing signals it: it is polled.
            while (delivered := await _sent(bot)) < count and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
            wall = time.monotonic() - meter.started
            cpu = meter.read()
            stop.set()
            await running
            if bot.telegram is not None and way == "channel":
                await bot.telegram.stop()
        finally:
            await bot.close()
    seen = await _call(client, fake, "benchSent")
    problems = []
    if delivered < count:
        problems.append(f"{count - delivered:,} of {count:,} not sent within {wait_s:.0f} s")
    if seen["rows"] != delivered:
        problems.append(f"{seen['rows']:,} outbox rows reached the fake, {delivered:,} sent")
    if seen["twice"]:
        problems.append(f"{seen['twice']:,} rows reached the fake twice")
    if seen["unnamed"]:
        problems.append(f"{seen['unnamed']:,} calls named no outbox row")
    # Our own process is the sender here, not a load generator: leave that figure out.
    cpu = CpuUse((cpu.own[0], None, cpu.own[2]), cpu.others, cpu.steal)
    return _Sample(count, delivered, wall, cpu, problems)


async def _measure(
    client: aiohttp.ClientSession, fake: Child, database: str, way: str, plan: DeliveryPlan
) -> Row:
    count = plan.messages if way == "bare" else plan.channel_messages
    samples = [
        await _one_run(client, fake, database, way, count, plan.wait_s) for _ in range(plan.repeats)
    ]
    return Row(
        dict(WAYS)[way],
        database,
        count,
        round(statistics.median(s.delivered for s in samples)),
        statistics.median(s.wall_s for s in samples),
        statistics.median(s.rate for s in samples),
        median_cpu([s.cpu for s in samples]),
        [problem for s in samples for problem in s.problems],
    )


async def _run(plan: DeliveryPlan) -> list[Row]:
    cancel_on_sigterm()
    postgres = await postgres_reachable()
    rows = []
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="makerdesk-")))
        fake = await stack.enter_async_context(child("bench.delivery", "fake", folder))
        for way, name in WAYS:
            for database in ("SQLite", "PostgreSQL"):
                if database == "PostgreSQL" and not postgres:
                    server = POSTGRES_URL.rsplit("@", 1)[-1].rsplit("/", 1)[0]
                    why = f"skipped: no PostgreSQL at {server}"
                    rows.append(Row(name, database, 0, 0, 0.0, 0.0, CpuUse(), [], why))
                    continue
                rows.append(await _measure(client, fake, database, way, plan))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Deliver 5,000 messages (Telegram channel: 300), 3 runs each (quick: 500 and 60, once)."""
    return asyncio.run(_run(QUICK if quick else FULL))


def _cpu(use: CpuUse) -> str:
    sender, _, fake = use.own
    return " · ".join("—" if v is None else f"{v:.2f}" for v in (sender, fake))


def _cells(r: Row) -> tuple[str, ...]:
    if r.skipped is not None:
        return (r.way, r.database, r.skipped, *([""] * (len(COLUMNS) - 4)), "—")
    fine = "all, once each" if not r.problems else "see below"
    return (
        r.way, r.database, f"{r.messages:,}", f"{max(1, r.messages // PER_CHAT):,}",
        f"{r.delivered:,}", f"{r.wall_s:.2f}", f"{r.per_s:,.0f}", fine, _cpu(r.cpu), r.target,
    )  # fmt: skip


def print_table(rows: Sequence[Row], quick: bool = False) -> None:
    """Print ``rows`` as a Markdown table, the target under it, then what went wrong."""
    plan = QUICK if quick else FULL
    notes = []
    for r in rows:
        notes += [f"{r.way}, {r.database}: {problem}." for problem in r.problems]
        notes += cpu_notes(f"{r.way}, {r.database}", r.cpu)
    print_markdown(
        "Outbox delivery: the sender empties a full outbox to a fake Bot API",
        f"Messages queued untimed ({PER_CHAT} per private chat, chats in turn), then the "
        "sender's own loop runs until the database holds every one as sent; over HTTP to the "
        f"fake Bot API in its own process; fresh database per run, median of {plan.repeats} "
        f"run{'s' if plan.repeats > 1 else ''}; {os.cpu_count()} CPUs shared by the sender "
        "and the fake. At the fake: every message arrived once, naming its outbox row.",
        (COLUMNS, "llrrrrrccc"),
        [_cells(r) for r in rows],
        f"Target: ≥ {TARGET:,.0f} messages/s delivered by the sender (the bare way out; the "
        "Telegram channel keeps within Telegram's 30 messages a second by design).",
        notes,
    )


def main() -> None:
    cli(
        "bench.delivery",
        ROLES,
        lambda quick: print_table(run(quick), quick),
        "fewer messages, one run",
    )


if __name__ == "__main__":
    main()
