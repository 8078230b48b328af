"""Log lines as JSON (``BOT_LOG_FORMAT=json``) carry the request a message is about.

The dispatcher marks the lines of one inbound message; the outbox sender marks those of each
message it delivers, and the scheduler those of each request it reminds, escalates or closes.
Lines about no request carry no number, even when the line before was about one.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot import logs
from bot.app import Bot
from bot.clock import ManualClock
from bot.delivery import Delivered, DeliveryError
from bot.messages import Channel, OutgoingMessage
from bot.sender import OutboxSender
from storage import outbox
from storage.models import OutboxMessage
from tests.support.desk import GROUP_CHAT, ZHANG, Platform, open_one, say, shanghai
from tests.support.processes import run_bot

ADMIN_CHAT = "9001"
"""The roster's admin on Telegram: a chat that messages about no request go to."""


@pytest.mark.slow
async def test_json_lines_name_the_request_and_only_while_it_is_handled(tmp_path: Path) -> None:
    with run_bot(tmp_path, log_format="json") as bot:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(bot.url, cookie_jar=jar) as chat:

            async def say(**body: str) -> list[str]:
                async with chat.post("/api/messages", json=body) as response:
                    assert response.status == 200
                    return [m["text"] for m in (await response.json())["messages"]]

            await say(text="/new 想咨询公司注册需要哪些材料")
            opened = "\n".join(await say(choice="space:baodi-eco"))
            number = opened.split("工单已提交：", 1)[1][:9]
            await say(text="/cancel")  # a message about no request: the mark is gone
            await say(choice="req:rate:2099-9999:5")  # someone else's, or no one's

        lines = _lines_until(bot.log, lambda entry: "2099-9999" in entry["message"])
    assert all({"at", "level", "logger", "message"} <= line.keys() for line in lines)
    (opening,) = [line for line in lines if line["message"].startswith(f"request {number} opened")]
    assert opening["request"] == number
    assert opening["at"].endswith("+00:00")
    assert all(line.get("request") in (None, number) for line in lines)
    refusal = next(line for line in lines if "2099-9999" in line["message"])
    assert "request" not in refusal  # no such request: nothing to mark


