"""One phase: the crowd against bot processes on one scratch PostgreSQL database, and a run.

Before the processes start, requests are opened on a clock weeks back, so both processes'
schedulers race to send overdue notices and escalations meanwhile. In a faulty phase a random
process gets ``SIGKILL`` at random points of the stream and is started again at once, as
systemd's ``Restart=always`` would; right after each kill the rows **in flight** are noted: those
a platform already has that the database does not record as sent. At the end, once the outbox is
empty (or ``drain_s`` has passed), each entrepreneur's tag must be in exactly one request, and
the checker compares what was written with what arrived.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bench.faults.balancer import Balancer, Node, Refused
from bench.faults.checker import Kill, Outcome, check_deliveries
from bench.faults.crowd import Crowd, TelegramVoice, WeChatVoice, entrepreneur
from bench.faults.inbox import Inbox
from bench.faults.scenario import (
    APP_ID,
    APP_SECRET,
    SPACES,
    TOKEN,
    WECHAT_AES_KEY,
    WECHAT_TOKEN,
    Plan,
    city_roster,
    inbound_of,
    plans,
)
from bench.load import questions
from bench.procs import POSTGRES_URL, SHIPPED_FAQ, scratch_database
from bot.app import create_bot
from bot.clock import SHANGHAI, ManualClock
from bot.messages import Channel, IncomingMessage, Sender
from bot.settings import load_settings
from storage import Database
from storage.models import OutboxMessage, OutboxStatus, Request
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import FakeWeChat
from tests.support.processes import clean_env

KILL_SETTLE_S = 0.3
"""After a kill, how long the fakes may take to answer what the dead process had already written
to their sockets, before the rows in flight are noted (they share this process's busy loop)."""


@dataclass(frozen=True)
class Seeded:
    """The outbox rows the overdue requests' opening wrote."""

    written: set[int]
    sent: set[int]
    """Handed back as replies at once, to no platform: not part of the comparison."""


async def open_overdue(url: str, roster: Path, count: int) -> Seeded:
    """Open ``count`` requests on a clock five weeks back; the outbox rows that wrote.

    They are overdue when the processes start, so their schedulers have notices to send at
    once. Everything these requests ask to send waits in the outbox for the processes.
    """
    today = datetime.now(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday() + 35)
    clock = ManualClock(datetime(monday.year, monday.month, monday.day, 2, 0, tzinfo=UTC))
    settings = load_settings(
        database_url=url,
        knowledge_dir=SHIPPED_FAQ,
        roster=roster,
        calendar=None,
        web_chat=False,
        _env_file=None,
    )
    bot = await create_bot(settings, clock)
    try:
        for index in range(count):
            user = str(700_000 + index)
            sender = Sender(Channel.TELEGRAM, user)
            for key, text, choice in (
                ("space", "", f"space:s{index % SPACES}"),
                ("new", f"/new O{index:05d} 想咨询高新技术企业认定的条件", None),
            ):
                message = IncomingMessage(
                    sender, user, text, f"seed:{index}:{key}", clock.now(), choice=choice
                )
                await bot.dispatcher.handle(message)
        async with bot.database.sessions() as session:
            written = (await session.execute(select(OutboxMessage.id, OutboxMessage.status))).all()
        handed_back = {i for i, status in written if status == OutboxStatus.HANDED_BACK}
        return Seeded({i for i, _ in written}, handed_back)
    finally:
        await bot.close()


async def run_phase(plan: Plan, server_url: str = POSTGRES_URL) -> Outcome:
    """One phase: the crowd against ``plan.processes`` processes, killed ``plan.kills`` times."""
    outcome = Outcome(plan)
    rng = random.Random(plan.seed)
    timeout = aiohttp.ClientTimeout(total=10)
    with tempfile.TemporaryDirectory(prefix="makerdesk-faults-") as tmp:
        folder = Path(tmp)
        roster = folder / "roster.yaml"
        roster.write_text(city_roster(), encoding="utf-8")
        async with (
            scratch_database(server_url) as url,
            FakeTelegram(token=TOKEN) as telegram,
            FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as wechat,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=plan.concurrency * 2), timeout=timeout
            ) as client,
        ):
            seeded = await open_overdue(url, roster, plan.overdue)
            env = clean_env() | {
                "BOT_DATABASE_URL": url,
                "BOT_KNOWLEDGE_DIR": str(SHIPPED_FAQ),
                "BOT_ROSTER": str(roster),
                "BOT_HTTP_HOST": "127.0.0.1",
                "BOT_WEB_CHAT": "false",
                "BOT_TELEGRAM_TOKEN": TOKEN,
                "BOT_TELEGRAM_API_URL": telegram.root,
                # The address in front of every process, as Telegram knows it.
                "BOT_TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:9",
                "BOT_WECHAT_TOKEN": WECHAT_TOKEN,
                "BOT_WECHAT_APP_ID": APP_ID,
                "BOT_WECHAT_APP_SECRET": APP_SECRET,
                "BOT_WECHAT_AES_KEY": WECHAT_AES_KEY,
                "BOT_WECHAT_API_URL": wechat.root,
                "BOT_OUTBOX_LEASE": str(plan.lease_s),
                "BOT_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
            nodes = [Node(i, env, folder) for i in range(plan.processes)]
            for node in nodes:
                await node.start()
            try:
                await _load(plan, outcome, rng, nodes, telegram, wechat, client, url, seeded)
            finally:
                for node in nodes:
                    await node.stop()
                outcome.logged_errors = [line for node in nodes for line in node.complaints()]
    return outcome


async def _load(
    plan: Plan,
    outcome: Outcome,
    rng: random.Random,
    nodes: list[Node],
    telegram: FakeTelegram,
    wechat: FakeWeChat,
    client: aiohttp.ClientSession,
    url: str,
    seeded: Seeded,
) -> None:
    inbox = Inbox(telegram, wechat)
    stop = asyncio.Event()
    watcher = asyncio.create_task(inbox.watch(stop))
    secret = telegram.webhook.secret_token or ""
    crowd = Crowd(telegram, wechat, inbox, Balancer(nodes), client, questions(), secret, outcome)
    people: list[Callable[[], Awaitable[None]]] = []
    for index in range(plan.entrepreneurs):
        voice = TelegramVoice(crowd, index) if index % 2 == 0 else WeChatVoice(crowd, index)
        people.append(lambda voice=voice, index=index: entrepreneur(crowd, voice, index))  # type: ignore[misc]
    rng.shuffle(people)
    total = sum(inbound_of(index) for index in range(plan.entrepreneurs))
    outcome.started = started = time.monotonic()
    killer = asyncio.create_task(_kill(plan, outcome, rng, nodes, crowd, client, total, url))
    queue = iter(people)

    async def person() -> None:
        for script in queue:
            try:
                await script()
            except (TimeoutError, Refused) as error:
                outcome.unanswered.append(f"{type(error).__name__}: {error}")

    try:
        await asyncio.gather(*(person() for _ in range(plan.concurrency)))
        outcome.wall_s = time.monotonic() - started
        await killer
        outcome.asked = len(crowd.asked_tags)
        outcome.retried_posts = crowd.balancer.retries
        drained = time.monotonic()
        await _drain(url, inbox, plan.drain_s)
        outcome.drain_s = time.monotonic() - drained
    finally:
        killer.cancel()
        stop.set()
        await watcher
    await _compare(outcome, crowd, url, seeded)


async def _kill(
    plan: Plan,
    outcome: Outcome,
    rng: random.Random,
    nodes: list[Node],
    crowd: Crowd,
    client: aiohttp.ClientSession,
    total: int,
    url: str,
) -> None:
    """``SIGKILL`` a random process at ``plan.kills`` random points of the stream, note the rows
    in flight, restart it."""
    points = sorted(rng.uniform(0.05, 0.85) * total for _ in range(plan.kills))
    database = Database(url)
    try:
        for point in points:
            while crowd.progress < point:
                crowd.progressed.clear()
                await crowd.progressed.wait()
            node = rng.choice(nodes)
            at = time.monotonic()
            await node.kill()
            in_flight = await _in_flight(crowd.inbox, database)
            outcome.kills.append(Kill(at, node.index, in_flight))
            await node.start()
    finally:
        await database.close()


async def _in_flight(inbox: Inbox, database: Database) -> frozenset[int]:
    """The rows a platform has (by id) that the database does not record as sent.

    Taken once the killed process is gone, so it can record nothing more; what it had already
    written to a fake's socket is given :data:`KILL_SETTLE_S` to be answered first. Rows the live
    process is delivering at that moment are among them too: its record may not be in yet.
    """
    await asyncio.sleep(KILL_SETTLE_S)  # the fakes answer what reached their sockets
    inbox.read_fakes()
    reached = set(inbox.reached)
    async with database.sessions() as session:
        unrecorded = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status.not_in((OutboxStatus.SENT, OutboxStatus.HANDED_BACK))
            )
        )
        return frozenset(reached.intersection(unrecorded))


