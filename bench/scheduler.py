"""The scheduler's reminder scan over 100,000 open requests, on SQLite and PostgreSQL.

The requests are written straight into a fresh database (untimed), their due dates spread over
the next 60 working days. Then, at 09:00 Shanghai on a working day:

- ``scan``: finding the notices due now (the query every round runs), best of repeated runs;
- ``round, nothing new``: a whole scheduler round once every due notice has gone out (the
  steady state: what each 30-second round costs);
- ``notices/s``: sending the notices of that morning, as the scheduler does (up to
  :data:`~bot.scheduler.NOTICES_PER_TRANSACTION` in one transaction), and beside it the
  baseline, each in its own transaction, on the same requests: the notices it sent are
  forgotten (their rows deleted) before the scheduler sends them again.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy import delete, insert

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.domain.lifecycle import Status
from bot.domain.roster.load import DEMO_ROSTER
from bot.domain.workdays import end_of_day
from bot.scheduler import Scheduler
from bot.settings import load_settings
from storage.models import Notice, OutboxMessage, Person, Request, RequestEvent

POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCAN_TARGET_S = 0.5
MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 Shanghai


@dataclass(frozen=True)
class Row:
    database: str
    open_requests: int
    due_now: int
    scan_ms: float
    idle_round_ms: float
    notices_per_s: float
    one_per_transaction_per_s: float

    @property
    def meets_target(self) -> bool:
        return self.scan_ms / 1000 < SCAN_TARGET_S


async def _fill(bot: Bot, count: int) -> None:
    calendar = bot.services.calendar.current
    days = [MORNING.date()]
    while len(days) < 60:
        days.append(calendar.next_workday(days[-1]))
    groups = [group.id for group in bot.services.roster.current.groups]
    spaces = [space.id for space in bot.services.roster.current.spaces]
    async with bot.database.sessions.begin() as session:
        person = Person(display_name="压测", language="zh", created_at=MORNING)
        session.add(person)
        await session.flush()
        person_id = person.id
    chunk = 5000
    for start in range(0, count, chunk):
        rows = []
        for n in range(start, min(count, start + chunk)):
            due = days[n % len(days)]
            rows.append(
                {
                    "number": f"2026-{n + 1:06d}",
                    "person_id": person_id,
                    "channel": "web",
                    "chat_id": "bench",
                    "category": "registration",
                    "text": f"第{n}号事项",
                    "space_id": spaces[n % len(spaces)],
                    "group_id": groups[n % len(groups)],
                    "status": Status.OPEN if n % 3 else Status.CLAIMED,
                    "opened_at": MORNING - timedelta(days=1),
                    "due_date": due,
                    "deadline": end_of_day(due),
                    "provisional": False,
                    "updated_at": MORNING,
                }
            )
        async with bot.database.sessions.begin() as session:
            await session.execute(insert(Request), rows)


async def _measure(name: str, url: str, count: int, repeats: int) -> Row:
    settings = load_settings(roster=DEMO_ROSTER, database_url=url, _env_file=None)
    bot = await create_bot(settings, ManualClock(MORNING))
    try:
        await _fill(bot, count)
        # Neither with the hourly clean-up, which a first round would run: notices alone.
        scheduler = Scheduler(bot.services)
        baseline = Scheduler(bot.services, notices_per_transaction=1)
        scans = []
        due_now = 0
        for _ in range(repeats):
            started = time.perf_counter()
            due_now = len(await scheduler.due_notices(MORNING))
            scans.append(time.perf_counter() - started)
        one_each = await _send_morning(baseline)
        await _forget_notices(bot)
        batched = await _send_morning(scheduler)
        idle = []
        for _ in range(repeats):
            started = time.perf_counter()
            again = await scheduler.tick()
            idle.append(time.perf_counter() - started)
            assert not again.messages_queued
        return Row(
            name,
            count,
            due_now,
            statistics.median(scans) * 1000,
            statistics.median(idle) * 1000,
            batched,
            one_each,
        )
    finally:
        await bot.close()


async def _send_morning(scheduler: Scheduler) -> float:
    """One round at 09:00 that sends the morning's notices; notices sent per second."""
    started = time.perf_counter()
    sent = await scheduler.tick()
    sending = time.perf_counter() - started
    return (sent.reminders + sent.escalations) / sending if sending else 0.0


async def _forget_notices(bot: Bot) -> None:
    """Undo what a round sent, so the next round finds the same notices due."""
    async with bot.database.sessions.begin() as session:
        await session.execute(delete(Notice))
        await session.execute(delete(RequestEvent).where(RequestEvent.kind == "notice"))
        await session.execute(delete(OutboxMessage))


async def _postgres(count: int, repeats: int) -> Row | None:
    try:
        admin = await asyncpg.connect(POSTGRES_SERVER.replace("+asyncpg", ""), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES_SERVER.rsplit("/", 1)[0] + "/" + name
        return await _measure("PostgreSQL", url, count, repeats)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run(quick: bool = False) -> list[Row | str]:
    count = 10_000 if quick else 100_000
    repeats = 3 if quick else 7

    async def both() -> list[Row | str]:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            rows: list[Row | str] = [await _measure("SQLite", url, count, repeats)]
        postgres = await _postgres(count, repeats)
        rows.append(postgres or "PostgreSQL: skipped, not reachable at 127.0.0.1:5432")
        return rows

    return asyncio.run(both())


def print_table(rows: list[Row | str]) -> None:
    print("\n### Scheduler: reminder scan at 09:00 over open requests\n")
    print(
        "| database | open requests | due now | scan (median) | round, nothing new | "
        f"notices/s | one per transaction (baseline) | scan < {SCAN_TARGET_S} s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|:---:|")
    for row in rows:
        if isinstance(row, str):
            print(f"| {row} | | | | | | | |")
            continue
        print(
            f"| {row.database} | {row.open_requests:,} | {row.due_now:,} | "
            f"{row.scan_ms:.1f} ms | {row.idle_round_ms:.1f} ms | {row.notices_per_s:,.0f} | "
            f"{row.one_per_transaction_per_s:,.0f} | {'✓' if row.meets_target else '✗'} |"
        )


if __name__ == "__main__":
    print_table(run())
