"""Files to and from WeCom members, and escalations to a supervisor on WeCom; in process.

The bot serves WeChat and WeCom beside both fakes, on a manual clock: an entrepreneur on
WeChat, the duty group 宝坻区服务一组 with two members on WeCom (张伟 and 李娜), and the
district's supervisor on WeCom too. What crosses is checked at the fakes' edges: the bytes
WeCom and WeChat were given, and the texts their users read.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.domain.lifecycle import Status
from bot.domain.roster.load import DEMO_ROSTER
from tests.support.desk import the_request
from tests.support.fake_wechat import image_xml
from tests.support.fake_wecom import (
    MEDIA_GET,
    MEDIA_UPLOAD,
    MESSAGE_SEND,
    FakeWeCom,
    MsgCrypt,
    WeComPlatform,
    card_event_xml,
    new_aes_key,
)
from tests.support.fake_wecom import image_xml as wecom_image_xml
from tests.support.fake_wecom import text_xml as wecom_text_xml
from tests.support.wechat import ENTREPRENEUR, Site, open_request, pushed_texts, serve

CORP_ID = "ww1436e0e65a779aee"
SECRET = "wecom-secret-for-tests"
TOKEN = "wecom-token-for-tests"
ZHANG, LI, SUPERVISOR = "ZhangWei", "LiNa", "DutyBaodi"
PUBLIC = "https://bot.example.cn"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 64
"""A picture as its first bytes say: JPEG (16 KB)."""
WAIT = 20.0


def roster(tmp_path: Path) -> Path:
    """The demo roster, with 李娜 and the district's supervisor on WeCom too."""
    demo = DEMO_ROSTER.read_text(encoding="utf-8")
    listed = "{name: 李娜, telegram: 2002, web: lina}"
    supervisor = "        web: duty-baodi\n"
    assert listed in demo
    assert supervisor in demo
    path = tmp_path / "roster.yaml"
    changed = demo.replace(listed, f"{{name: 李娜, telegram: 2002, wecom: {LI}, web: lina}}")
    path.write_text(changed.replace(supervisor, f"{supervisor}        wecom: {SUPERVISOR}\n"))
    return path


@dataclass
class Both:
    """The bot on WeChat and WeCom, with both fakes."""

    site: Site
    wecom: FakeWeCom
    platform: WeComPlatform
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_600_000_000))

    async def post(self, xml: str) -> None:
        """WeCom posts ``xml`` to the bot, signed at the bot's time."""
        stamp = str(int(self.site.clock.now().timestamp()))
        assert (await self.platform.post(xml, stamp, str(next(self.ids)))).status == 200

    async def press(self, userid: str, key: str) -> None:
        """``userid`` presses ``key`` on the request's card."""
        await self.wecom.wait_until(lambda: bool(self.wecom.cards(userid)), timeout=WAIT)
        card = self.wecom.cards(userid)[-1]
        stamp = int(self.site.clock.now().timestamp())
        code = self.wecom.press_code()
        await self.post(card_event_xml(CORP_ID, userid, key, card["task_id"], code, stamp))

    async def told(self, userid: str, words: str) -> str:
        """The first text to ``userid`` holding ``words``."""
        call = await self.wecom.wait_for(
            lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == userid
            and words in str((c.body or {}).get("text", {}).get("content", "")),
            timeout=WAIT,
        )  # fmt: skip
        return str((call.body or {})["text"]["content"])

    async def image_to(self, userid: str) -> dict[str, Any]:
        """The first image message WeCom accepted for ``userid``."""
        call = await self.wecom.wait_for(
            lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == userid
            and (c.body or {}).get("msgtype") == "image",
            timeout=WAIT,
        )  # fmt: skip
        return dict(call.body or {})

    async def fetch(self, link: str) -> tuple[int, bytes]:
        """Open a link the bot made, on the bot's own server (``BOT_PUBLIC_URL`` is not ours)."""
        parts = urlsplit(link)
        root = self.site.url.removesuffix("/wechat")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{root}{parts.path}?{parts.query}") as response,
        ):
            return response.status, await response.read()

    async def on_wechat(self, words: str) -> str:
        """The first text pushed to the entrepreneur holding ``words``."""

        def found() -> str | None:
            return next((t for t in pushed_texts(self.site.fake, ENTREPRENEUR) if words in t), None)

        await self.site.fake.wait_until(lambda: found() is not None, timeout=WAIT)
        return found() or ""


@contextlib.asynccontextmanager
async def both(tmp_path: Path, faq_dir: Path, **settings: Any) -> AsyncIterator[Both]:
    aes_key = new_aes_key()
    async with (
        FakeWeCom(CORP_ID, SECRET) as wecom,
        serve(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            faq_dir,
            roster=roster(tmp_path),
            wecom_corp_id=CORP_ID,
            wecom_agent_id=wecom.agent_id,
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=aes_key,
            wecom_api_url=wecom.root,
            files_dir=tmp_path / "files",
            public_url=PUBLIC,
            **settings,
        ) as site,
    ):
        url = site.url.removesuffix("/wechat") + "/wecom"
        yield Both(site, wecom, WeComPlatform(url, MsgCrypt(TOKEN, aes_key, CORP_ID)))


