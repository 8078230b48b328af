"""Files that cross channels: fetched from one platform, kept, and uploaded or linked to.

The real bot serves WeChat and Telegram beside the fake platforms: an entrepreneur on WeChat,
the duty group on Telegram (the demo roster). What crosses is checked at the fakes' edges (the
bytes uploaded), and the signed links through the bot's own HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select

from bot.channels.console.board import card
from bot.channels.web_history import render
from bot.desk.queries import BoardItem
from bot.files import FileStore
from bot.messages import Attachment, Channel, OutgoingMessage
from storage.models import Request, RequestEvent
from tests.support.fake_telegram import FakeTelegram, Upload
from tests.support.fake_wechat import image_xml
from tests.support.wechat import ENTREPRENEUR, Site, open_request, pushed_texts, serve

TELEGRAM_TOKEN = "123:ABC"
GROUP = -1002000000001
"""宝坻区服务一组's Telegram group in the demo roster, on duty for 北大科技园."""
ZHANG = 2001
"""张伟's Telegram id: a member of that group."""
PUBLIC = "https://bot.example.cn"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64
"""A picture as its first bytes say: JPEG."""


@dataclass
class Both:
    """The bot on WeChat and Telegram, with both fakes."""

    site: Site
    telegram: FakeTelegram

    @property
    def root(self) -> str:
        return self.site.url.removesuffix("/wechat")

    async def get(self, link: str) -> tuple[int, bytes]:
        """Open a link (absolute or a path) on the bot's own server."""
        parts = urlsplit(link)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.root}{parts.path}?{parts.query}") as response,
        ):
            return response.status, await response.read()


@contextlib.asynccontextmanager
async def both(tmp_path: Path, faq_dir: Path, **settings: object) -> AsyncIterator[Both]:
    async with (
        FakeTelegram(token=TELEGRAM_TOKEN) as telegram,
        serve(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            faq_dir,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.root,
            files_dir=tmp_path / "files",
            public_url=PUBLIC,
            **settings,
        ) as site,
    ):
        assert site.bot.telegram is not None
        await site.bot.telegram.start()
        stop = asyncio.Event()
        polling = asyncio.create_task(site.bot.telegram.poll(stop))
        try:
            yield Both(site, telegram)
        finally:
            stop.set()
            await polling
            await site.bot.telegram.stop()


async def card_of(both: Both) -> int:
    """The request card's message id in the group, once posted."""
    call = await both.telegram.wait_for(
        lambda c: (
            c.method == "sendMessage" and c.params.get("chat_id") == GROUP and c.status == 200
        ),
        timeout=20,
    )
    assert call.result is not None
    return int(call.result["message_id"])


