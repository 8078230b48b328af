"""The service desk in process: the test roster, people, and ways to talk to the bot.

The bot here is built as ``python -m bot run`` builds it, with a manual clock; the tests talk to
it with the messages a channel adapter produces (:func:`say`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.delivery import Delivered
from bot.messages import Channel, IncomingMessage, OutgoingMessage, Sender
from bot.routing import InlinePolicy
from bot.settings import load_settings
from storage.models import OutboxMessage, Request
from tests.support.databases import scratch_postgres

__all__ = [
    "ENTREPRENEUR",
    "GROUP_CHAT",
    "MONDAY",
    "OTHER",
    "PLATFORMS",
    "ROSTER",
    "ZHANG",
    "Platform",
    "bot_for",
    "message_key",
    "open_one",
    "rows",
    "say",
    "shanghai",
    "the_request",
]

ROSTER = """\
districts:
  - id: baodi
    name: 宝坻区
    supervisors:
      - {name: 区科委值班, telegram: 9101}
    supervisors_chat: {telegram: -1009100000001}
spaces:
  - {id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}
  - {id: baodi-pku, name: 北大科技园众创空间, district: baodi}
groups:
  - id: g1
    name: 服务一组
    district: baodi
    chat: {telegram: -1002000000001}
    members:
      - {name: 张伟, telegram: 2001, web: zhangwei}
      - {name: 李娜, telegram: 2002}
    onsite: {baodi-eco: mon}
  - id: g2
    name: 服务二组
    district: baodi
    chat: {telegram: -1002000000002}
    members:
      - {name: 王芳, telegram: 2003}
      - {name: 刘洋, telegram: 2004}
    onsite: {baodi-pku: thu}
admins:
  - {name: 管理员, telegram: 9001}
"""
"""A roster of two duty groups in one district, for the service-desk tests."""

PLATFORMS = {
    "telegram_token": "7012345678:AAHk3Z9xQ-desk-tests-token-0000000000",
    "telegram_api_url": "http://127.0.0.1:9",
    "wechat_token": "wechat-token-for-desk-tests",
    "wechat_app_id": "wx0123456789abcdef",
    "wechat_app_secret": "app-secret-for-desk-tests",
    "wechat_api_url": "http://127.0.0.1:9",
}
"""Settings that serve Telegram, where :data:`ROSTER`'s chats are, and WeChat, where some of
the tests' entrepreneurs write from: the bot queues messages only for channels it serves.
Nothing here calls either platform (the discard port refuses at once if anything did); the
tests deliver the outbox through a :class:`Platform`."""

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

GROUP_CHAT = "-1002000000001"
"""The first duty group's Telegram chat in :data:`ROSTER`."""
ENTREPRENEUR = Sender(Channel.WEB, "e1", "小陈")
OTHER = Sender(Channel.WEB, "e2", "小王")
ZHANG = Sender(Channel.TELEGRAM, "2001", "张伟")


def shanghai(text: str) -> datetime:
    """A Shanghai wall-clock time, as the UTC instant the clock holds."""
    return datetime.fromisoformat(f"{text}+08:00").astimezone(UTC)


@contextlib.asynccontextmanager
async def bot_for(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    faq_dir: Path,
    roster_text: str,
    clock: ManualClock,
    database: str | None = None,
) -> AsyncIterator[tuple[Bot, ManualClock]]:
    """The bot in-process on ``roster_text``, on ``database`` (default: ``request.param``)."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(roster_text, encoding="utf-8")

    async def start(url: str) -> Bot:
        settings = load_settings(
            knowledge_dir=faq_dir, roster=roster, database_url=url, **PLATFORMS
        )
        return await create_bot(settings, clock)

    if (database or request.param) == "sqlite":
        running = await start(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        try:
            yield running, clock
        finally:
            await running.close()
        return
    async with scratch_postgres(request.getfixturevalue("postgres_server"), migrated=True) as url:
        running = await start(url)
        try:
            yield running, clock
        finally:
            await running.close()


_keys = itertools.count()


def message_key() -> str:
    """A message id of its own (the dispatcher takes a second message with the same id for a
    platform's redelivery of the first)."""
    return f"test:{next(_keys)}"


async def say(
    bot: Bot, sender: Sender, text: str = "", *, choice: str | None = None
) -> list[OutgoingMessage]:
    """``sender`` writes ``text`` (or presses ``choice``); the replies, handed back inline."""
    message = IncomingMessage(
        sender, sender.user_id, text, message_key(), bot.clock.now(), choice=choice
    )
    return await bot.dispatcher.handle(message, inline=InlinePolicy())


async def open_one(bot: Bot, text: str = "想咨询公司注册需要哪些材料") -> str:
    """:data:`ENTREPRENEUR` opens a request at the first maker space; its number."""
    await say(bot, ENTREPRENEUR, choice="space:baodi-eco")
    replies = await say(bot, ENTREPRENEUR, f"/new {text}")
    confirmation = next(r for r in replies if r.chat_id == "e1")
    return confirmation.text.split("：", 1)[1].split("\n", 1)[0]


async def the_request(bot: Bot, number: str) -> Request:
    """The stored request ``number``."""
    async with bot.database.sessions() as session:
        found = await session.scalar(select(Request).where(Request.number == number))
        assert found is not None
        return found


class Platform:
    """A channel that accepts or refuses messages as scripted, and remembers what it took."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.edits: list[tuple[str, str | None]] = []
        """Chat id and the platform id of the message each delivery replaced or answered."""
        self.failures: dict[str, list[BaseException]] = {}
        """Chat id → the errors its next attempts raise, in order (a :class:`DeliveryError`, or
        anything an adapter might let escape)."""
        self._next_id = 100

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        await asyncio.sleep(0)  # let another sender run in between, as a network call would
        pending = self.failures.get(message.chat_id)
        if pending:
            raise pending.pop(0)
        self.delivered.append((message.chat_id, message.text))
        self.edits.append((message.chat_id, message.edit or message.reply_to))
        self._next_id += 1
        return Delivered(str(self._next_id))


async def rows(bot: Bot) -> list[OutboxMessage]:
    """Every outbox row, oldest first."""
    async with bot.database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
