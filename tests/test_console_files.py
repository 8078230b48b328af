"""Files a commissioner attaches in the web console, over real HTTP, to the entrepreneur's chat.

A member who works on WeCom cannot send the bot a PDF (WeCom's callback has no file message),
so they resolve with it in the console. The console posts the move as ``multipart/form-data``;
the file is checked and kept, and reaches the entrepreneur as carried files do: on WeChat as a
signed link (a PDF) or an uploaded image, in the web chat as a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select

from bot.clock import ManualClock
from bot.domain.roster.load import DEMO_ROSTER
from bot.settings import load_settings
from storage import Database
from storage.models import OutboxMessage, RequestEvent
from tests.support.console import Console, demo_signin, open_request, serve, sign_in_link
from tests.support.fake_wechat import FakeWeChat, WeChatPlatform
from tests.support.server import in_process
from tests.support.wechat import (
    APP_ID,
    APP_SECRET,
    ENTREPRENEUR,
    MONDAY,
    TOKEN,
    Site,
    pushed_texts,
)
from tests.support.wechat import open_request as open_on_wechat

PUBLIC = "https://bot.example.cn"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
"""A PDF as its first bytes say."""
PROGRAM = b"MZ\x90\x00" + bytes(200)
"""A Windows program, whatever its name says."""
G1_SPACE = "baodi-pku"  # on duty: baodi-g1 (张伟 zhangwei, 李娜 lina)


def form(files: list[tuple[str, bytes]], **fields: str) -> aiohttp.FormData:
    """What the page posts: the move's fields first, then its files."""
    data = aiohttp.FormData()
    fields.setdefault("id", uuid.uuid4().hex)
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content in files:
        data.add_field(
            "file", io.BytesIO(content), filename=filename, content_type="application/pdf"
        )
    return data


async def act(
    client: aiohttp.ClientSession, files: list[tuple[str, bytes]], **fields: str
) -> tuple[int, dict[str, Any]]:
    async with client.post("/console/api/act", data=form(files, **fields)) as response:
        return response.status, await response.json()


async def link_signin(console: Console, web_id: str) -> aiohttp.ClientSession:
    """Sign in with a one-time link, as a commissioner does on a configured roster.

    With ``BOT_PUBLIC_URL`` on https the cookie is Secure; the test speaks plain HTTP to
    127.0.0.1 (as a TLS-ending proxy does), so it sends the cookie itself.
    """
    _, link = await sign_in_link(console, web_id)
    async with (
        console.client() as client,
        client.post("/console/api/signin", json={"token": link.partition("#token=")[2]}) as got,
    ):
        assert got.status == 200, await got.text()
        cookie = got.cookies["md_console"].value
    return aiohttp.ClientSession(console.url, headers={"Cookie": f"md_console={cookie}"})


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@contextlib.asynccontextmanager
async def wechat_and_console(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    """The bot on WeChat (the fake) with its web console, on the demo roster."""
    async with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as fake:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            knowledge_dir=faq_dir,
            roster=DEMO_ROSTER,  # no demo sign-in beside WeChat: a link signs 张伟 in
            calendar=None,
            web_chat=True,
            wechat_token=TOKEN,
            wechat_app_id=APP_ID,
            wechat_app_secret=APP_SECRET,
            wechat_api_url=fake.root,
            files_dir=tmp_path / "files",
            public_url=PUBLIC,
        )
        async with in_process(settings, ManualClock(MONDAY)) as running:
            bot = running.bot
            assert bot.wechat is not None
            contacts = asyncio.create_task(bot.wechat.run(running.stop))
            url = str(running.server.make_url("/wechat"))
            platform = WeChatPlatform(url, TOKEN, APP_ID, None, "plain")
            try:
                yield Site(bot, fake, platform, url)
            finally:
                running.stop.set()
                await contacts