def _lines_until(log: Path, seen: Any) -> list[dict[str, Any]]:
    """The log's JSON lines, once one satisfies ``seen`` (the process writes as it goes)."""
    for _ in range(100):
        text = log.read_text(encoding="utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        if any(seen(line) for line in lines):
            return lines
        time.sleep(0.1)  # the bot's own process flushes its log; nothing else to wait on
    raise AssertionError(f"not logged:\n{log.read_text(encoding='utf-8')}")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What this test logs, written as ``BOT_LOG_FORMAT=json`` writes it (INFO and up)."""
    stream = io.StringIO()
    writer = logs.handler(stream, json_lines=True)
    root = logging.getLogger()
    level = root.level
    root.addHandler(writer)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(writer)
        root.setLevel(level)


def _entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class _Talkative(Platform):
    """A platform whose adapter logs as it sends, as the WeChat adapter does (token fetches)."""

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        logging.getLogger("bot.channels.fake").info("pushing to %s", message.chat_id)
        return await super().deliver(message)


async def test_the_senders_lines_name_the_request_of_each_message_and_no_other(
    bot: tuple[Bot, ManualClock], json_log: io.StringIO
) -> None:
    running, _ = bot
    first = await open_one(running)  # each request's card waits for the group's chat
    second = await open_one(running, "申请专利需要多久")
    # This task just handled messages about the second request: what follows must not inherit it.
    async with running.database.transaction() as session:
        outbox.enqueue(
            session,
            channel=Channel.TELEGRAM.value,
            chat_id=ADMIN_CHAT,
            payload={"text": "📅 2027 年的节假日安排尚未收录"},
            now=running.clock.now(),
        )
    platform = _Talkative()
    platform.failures[GROUP_CHAT] = [
        DeliveryError("HTTP 502"),  # the first card: tried again later
        DeliveryError("45015 out of the 48 h window", hold=True),  # the second: held
    ]
    platform.failures[ADMIN_CHAT] = [DeliveryError("timeout")]
    sender = OutboxSender(
        running.database, running.clock, {Channel.TELEGRAM: platform}, running.services.roster
    )
    assert await sender.deliver_due() == 3

    async with running.database.sessions() as session:
        card, other_card, alert = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == Channel.TELEGRAM.value)
            .order_by(OutboxMessage.id)
        )
    lines = _entries(json_log)
    sent = {line["message"]: line for line in lines if line["logger"] == "bot.sender"}
    retried = sent[f"outbox {card.id} to telegram failed (attempt 1): HTTP 502; again in 0:00:05"]
    assert (retried["level"], retried["request"]) == ("WARNING", first)
    held = sent[f"outbox {other_card.id} held for telegram: 45015 out of the 48 h window"]
    assert (held["level"], held["request"]) == ("INFO", second)
    failed = sent[f"outbox {alert.id} to telegram failed (attempt 1): timeout; again in 0:00:05"]
    assert "request" not in failed
    # The adapter's own lines are about the message it is pushing. Chats are pushed side by
    # side, each in order: sorting by chat (stable) keeps each chat's order.
    pushed = [line for line in lines if line["logger"] == "bot.channels.fake"]
    by_chat = sorted(
        ((line["message"], line.get("request")) for line in pushed), key=lambda p: p[0]
    )
    assert by_chat == [
        (f"pushing to {GROUP_CHAT}", first),
        (f"pushing to {GROUP_CHAT}", second),
        (f"pushing to {ADMIN_CHAT}", None),
    ]


async def test_the_schedulers_lines_name_the_request_each_is_about(
    bot: tuple[Bot, ManualClock], json_log: io.StringIO
) -> None:
    running, clock = bot
    overdue = await open_one(running)  # Mon 2026-11-23: due 2026-12-07
    resolved = await open_one(running, "申请专利需要多久")
    await say(running, ZHANG, f"/resolve {resolved} 已办好")  # closes itself on 2026-12-01
    clock.set(shanghai("2026-12-21T10:00"))
    # Due in January 2027, a year the calendar only estimates: the admins get an alert. This
    # task handled that message last, so a round that did not start clean would name it.
    provisional = await open_one(running, "场地租金补贴怎么申请")

    clock.set(shanghai("2026-12-21T10:01"))
    done = await running.scheduler.tick()
    assert (done.escalations, done.closed, done.alerts) == (1, 1, 1)

    # The scheduler decides what is due; the desk's timed moves (bot.desk.timed) say what they did.
    round_loggers = ("bot.scheduler", "bot.desk.timed")
    lines = [line for line in _entries(json_log) if line["logger"] in round_loggers]
    assert [(line["message"], line.get("request")) for line in lines] == [
        (f"request {overdue}: escalation sent", overdue),
        (f"request {resolved} closed 5 working days after its result", resolved),
        ("calendar for 2027 is estimated: 1 due dates provisional", None),
    ]
    assert provisional not in {line.get("request") for line in lines}


async def test_a_task_is_about_no_request_once_it_has_handled_a_message(
    bot: tuple[Bot, ManualClock], json_log: io.StringIO
) -> None:
    running, _ = bot
    number = await open_one(running)  # handled in this task, as a long-polling loop does
    logging.getLogger("bot.channels.telegram.channel").warning(
        "telegram: polling failed: timed out"
    )
    entries = _entries(json_log)
    assert any(entry.get("request") == number for entry in entries)
    (polling,) = [entry for entry in entries if entry["message"].startswith("telegram: polling")]
    assert "request" not in polling


def test_an_outage_is_said_once_when_it_begins_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.outage")
    outage = logs.Outage(logging.getLogger("test.outage"), "outbox")
    outage.succeeded()
    for _ in range(30):  # a round a second for half a minute
        outage.failed(TimeoutError())
    outage.succeeded()
    outage.succeeded()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "outbox: the database is unavailable (TimeoutError); trying again every round",
        ),
        ("INFO", "outbox: the database is back"),
    ]
