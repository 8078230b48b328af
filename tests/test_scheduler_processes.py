"""Two scheduler processes on one PostgreSQL over a simulated month: every notice exactly once.

The test process plays the people (it opens, claims and resolves requests through the real
dispatcher); two more OS processes each run the bot's scheduler. All three share one simulated
clock that moves an hour at a time. At every hour both schedulers run a round at the same
moment, so they race for the same notices; the counts at the end must match a schedule worked
out from the requests' due dates.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Bot, create_bot
from bot.clock import SHANGHAI, ManualClock
from bot.domain.lifecycle import Status
from bot.messages import Channel, Sender
from bot.settings import load_settings
from storage.models import Notice, OutboxMessage, Request
from tests.support.databases import scratch_postgres
from tests.support.desk import PLATFORMS, ROSTER, ZHANG, say

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # slow: every test here starts a process

START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 08:00 Shanghai
HOURS = 37 * 24
GROUP_CHAT = "-1002000000001"
SUPERVISORS_CHAT = "-1009100000001"


class SharedClock:
    """The simulated time, as the test process last set it."""

    def __init__(self, seconds: Any) -> None:
        self._seconds = seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._seconds.value, UTC)


def run_scheduler(
    settings: dict[str, Any],
    seconds: Any,
    barrier: multiprocessing.synchronize.Barrier,
    done: Any,
) -> None:
    """A scheduler process: one round per simulated hour, in step with the others."""

    async def main() -> None:
        bot = await create_bot(load_settings(**settings), SharedClock(seconds))
        try:
            while True:
                barrier.wait(timeout=120)
                if done.value:
                    return
                await bot.scheduler.tick()
                barrier.wait(timeout=120)
        finally:
            await bot.close()

    asyncio.run(main())


async def test_two_scheduler_processes_send_each_notice_once_over_a_month(
    postgres_server: str, tmp_path: Path, faq_dir: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    spawn = multiprocessing.get_context("spawn")
    seconds = spawn.Value("d", START.timestamp())
    done = spawn.Value("b", 0)
    barrier = spawn.Barrier(3)
    async with scratch_postgres(postgres_server) as url:
        # Telegram served: the notices for the roster's Telegram chats are queued.
        settings = {"knowledge_dir": faq_dir, "roster": roster, "database_url": url, **PLATFORMS}
        clock = ManualClock(START)
        bot = await create_bot(load_settings(**settings), clock)
        workers = [
            spawn.Process(target=run_scheduler, args=(settings, seconds, barrier, done))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        try:
            plan = _Plan()
            for hour in range(HOURS):
                moment = START + timedelta(hours=hour)
                clock.set(moment)
                seconds.value = moment.timestamp()
                await plan.act(bot, moment)
                await asyncio.to_thread(barrier.wait, 120)  # both schedulers run this hour
                await asyncio.to_thread(barrier.wait, 120)  # … and have finished it
            done.value = 1
            await asyncio.to_thread(barrier.wait, 120)
            for worker in workers:
                await asyncio.to_thread(worker.join, 60)
                assert worker.exitcode == 0
            await _check(bot, plan)
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.kill()
            await bot.close()


class _Plan:
    """Who opens what when, and which requests are settled before their notices."""

    def __init__(self) -> None:
        self.open_hours = {
            # Working days of the first two weeks, at 10:00, 15:00 and 21:00 Shanghai.
            START + timedelta(days=day, hours=hour): n
            for n, (day, hour) in enumerate(
                (day, hour) for day in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11) for hour in (2, 7, 13)
            )
        }
        self.numbers: dict[int, str] = {}
        self.resolve_at_once = {n for n in range(30) if n % 5 == 1}
        """Resolved within the hour: no notice at all."""
        self.resolve_on_due_morning = {n for n in range(30) if n % 5 == 2}
        """Resolved at 08:00 on the due date: the reminder the day before only."""
        self.claimed = {n for n in range(30) if n % 5 == 3}

    async def act(self, bot: Bot, moment: datetime) -> None:
        if moment in self.open_hours:
            n = self.open_hours[moment]
            person = Sender(Channel.WEB, f"e{n}", f"创业者{n}")
            await say(bot, person, choice="space:baodi-eco")
            replies = await say(bot, person, f"/new 第{n}号事项：想了解场地补贴")
            number = replies[0].text.split("：", 1)[1].split("\n", 1)[0]
            self.numbers[n] = number
            if n in self.resolve_at_once:
                await say(bot, ZHANG, f"/resolve {number} 已当场答复")
            elif n in self.claimed:
                await say(bot, ZHANG, f"/claim {number}")
        local = moment.astimezone(SHANGHAI)
        if local.time() == time(8, 0):
            for n in self.resolve_on_due_morning & self.numbers.keys():
                request = await _request(bot, self.numbers[n])
                if request.due_date == local.date() and request.status == Status.OPEN:
                    await say(bot, ZHANG, f"/resolve {self.numbers[n]} 办好了")


async def _request(bot: Bot, number: str) -> Request:
    async with bot.database.sessions() as session:
        found = await session.scalar(select(Request).where(Request.number == number))
        assert found is not None
        return found


async def _check(bot: Bot, plan: _Plan) -> None:
    assert len(plan.numbers) == 30
    calendar = bot.services.calendar.current
    expected: Counter[tuple[str, str]] = Counter()
    for n, number in plan.numbers.items():
        if n in plan.resolve_at_once:
            continue
        expected[(number, "remind-before")] += 1
        if n not in plan.resolve_on_due_morning:
            expected[(number, "remind-due")] += 1
            expected[(number, "escalation")] += 1
    async with bot.database.sessions() as session:
        notices = (await session.scalars(select(Notice))).all()
        by_id = {r.id: r for r in (await session.scalars(select(Request))).all()}
        outbox = (await session.scalars(select(OutboxMessage))).all()
    sent = Counter((by_id[n.request_id].number, n.kind) for n in notices)
    assert sent == expected
    texts = [
        (row.chat_id, str(row.payload["text"]), row.created_at)
        for row in outbox
        if row.chat_id in (GROUP_CHAT, SUPERVISORS_CHAT) or "抱歉" in str(row.payload["text"])
    ]
    for number in plan.numbers.values():
        request = next(r for r in by_id.values() if r.number == number)
        reminders = [t for t in texts if t[1].startswith(f"⏰ 提醒：工单 {number}（")]
        before = [t for t in reminders if "明天" in t[1]]
        due = [t for t in reminders if "今天" in t[1]]
        escalated = [t for t in texts if t[1].startswith(f"🚨 工单 {number} ")]
        apologies = [t for t in texts if t[1].startswith(f"非常抱歉，工单 {number} ")]
        counts = (len(before), len(due), len(escalated), len(apologies))
        want = (
            expected[(number, "remind-before")],
            expected[(number, "remind-due")],
            2 * expected[(number, "escalation")],  # the group and the supervisors
            expected[(number, "escalation")],
        )
        assert counts == want, number
        # Each at its hour: 09:00 the working day before, 09:00 on the day, at the deadline.
        nine = time(1, 0)  # 09:00 Shanghai in UTC
        for _, _, at in before:
            assert at == datetime.combine(calendar.previous_workday(request.due_date), nine, UTC)
        for _, _, at in due:
            assert at == datetime.combine(request.due_date, nine, UTC)
        for _, _, at in escalated + apologies:
            assert at == request.deadline