async def test_a_result_with_a_pdf_reaches_a_wechat_entrepreneur_as_a_link_to_its_bytes(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with wechat_and_console(tmp_path, faq_dir) as site:
        number = await open_on_wechat(site)
        root = site.url.removesuffix("/wechat")
        console = Console(site.bot, root)
        async with await link_signin(console, "zhangwei") as zhangwei:
            status, answer = await act(
                zhangwei, [("营业执照.pdf", PDF)], action="resolve", number=number, text="已办好"
            )
            assert status == 200, answer
            assert answer["messages"][0]["text"] == f"已完成：工单 {number} 已办结。"

            def resolved() -> str | None:
                return next(
                    (t for t in pushed_texts(site.fake, ENTREPRENEUR) if "已办好" in t), None
                )

            await site.fake.wait_until(lambda: resolved() is not None, timeout=20)
            text = resolved()
            assert text is not None
            link = next(line for line in text.splitlines() if line.startswith(PUBLIC))
            assert "营业执照.pdf" in text
            parts = urlsplit(link)
            async with zhangwei.get(f"{parts.path}?{parts.query}") as response:
                assert response.status == 200
                assert await response.read() == PDF
            # The request's timeline in the console shows the file, as a link to it.
            async with zhangwei.get("/console/api/requests") as response:
                listing = await response.json()
        shown = [
            f
            for section in listing["sections"].values()
            for card in section
            for event in card["events"]
            for f in event["files"]
        ]
        assert [(f["kind"], f["name"]) for f in shown] == [("document", "营业执照.pdf")]


async def test_a_reply_with_a_pdf_reaches_the_web_chat_as_a_link(
    database: Database, faq_dir: Path, tmp_path: Path
) -> None:
    async with serve(database.url, faq_dir, files_dir=tmp_path / "f") as console:
        number, entrepreneur = await open_request(console, G1_SPACE, "注册公司需要什么材料")
        async with entrepreneur, await demo_signin(console, "zhangwei") as zhangwei:
            status, answer = await act(
                zhangwei, [("清单.pdf", PDF)], action="reply", number=number, text="材料清单见附件"
            )
            assert status == 200, answer
            async with entrepreneur.get("/api/updates?after=0") as response:
                messages = (await response.json())["messages"]
            replied = next(m for m in messages if "材料清单见附件" in m["text"])
            assert [(f["kind"], f["name"]) for f in replied["files"]] == [("document", "清单.pdf")]
            async with entrepreneur.get(replied["files"][0]["url"]) as response:
                assert (response.status, await response.read()) == (200, PDF)
        async with database.sessions() as session:
            rows = list(await session.scalars(select(OutboxMessage)))
        carried = [r for r in rows if r.payload.get("attachments")]
        assert len(carried) == 1
        attachments = carried[0].payload["attachments"]
        assert isinstance(attachments, list)
        assert attachments[0]["channel"] == "web"


async def test_a_non_members_post_with_a_file_is_refused_before_anything_is_kept(
    database: Database, faq_dir: Path, tmp_path: Path
) -> None:
    async with serve(database.url, faq_dir, files_dir=tmp_path / "f") as console:
        folder = tmp_path / "f"
        number, entrepreneur = await open_request(console, G1_SPACE, "孵化器入驻条件是什么")
        async with entrepreneur, await demo_signin(console, "wangfang") as wangfang:
            status, answer = await act(
                wangfang, [("结果.pdf", PDF)], action="resolve", number=number, text="办好了"
            )
        assert status == 403
        assert answer["error"] == f"工单 {number} 不属于您的服务小组，文件没有保存，操作没有生效。"
        assert stored_files(folder) == []
        async with database.sessions() as session:
            kinds = (await session.scalars(select(RequestEvent.kind))).all()
        assert kinds == ["opened"]


async def test_a_program_named_pdf_and_a_file_too_big_are_refused_in_plain_words(
    database: Database, faq_dir: Path, tmp_path: Path
) -> None:
    async with serve(database.url, faq_dir, files_max_mb=1, files_dir=tmp_path / "f") as console:
        folder = tmp_path / "f"
        number, entrepreneur = await open_request(console, G1_SPACE, "注册公司需要什么材料")
        async with entrepreneur, await demo_signin(console, "zhangwei") as zhangwei:
            status, answer = await act(
                zhangwei, [("setup.pdf", PROGRAM)], action="reply", number=number, text="见附件"
            )
            assert status == 415
            assert answer["error"].startswith("文件「setup.pdf」是程序，不能发送")
            big = PDF + bytes(1024 * 1024)
            status, answer = await act(
                zhangwei, [("扫描件.pdf", big)], action="reply", number=number, text="见附件"
            )
            assert status == 413
            assert answer["error"].startswith("文件「扫描件.pdf」超过 1 MB，没有发送")
        assert stored_files(folder) == []
        async with database.sessions() as session:
            kinds = (await session.scalars(select(RequestEvent.kind))).all()
        assert kinds == ["opened"]
