"""No message is queued for a channel this deployment does not serve.

The demo roster names Telegram chats and WeCom accounts; with no Telegram bot and no WeCom app
configured, their cards and notices would wait in the outbox for ever (its age alarm growing)
and go out stale the day a token is added. They are never queued; the console still shows the
request. With Telegram configured, its cards are queued as before.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import create_bot
from bot.clock import ManualClock
from bot.delivery import DeliveryError
from bot.domain.roster.load import DEMO_ROSTER
from bot.messages import Channel
from bot.sender import OutboxSender
from bot.server import build_application
from bot.settings import load_settings
from storage import requests
from storage.models import OutboxMessage
from tests.support.console import (
    MONDAY,
    Console,
    demo_signin,
    open_request,
    say,
    sign_in_link,
)
from tests.support.desk import MONDAY as DESK_MONDAY
from tests.support.desk import PLATFORMS, ROSTER, ZHANG, Platform, open_one
from tests.support.desk import rows as desk_rows
from tests.support.desk import say as desk_say
from tests.support.fake_telegram import FakeTelegram

TOKEN = "7012345678:AAHk3Z9xQ-unserved-channels-test-token-00"


@contextlib.asynccontextmanager
async def site(database_url: str, faq_dir: Path, **settings: Any) -> AsyncIterator[Console]:
    """The bot's HTTP application (web chat and console) on ``settings``, on a manual clock."""
    configured = load_settings(
        database_url=database_url, knowledge_dir=faq_dir, calendar=None, web_chat=True, **settings
    )
    bot = await create_bot(configured, ManualClock(MONDAY))
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield Console(bot, str(server.make_url("")))
    finally:
        await server.close()
        await bot.close()


async def open_and_answer(console: Console) -> str:
    """Two entrepreneurs open requests in the web chat, one on the quick lane, one on the full
    path; 张伟 claims and answers the second in the console. Its number."""
    # A space chosen first: ``/new text`` opens the request on the database's writer lane.
    async with console.client() as first:
        await say(first, choice="space:baodi-pku")
        replies = await say(first, text="/new 园区停车位怎么申请？")
        assert any("工单已提交" in reply for reply in replies), replies
    # ``/new text`` first: the press that picks the space opens it on the full path.
    number, entrepreneur = await open_request(console, "baodi-pku", "想了解房租补贴怎么申请？")
    await entrepreneur.close()
    async with await signed_in(console, "zhangwei") as zhangwei:
        for move in ({"action": "claim"}, {"action": "reply", "text": "可以申请，我把表格发您。"}):
            body = {"id": uuid.uuid4().hex, "number": number, **move}
            async with zhangwei.post("/console/api/act", json=body) as response:
                assert response.status == 200, await response.text()
        async with zhangwei.get("/console/api/requests") as board:
            assert number in await board.text()  # the console shows it all the same
    return number


async def signed_in(console: Console, web_id: str) -> aiohttp.ClientSession:
    """A console session for ``web_id``: by demo sign-in, else by a sign-in link."""
    if console.bot.demo:
        return await demo_signin(console, web_id)
    _, link = await sign_in_link(console, web_id)
    client = console.client()
    body = {"token": link.split("token=", 1)[1]}
    async with client.post("/console/api/signin", json=body) as response:
        assert response.status == 200, await response.text()
    return client


async def outbox(console: Console) -> list[OutboxMessage]:
    async with console.bot.database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_the_demo_queues_nothing_for_telegram_or_wecom(
    database_url: str, faq_dir: Path
) -> None:
    async with site(database_url, faq_dir) as console:
        assert console.bot.demo
        await open_and_answer(console)
        # Overdue: the reminders and the escalation go to the group's and supervisors' chats.
        console.clock.advance(timedelta(days=30))
        done = await console.bot.scheduler.tick()
        assert done.escalations == 2
        rows = await outbox(console)
    assert {row.channel for row in rows} == {"web"}
    texts = [str(row.payload["text"]) for row in rows]
    assert any("服务专员张伟回复" in text for text in texts)  # the entrepreneur hears everything
    assert any("非常抱歉" in text for text in texts)  # the apology too


async def test_with_telegram_configured_its_cards_are_queued_as_before(
    database_url: str, faq_dir: Path
) -> None:
    async with FakeTelegram(token=TOKEN) as telegram:
        served = {"telegram_token": TOKEN, "telegram_api_url": telegram.root}
        async with site(database_url, faq_dir, roster=DEMO_ROSTER, **served) as console:
            await open_and_answer(console)
            console.clock.advance(timedelta(days=30))
            assert (await console.bot.scheduler.tick()).escalations == 2
            rows = await outbox(console)
    pending = [row for row in rows if row.channel == "telegram"]
    assert pending
    assert all(row.status == "pending" for row in pending)
    texts = [str(row.payload["text"]) for row in pending]
    assert any(text.startswith("📋 工单") for text in texts)  # the card, as before
    # The console's moves (the full path) bring the card up to date in the group's chat.
    assert any("承办：张伟" in text for text in texts)
    assert any(text.startswith("🚨") for text in texts)  # the escalation
    assert "wecom" not in {row.channel for row in rows}  # WeCom is still not configured


async def test_start_up_says_which_roster_channels_are_not_served(
    database_url: str, faq_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.app"):
        async with site(database_url, faq_dir):
            pass
    said = [r.getMessage() for r in caplog.records if r.name == "bot.app"]
    telegram = [line for line in said if "telegram chats" in line]
    wecom = [line for line in said if "wecom" in line]
    assert len(telegram) == 1
    assert "no Telegram bot is configured (BOT_TELEGRAM_TOKEN)" in telegram[0]
    assert "not sent" in telegram[0]
    assert len(wecom) == 1
    assert "BOT_WECOM_" in wecom[0]


async def test_a_sender_reports_a_failure_only_where_it_delivers(
    tmp_path: Path, faq_dir: Path
) -> None:
    # This process pushes WeChat only: a reply that WeChat refuses for good is reported to the
    # duty group's chats, and the group's Telegram chat is one nobody here would deliver to.
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    settings = load_settings(
        knowledge_dir=faq_dir,
        roster=roster,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **PLATFORMS,  # Telegram and WeChat: the bot queues for both
    )
    bot = await create_bot(settings, ManualClock(DESK_MONDAY))
    try:
        number = await open_one(bot)
        async with bot.database.sessions.begin() as session:
            request = await requests.by_number(session, number)
            assert request is not None
            request.channel, request.chat_id = "wechat", "o-entrepreneur"
        await desk_say(bot, ZHANG, f"/reply {number} 请带营业执照原件来现场")
        wechat = Platform()
        wechat.failures["o-entrepreneur"] = [DeliveryError("user refused", final=True)]
        sender = OutboxSender(
            bot.database, bot.clock, {Channel.WECHAT: wechat}, bot.services.roster
        )
        await sender.deliver_due()
        queued = await desk_rows(bot)
    finally:
        await bot.close()
    failed = next(row for row in queued if row.chat_id == "o-entrepreneur")
    assert failed.status == "failed"
    reports = [row for row in queued if "没能送达创业者" in str(row.payload["text"])]
    assert reports == []