async def _drain(url: str, inbox: Inbox, limit: float) -> None:
    """Wait until nothing is left to send and the platforms have had it all, or ``limit``."""
    database = Database(url)
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            async with database.sessions() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.PENDING)
                )
            if not pending:
                break
            await asyncio.sleep(0.2)  # the processes are sending; the database is the record
        await asyncio.sleep(0.3)  # a delivery recorded just now reaches the fake's record
        inbox.read_fakes()
    finally:
        await database.close()


async def _compare(outcome: Outcome, crowd: Crowd, url: str, seeded: Seeded) -> None:
    """Requests against what was asked; every outbox row against its copies
    (:func:`~bench.faults.checker.check_deliveries`)."""
    database = Database(url)
    try:
        async with database.sessions() as session:
            opened = (await session.execute(select(Request.id, Request.text))).all()
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.channel.in_(["telegram", "wechat"]))
                    .order_by(OutboxMessage.id)
                )
            ).all()
    finally:
        await database.close()
    tags = Counter(
        found.group(0) for _, text in opened if (found := re.search(r"[TW]\d{5}", text or ""))
    )
    overdue = {rid for rid, text in opened if re.search(r"O\d{5}", text or "")}
    outcome.created = sum(tags.values())
    outcome.duplicate_requests = sum(n - 1 for n in tags.values() if n > 1)
    outcome.missing_requests = sum(1 for tag in crowd.asked_tags if tag not in tags)
    # Handed back while they were opened, to no platform: not part of the comparison.
    written = [row for row in rows if row.id not in seeded.sent]
    outcome.notices = sum(
        1 for row in written if row.request_id in overdue and row.id not in seeded.written
    )
    check_deliveries(outcome, written, crowd.inbox.arrivals)


@dataclass
class Report:
    """A run: one process, two, then two killed at random, on the same load."""

    outcomes: list[Outcome]


def run(quick: bool = False) -> Report:
    """Every phase of :func:`plans`, one after the other."""
    return Report([asyncio.run(run_phase(plan)) for plan in plans(quick)])
