"""WeChat in process: the bot serving ``/wechat`` on 127.0.0.1 beside the fake WeChat API, and
WeChat posting to it (:func:`serve`, :class:`Site`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import Bot
from bot.clock import SHANGHAI, ManualClock
from bot.settings import load_settings
from tests.support.fake_wechat import (
    FakeWeChat,
    Posted,
    WeChatPlatform,
    new_aes_key,
    text_xml,
)
from tests.support.server import in_process

__all__ = [
    "APP_ID",
    "APP_SECRET",
    "ENTREPRENEUR",
    "MONDAY",
    "SPACE",
    "TEMPLATE",
    "TOKEN",
    "ZHANG",
    "Site",
    "content",
    "open_request",
    "pushed_texts",
    "serve",
]

TOKEN = "wechat-token-for-tests"
APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret-for-tests"
TEMPLATE = "tmpl-reply-waiting"
MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
"""A plain week: no holidays from here to the end of November."""
ENTREPRENEUR = "oENTREPRENEUR0000000000000001"
ZHANG = "o-example-zhangwei"
"""张伟 in the demo roster: a member of 宝坻区服务一组, which is on duty for 北大科技园."""
SPACE = "baodi-pku"


@dataclass
class Site:
    """The bot serving ``/wechat``, the fake WeChat API, and WeChat posting to the bot."""

    bot: Bot
    fake: FakeWeChat
    platform: WeChatPlatform
    url: str
    nonces: Iterator[int] = field(default_factory=lambda: itertools.count(1_000_000_000))
    """The clock stands still, so every post has one timestamp: its nonces must differ (a
    random one would come twice in some ten thousand posts, and be refused as a replay)."""

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.bot.clock, ManualClock)
        return self.bot.clock

    async def advance(self, delta: timedelta) -> None:
        """Let ``delta`` pass, after the contacts so far are written (as they long would be)."""
        assert self.bot.wechat is not None
        await self.bot.wechat.flush_contacts()
        self.clock.advance(delta)

    def stamp(self) -> str:
        """The ``timestamp`` WeChat signs a request with, by the bot's clock."""
        return str(int(self.clock.now().timestamp()))

    async def post(self, xml: str, **options: Any) -> Posted:
        """WeChat posts ``xml``, signed now by the bot's clock, with a nonce of its own."""
        options.setdefault("nonce", str(next(self.nonces)))
        return await self.platform.post(xml, timestamp=self.stamp(), **options)

    async def say(self, openid: str, text: str, msg_id: int, **options: Any) -> Posted:
        """``openid`` sends ``text``; returns what WeChat got back."""
        return await self.post(text_xml(openid, text, msg_id=msg_id, **options))

    async def count(self, model: Any, *where: Any) -> int:
        async with self.bot.database.sessions() as session:
            counted = await session.scalar(select(func.count()).select_from(model).where(*where))
        assert counted is not None
        return int(counted)


def content(posted: Posted) -> str:
    """The text of a passive reply (fails on ``success``)."""
    assert posted.status == 200, posted.body_text
    assert posted.reply is not None, f"no passive reply: {posted.body_text!r}"
    return str(posted.reply["Content"])


def pushed_texts(fake: FakeWeChat, openid: str) -> list[str]:
    return [m["text"]["content"] for m in fake.custom_messages(openid) if m["msgtype"] == "text"]


@contextlib.asynccontextmanager
async def serve(
    database_url: str,
    knowledge_dir: Path,
    *,
    mode: str = "plain",
    roster: Path | None = None,
    **settings: Any,
) -> AsyncIterator[Site]:
    clock = ManualClock(MONDAY)
    aes_key = new_aes_key() if mode != "plain" else None
    async with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET, clock=clock) as fake:
        configured = load_settings(
            database_url=database_url,
            knowledge_dir=knowledge_dir,
            roster=roster,
            calendar=None,
            web_chat=False,
            wechat_token=TOKEN,
            wechat_app_id=APP_ID,
            wechat_app_secret=APP_SECRET,
            wechat_aes_key=aes_key,
            wechat_api_url=fake.root,
            **settings,
        )
        async with in_process(configured, clock) as running:
            bot = running.bot
            assert bot.wechat is not None
            contacts = asyncio.create_task(bot.wechat.run(running.stop))
            url = str(running.server.make_url("/wechat"))
            platform = WeChatPlatform(url, TOKEN, APP_ID, aes_key, mode)  # type: ignore[arg-type]
            try:
                yield Site(bot, fake, platform, url)
            finally:
                running.stop.set()
                await contacts


async def open_request(site: Site, openid: str = ENTREPRENEUR, first_id: int = 100) -> str:
    """``openid`` opens a request at 北大科技园 through the intake; returns its number."""
    asked = await site.say(openid, "提交工单 想咨询公司注册需要哪些材料", first_id)
    assert "众创空间" in content(asked)
    space = f"space:{SPACE}"
    chosen = await site.say(openid, "北大科技园众创空间", first_id + 1, bizmsgmenuid=space)
    found = re.search(r"工单已提交：(\d{4}-\d{4})", content(chosen))
    assert found, content(chosen)
    return found.group(1)
