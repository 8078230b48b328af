"""Killing the bot (SIGKILL) between accepting messages and answering them loses nothing.

A crowd of entrepreneurs opens requests at once on the web chat; the process is killed while
most of those requests are in flight. Each client then does what the page does after a network
error: sends the same message again, with the same id, to the restarted bot. In the end every
entrepreneur has exactly one request, every answer is the one the first attempt would have got,
and every card for the duty group waits in the outbox exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery import Delivered
from bot.domain.roster.load import load_roster
from bot.messages import Channel, OutgoingMessage
from bot.reloadable import Reloadable
from bot.sender import OutboxSender
from storage import Database
from storage.models import OutboxMessage, OutboxStatus, Request
from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import run_bot

pytestmark = pytest.mark.slow  # every test here starts a process

CROWD = 120
TOKEN = "7012345678:AAHk3Z9xQ-crash-test-token-000000000000"
KILL_AFTER = 25
"""Answers received before the kill; the rest of the crowd is still in flight."""
_NUMBER = re.compile(r"工单已提交：(\d{4}-\d{4})")


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as held:
        yield held


async def _post(
    client: aiohttp.ClientSession, url: str, cookies: list[str], n: int, body: dict[str, Any]
) -> dict[str, Any]:
    """Entrepreneur ``n`` sends ``body``; their first message gets them the session cookie.

    Each comes from an address of their own, as our proxy on 127.0.0.1 says, so the crowd is
    not one client flooding.
    """
    headers = {"X-Forwarded-For": f"198.51.100.{n}"}
    if cookies[n]:
        headers["Cookie"] = f"md_session={cookies[n]}"
    async with client.post(f"{url}/api/messages", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        if not cookies[n]:
            cookies[n] = response.cookies["md_session"].value
        result: dict[str, Any] = await response.json()
        return result


async def test_sigkill_mid_burst_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, faq_dir: Path, stack: contextlib.ExitStack
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    # The bot serves Telegram, where the duty groups' chats are, so it queues their cards; the
    # Bot API refuses every one for now (502), so each waits in the outbox through the kill.
    telegram = stack.enter_context(FakeTelegram(token=TOKEN).in_thread())
    telegram.fail_next("sendMessage", error_code=502, times=1_000_000)
    settings = {
        "knowledge_dir": str(faq_dir),
        "roster": str(roster),
        "trusted_proxies": "127.0.0.1",
        "telegram_token": TOKEN,
        "telegram_api_url": telegram.root,
        # The public address Telegram would post to: nothing polls; no update comes in here.
        "telegram_webhook_url": "http://127.0.0.1:1",
    }
    cookies = [""] * CROWD
    answers: dict[int, str] = {}
    enough = asyncio.Event()

    with run_bot(tmp_path, **settings) as first:
        async with aiohttp.ClientSession() as client:
            for n in range(CROWD):
                await _post(client, first.url, cookies, n, {"choice": "space:baodi-eco", "id": "s"})

            async def open_request(n: int) -> None:
                body = {"text": f"/new 第{n}号：想了解场地补贴", "id": f"new-{n}"}
                reply = await _post(client, first.url, cookies, n, body)
                answers[n] = reply["messages"][0]["text"]
                if len(answers) >= KILL_AFTER:
                    enough.set()

            tasks = [asyncio.create_task(open_request(n)) for n in range(CROWD)]
            await enough.wait()
            # Kill the moment a request is stored whose answer has not reached its client.
            with sqlite3.connect(tmp_path / "bot.db") as probe:
                stored = "SELECT count(*) FROM requests"
                while probe.execute(stored).fetchone()[0] <= len(answers):  # noqa: ASYNC110
                    await asyncio.sleep(0)  # the database is another process's: nothing to await
            first.process.kill()
            # Whatever was still on its way back is lost with the process, as far as the
            # clients know: they never read it.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            first.process.wait()
    lost = [n for n in range(CROWD) if n not in answers]
    assert len(lost) >= CROWD // 2, "the kill came too late to test anything"
    before_kill = dict(answers)
    committed = await _count_requests(tmp_path)
    assert committed > len(before_kill), "no request was stored and left unanswered"

    with run_bot(tmp_path, **settings) as second:
        async with aiohttp.ClientSession() as client:
            # The lost ones again, and a few that were answered (a retry after a lost response).
            again = [*lost, *list(before_kill)[:5]]
            for n in again:
                body = {"text": f"/new 第{n}号：想了解场地补贴", "id": f"new-{n}"}
                reply = await _post(client, second.url, cookies, n, body)
                text = reply["messages"][0]["text"]
                if n in before_kill:
                    assert text == before_kill[n], "a retry gets the first answer"
                answers[n] = text

    numbers = {n: _NUMBER.search(text) for n, text in answers.items()}
    assert all(numbers.values()), answers
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    pushed = _GroupChat()
    try:
        async with database.sessions() as session:
            stored = (await session.scalars(select(Request))).all()
            cards = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.channel == "telegram")
                )
            ).all()
        # The duty group's cards waited in the outbox through the kill; a sender, a day later
        # (past every retry's wait), now pushes each of them once.
        sender = OutboxSender(
            database,
            ManualClock(datetime.now(UTC) + timedelta(days=1)),
            {Channel.TELEGRAM: pushed},
            Reloadable(lambda: load_roster(roster), load_roster(roster)),
        )
        while await sender.deliver_due():
            pass
    finally:
        await database.close()
    assert len(stored) == CROWD
    assert sorted(r.number for r in stored) == sorted(m.group(1) for m in numbers.values() if m)
    assert Counter(r.text for r in stored) == Counter(
        f"第{n}号：想了解场地补贴" for n in range(CROWD)
    )
    assert Counter(card.request_id for card in cards) == Counter(r.id for r in stored)
    assert {card.status for card in cards} == {OutboxStatus.PENDING}
    assert sorted(pushed.numbers) == sorted(r.number for r in stored)


class _GroupChat:
    """The duty group's chat: takes every card it is handed."""

    def __init__(self) -> None:
        self.numbers: list[str] = []

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        self.numbers.append(message.text.split("｜", 1)[0].removeprefix("📋 工单 "))
        return Delivered(str(len(self.numbers)))


async def _count_requests(tmp_path: Path) -> int:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        async with database.sessions() as session:
            return len((await session.scalars(select(Request.id))).all())
    finally:
        await database.close()
