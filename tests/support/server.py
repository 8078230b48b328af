"""The bot's HTTP application in process on 127.0.0.1: on the test roster (:func:`site`), or
as the platform tests build it, with its outbox sender running (:func:`in_process`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestServer

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import Settings, load_settings
from tests.support.desk import PLATFORMS, ROSTER

__all__ = [
    "SUMMER",
    "InProcess",
    "in_process",
    "site",
]

SUMMER = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
"""The next 60 days lie in 2026, a year the calendar knows."""


@contextlib.asynccontextmanager
async def site(
    tmp_path: Path,
    faq_dir: Path,
    clock: ManualClock,
    *,
    database_url: str | None = None,
    calendar: str | None = None,
    keep: list[Bot] | None = None,
) -> AsyncIterator[str]:
    """The bot's HTTP application on 127.0.0.1; its address (the bot goes into ``keep``)."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    overrides = None
    if calendar is not None:
        overrides = tmp_path / "calendar.yaml"
        overrides.write_text(calendar, encoding="utf-8")
    settings = load_settings(
        knowledge_dir=faq_dir,
        roster=roster,
        calendar=overrides,
        database_url=database_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **PLATFORMS,  # the roster's Telegram chats are served: their cards are queued
    )
    bot = await create_bot(settings, clock)
    if keep is not None:
        keep.append(bot)
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()
        await bot.close()


@dataclass(frozen=True)
class InProcess:
    """A bot serving on 127.0.0.1: its server, and the event that stops its workers."""

    bot: Bot
    server: TestServer
    stop: asyncio.Event


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: ManualClock) -> AsyncIterator[InProcess]:
    """The bot built from ``settings``, serving on 127.0.0.1, its outbox sender running.

    On the way out: the workers stop, then the server, the platform clients and the database.
    """
    bot = await create_bot(settings, clock)
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    stop = asyncio.Event()
    sender = asyncio.create_task(bot.sender.run(stop))
    try:
        yield InProcess(bot, server, stop)
    finally:
        stop.set()
        await sender
        await server.close()
        for channel in (bot.wechat, bot.wecom):
            if channel is not None:
                await channel.stop()
        await bot.close()