async def test_an_entrepreneurs_wechat_photo_reaches_the_group_on_telegram_and_the_console(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        await open_request(run.site)
        await card_of(run)
        media = run.site.fake.add_media(JPEG, "image", "licence.jpg")
        await run.site.post(image_xml(ENTREPRENEUR, media, "http://mmbiz/licence.jpg", 620))
        uploaded = await run.telegram.wait_for(
            lambda c: (
                c.method == "sendPhoto" and c.params.get("chat_id") == GROUP and c.status == 200
            ),
            timeout=20,
        )
        photo = uploaded.params["photo"]
        assert isinstance(photo, Upload)
        assert photo.data == JPEG  # uploaded, not a WeChat id
        # The console shows the photo in the request's story, as a signed link to the bytes.
        async with run.site.bot.database.sessions() as session:
            request = (await session.scalars(select(Request))).one()
            events = list(await session.scalars(select(RequestEvent)))
        shown = card(
            run.site.bot.services.roster.current,
            BoardItem(request, None, events, overdue=False),
            links=run.site.bot.links,
        )
        files = [f for event in shown["events"] for f in event["files"]]
        assert [f["kind"] for f in files] == ["photo"]
        assert await run.get(files[0]["url"]) == (200, JPEG)


async def test_a_commissioners_telegram_photo_reaches_the_entrepreneur_on_wechat_as_media(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        await open_request(run.site)
        posted = await card_of(run)
        run.telegram.group_message(
            GROUP, ZHANG, "这是申请表样例", reply_to_message_id=posted, photo=True, data=JPEG
        )
        await run.site.fake.wait_until(
            lambda: any(
                m["msgtype"] == "image" for m in run.site.fake.custom_messages(ENTREPRENEUR)
            ),
            timeout=20,
        )
        image = next(
            m for m in run.site.fake.custom_messages(ENTREPRENEUR) if m["msgtype"] == "image"
        )
        held = run.site.fake.media[image["image"]["media_id"]]
        assert held.upload.data == JPEG  # uploaded as temporary media, then sent
        assert any("这是申请表样例" in t for t in pushed_texts(run.site.fake, ENTREPRENEUR))


async def test_a_file_too_big_for_wechat_goes_as_a_link_and_a_program_as_a_note(
    tmp_path: Path, faq_dir: Path
) -> None:
    big = JPEG + bytes(3 * 1024 * 1024)  # over WeChat's 2 MB for an image
    async with both(tmp_path, faq_dir) as run:
        await open_request(run.site)
        posted = await card_of(run)
        run.telegram.group_message(
            GROUP, ZHANG, "现场照片", reply_to_message_id=posted, photo=True, data=big
        )
        linked = await _pushed(run, "现场照片")
        link = linked.splitlines()[-1]
        assert link.startswith(f"{PUBLIC}/files/")
        assert await run.get(link) == (200, big)
        run.telegram.group_message(
            GROUP,
            ZHANG,
            "安装程序",
            reply_to_message_id=posted,
            document=True,
            data=b"MZ\x90\x00" + bytes(64),
            file_name="setup.pdf",
        )
        noted = await _pushed(run, "安装程序")
        assert "没有转交" in noted
        assert "不转交程序" in noted
        assert not any(m["msgtype"] != "text" for m in run.site.fake.custom_messages(ENTREPRENEUR))


async def _pushed(run: Both, words: str) -> str:
    def found() -> str | None:
        texts = pushed_texts(run.site.fake, ENTREPRENEUR)
        return next((t for t in texts if words in t), None)

    await run.site.fake.wait_until(lambda: found() is not None, timeout=20)
    text = found()
    assert text is not None
    return text


async def test_a_signed_link_serves_the_file_and_a_forged_or_expired_one_does_not(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        # A commissioner's Telegram document, as the web chat shows it: a signed link.
        update = run.telegram.group_message(GROUP, ZHANG, "表格", document=True, data=b"%PDF-1.7 x")
        document = update["message"]["document"]
        message = OutgoingMessage(
            "visitor",
            Channel.WEB,
            "张伟：表格",
            attachments=(
                Attachment("document", "申请表.pdf", None, Channel.TELEGRAM, document["file_id"]),
            ),
        )
        links = run.site.bot.links
        assert links is not None
        shown = render(message, run.site.clock.now(), links)
        url = shown["files"][0]["url"]
        assert await run.get(url) == (200, b"%PDF-1.7 x")
        forged = url.replace("sig=", "sig=A")
        assert (await run.get(forged))[0] == 403
        other = url.replace("exp=", "exp=1")
        assert (await run.get(other))[0] == 403
        run.site.clock.advance(timedelta(days=1))
        assert (await run.get(url))[0] == 403


async def test_the_retention_job_forgets_old_files(tmp_path: Path, faq_dir: Path) -> None:
    async with both(tmp_path, faq_dir) as run:
        bot = run.site.bot
        assert bot.files is not None
        store: FileStore = bot.files.store
        now = run.site.clock.now()
        kept = await store.keep("a" * 64, JPEG, name="x.jpg", kind="photo", now=now)
        run.site.clock.advance(timedelta(days=29))
        first = await bot.scheduler.tick()
        assert first.pruned is not None
        assert first.pruned["carried_files"] == 0
        assert kept.path.exists()
        run.site.clock.advance(timedelta(days=2))
        second = await bot.scheduler.tick()
        assert second.pruned is not None
        assert second.pruned["carried_files"] == 1
        assert not kept.path.exists()
        assert await store.find("a" * 64) is None