async def test_a_wechat_photo_is_uploaded_once_and_sent_to_both_members(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        await open_request(run.site)
        media = run.site.fake.add_media(JPEG, "image", "licence.jpg")
        await run.site.post(image_xml(ENTREPRENEUR, media, "http://mmbiz/licence.jpg", 620))
        sent = [await run.image_to(member) for member in (ZHANG, LI)]
        uploads = [c for c in run.wecom.calls if c.path == MEDIA_UPLOAD and c.ok]
        assert [(c.query["type"], c.upload and c.upload.data) for c in uploads] == [("image", JPEG)]
        media_id = (uploads[0].result or {})["media_id"]
        assert [m["image"]["media_id"] for m in sent] == [media_id, media_id]


async def test_a_members_photo_wecom_cannot_give_for_now_is_fetched_again(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        number = await open_request(run.site)
        await run.press(ZHANG, f"act:reply:{number}")
        await run.told(ZHANG, "请直接发送")
        run.wecom.fail_next(MEDIA_GET, -1, "system busy")
        media_id = run.wecom.add_media(JPEG, "site.jpg", "image/jpeg")
        await run.post(wecom_image_xml(CORP_ID, ZHANG, media_id, 31))
        await run.wecom.wait_until(
            lambda: any(c.path == MEDIA_GET and c.errcode == -1 for c in run.wecom.calls),
            timeout=WAIT,
        )
        assert not any(m["msgtype"] == "image" for m in run.site.fake.custom_messages(ENTREPRENEUR))
        run.site.clock.advance(timedelta(minutes=1))  # past the first retry's wait
        await run.site.fake.wait_until(
            lambda: any(
                m["msgtype"] == "image" for m in run.site.fake.custom_messages(ENTREPRENEUR)
            ),
            timeout=WAIT,
        )
        image = next(
            m for m in run.site.fake.custom_messages(ENTREPRENEUR) if m["msgtype"] == "image"
        )
        assert run.site.fake.media[image["image"]["media_id"]].upload.data == JPEG
        assert number in await run.on_wechat("服务专员张伟")


async def test_a_file_too_big_for_wecom_reaches_the_members_as_a_link(
    tmp_path: Path, faq_dir: Path
) -> None:
    big = JPEG + bytes(21 * 1024 * 1024)  # over WeCom's 10 MB for an image, 20 MB for a file
    async with both(tmp_path, faq_dir, files_max_mb=30) as run:
        number = await open_request(run.site)
        media = run.site.fake.add_media(big, "image", "plan.jpg")
        await run.site.post(image_xml(ENTREPRENEUR, media, "http://mmbiz/plan.jpg", 620))
        for member in (ZHANG, LI):
            noted = await run.told(member, f"{PUBLIC}/files/")
            assert f"工单 {number}" in noted
            link = re.search(rf"{re.escape(PUBLIC)}/files/\S+", noted)
            assert link, noted
            assert await run.fetch(link.group(0)) == (200, big)
        assert not [c for c in run.wecom.calls if c.path == MEDIA_UPLOAD]


async def test_after_resolve_a_wordless_photo_is_a_reply_and_the_press_waits_for_words(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with both(tmp_path, faq_dir) as run:
        number = await open_request(run.site)
        await run.press(ZHANG, f"act:resolve:{number}")
        await run.told(ZHANG, "办理结果")
        media_id = run.wecom.add_media(JPEG, "approval.jpg", "image/jpeg")
        await run.post(wecom_image_xml(CORP_ID, ZHANG, media_id, 41))
        assert number in await run.on_wechat("服务专员张伟回复")
        # The picture went on as a reply (which claims the request); the press still waits.
        assert (await the_request(run.site.bot, number)).status is Status.CLAIMED
        await run.post(wecom_text_xml(CORP_ID, ZHANG, "已办结，请查收批复", 42))
        assert number in await run.on_wechat("已办结，请查收批复")
        assert (await the_request(run.site.bot, number)).status is Status.RESOLVED


async def test_an_escalation_reaches_the_supervisor_on_wecom(tmp_path: Path, faq_dir: Path) -> None:
    async with both(tmp_path, faq_dir) as run:
        number = await open_request(run.site)
        request = await the_request(run.site.bot, number)
        # The morning after the deadline (Shanghai): the scheduler's round escalates.
        run.site.clock.set(request.deadline + timedelta(hours=9))
        await run.site.bot.scheduler.tick()
        escalated = await run.told(SUPERVISOR, f"工单 {number} 已超期")
        assert escalated.startswith(f"🚨 工单 {number} 已超期")
