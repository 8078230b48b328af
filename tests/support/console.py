"""The commissioners' web console in process: the bot's HTTP application on 127.0.0.1
(:func:`serve`), and signing in as the demo roster's people."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bot.app import Bot, create_bot
from bot.channels.console.auth import issue_link
from bot.clock import SHANGHAI, Clock, ManualClock
from bot.domain.roster.load import DEMO_ROSTER
from bot.domain.roster.model import Person
from bot.server import build_application
from bot.settings import load_settings

__all__ = [
    "MONDAY",
    "Console",
    "a_fortnight_of_work",
    "demo_signin",
    "open_request",
    "say",
    "serve",
    "sign_in_link",
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
    **settings: Any,
) -> AsyncIterator[Console]:
    clock = clock or ManualClock(MONDAY)
    configured = load_settings(
        database_url=database_url,
        knowledge_dir=knowledge_dir,
        roster=None if demo else (roster or DEMO_ROSTER),
        calendar=None,
        web_chat=True,
        **settings,
    )
    bot = await create_bot(configured, clock)
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


async def sign_in_link(
    console: Console, web_id: str, *, lifetime: timedelta = timedelta(hours=24), base_url: str = ""
) -> tuple[Person, str]:
    """A one-time sign-in link for ``web_id``, issued now (as ``bot console link`` does)."""
    return await issue_link(
        console.bot.database,
        console.bot.services.roster.current,
        web_id,
        now=console.clock.now(),
        lifetime=lifetime,
        base_url=base_url,
    )


async def say(client: aiohttp.ClientSession, **body: Any) -> list[str]:
    """The web chat: send a message, return the texts of the replies."""
    async with client.post("/api/messages", json=body) as response:
        assert response.status == 200, await response.text()
        return [m["text"] for m in (await response.json())["messages"]]


async def open_request(
    console: Console, space: str, text: str
) -> tuple[str, aiohttp.ClientSession]:
    """A new entrepreneur opens a request in ``space``; returns its number and their client."""
    entrepreneur = console.client()
    try:
        await say(entrepreneur, text=f"/new {text}")
        replies = await say(entrepreneur, choice=f"space:{space}")
        found = re.search(r"工单已提交：(\d{4}-\d{4})", "\n".join(replies))
        assert found, replies
    except BaseException:
        await entrepreneur.close()
        raise
    return found.group(1), entrepreneur


async def a_fortnight_of_work(console: Console) -> dict[str, str]:
    """Four requests in 宝坻区 on the demo roster, on a manual clock; their numbers by name.

    Opened on :data:`MONDAY`: ``overdue`` (北大科技园, 宝坻区服务一组) and ``other_group``
    (清华科技园, 服务二组); ten days later ``claimed`` (claimed by 张伟, with a reply) and
    ``open`` (both 一组). The clock is left at 10:00 on Tuesday 17 November, the day after the
    first two were due: they are overdue.
    """
    clock = console.clock
    opened: dict[str, str] = {}
    asked = (
        ("overdue", "baodi-pku", "想了解小微企业房租补贴怎么申请，需要准备哪些材料？"),
        ("other_group", "baodi-tsinghua", "园区停车位怎么申请？我们有两辆车。"),
        ("claimed", "baodi-pku", "发明专利申请有没有资助？"),
        ("open", "baodi-pku", "下个月的路演活动还能报名吗？"),
    )
    for name, space, text in asked:
        if name == "claimed":
            clock.set(MONDAY + timedelta(days=10))
        number, entrepreneur = await open_request(console, space, text)
        await entrepreneur.close()
        opened[name] = number
    async with await demo_signin(console, "zhangwei") as zhangwei:
        for move in (
            {"action": "claim"},
            {"action": "reply", "text": "有的，发明专利授权后可申请资助，我把申请表发给您。"},
        ):
            body = {"id": uuid.uuid4().hex, "number": opened["claimed"], **move}
            async with zhangwei.post("/console/api/act", json=body) as response:
                assert response.status == 200, await response.text()
    clock.set(datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI))
    return opened
