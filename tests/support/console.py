"""The commissioners' web console in process: the bot's HTTP application on 127.0.0.1
(:func:`serve`), and signing in as the demo roster's people."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from bot.app import Bot, create_bot
from bot.clock import SHANGHAI, Clock, ManualClock
from bot.domain.roster.load import DEMO_ROSTER
from bot.server import build_application
from bot.settings import load_settings

__all__ = [
    "MONDAY",
    "Console",
    "demo_signin",
    "serve",
]

MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
"""A plain week: no holidays from here to the end of November."""


@dataclass
class Console:
    """The bot's HTTP application served on 127.0.0.1."""

    bot: Bot
    url: str

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.bot.clock, ManualClock)
        return self.bot.clock

    def client(self) -> aiohttp.ClientSession:
        # unsafe=True: keep cookies from an IP address (127.0.0.1), as a browser does.
        return aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))


@contextlib.asynccontextmanager
async def serve(
    database_url: str,
    knowledge_dir: Path,
    *,
    demo: bool = True,
    roster: Path | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Console]:
    clock = clock or ManualClock(MONDAY)
    settings = load_settings(
        database_url=database_url,
        knowledge_dir=knowledge_dir,
        roster=None if demo else (roster or DEMO_ROSTER),
        calendar=None,
        web_chat=True,
    )
    bot = await create_bot(settings, clock)
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield Console(bot, str(server.make_url("")))
    finally:
        await server.close()
        await bot.close()


async def demo_signin(console: Console, web_id: str) -> aiohttp.ClientSession:
    client = console.client()
    async with client.post("/console/api/demo-signin", json={"web_id": web_id}) as response:
        status, text = response.status, await response.text()
    if status != 200:
        await client.close()
    assert status == 200, text
    return client
