"""The duty group on WeCom (企业微信), end to end against the real ``python -m bot run``.

An entrepreneur writes on WeChat (the fake WeChat, safe mode); the duty group's members work
in WeCom (the fake WeCom): each gets the request's card as a template card, presses its
buttons, and writes the words a move needs as their next message. Files cross between them:
the entrepreneur's photo reaches both members as a WeCom image, and a member's photo, too big
for a WeChat image, reaches the entrepreneur as a signed link. The bot runs as a process with
its SQLite file in the test's folder, and is killed (``SIGKILL``) and started again in the
middle of the exchange.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.domain.roster.load import DEMO_ROSTER
from tests.support.fake_wechat import FakeWeChat, WeChatPlatform, image_xml, text_xml
from tests.support.fake_wechat import new_aes_key as wechat_aes_key
from tests.support.fake_wecom import (
    MEDIA_GET,
    MEDIA_UPLOAD,
    MESSAGE_SEND,
    UPDATE_CARD,
    FakeWeCom,
    MsgCrypt,
    WeComPlatform,
    card_event_xml,
    new_aes_key,
)
from tests.support.fake_wecom import image_xml as wecom_image_xml
from tests.support.fake_wecom import text_xml as wecom_text_xml
from tests.support.processes import POLL, BotProcess, bot_env

pytestmark = pytest.mark.slow

CORP_ID = "ww1436e0e65a779aee"
SECRET = "wecom-secret-for-tests"
TOKEN = "wecom-token-for-tests"
WECHAT_TOKEN = "wechat-token-for-tests"
APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret-for-tests"
ENTREPRENEUR = "oENTREPRENEUR0000000000000007"
ZHANG, LI = "ZhangWei", "LiNa"
"""The two members of 宝坻区服务一组 (on duty for 北大科技园) with a WeCom account."""
STRANGER = "WangFang"
"""In the app's visible range, in no duty group."""
ASK = "请补充营业执照的统一社会信用代码"
INFO = "统一社会信用代码是 91120224MA05TEST01"
RESULT = "已核对，材料齐全，请周三到服务站领取"
PUBLIC = "https://bot.example.cn"
LICENCE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 256
"""The entrepreneur's photo of the licence: a 64 KB JPEG."""
SCAN = b"\xff\xd8\xff\xe1\x00\x10Exif\x00" + bytes(reversed(range(256))) * (12 * 1024)
"""The member's scan of the approval: a 3 MB JPEG, within WeCom's 10 MB for an image but over
WeChat's 2 MB, so it reaches the entrepreneur as a link."""
WAIT = 20.0
"""Seconds a step may take: a process on a loaded machine."""


def roster(tmp_path: Path) -> Path:
    """The demo roster, with 李娜 on WeCom too: the group has two members there."""
    demo = DEMO_ROSTER.read_text(encoding="utf-8")
    listed = "{name: 李娜, telegram: 2002, web: lina}"
    assert listed in demo
    path = tmp_path / "roster.yaml"
    path.write_text(demo.replace(listed, f"{{name: 李娜, telegram: 2002, wecom: {LI}, web: lina}}"))
    return path


@dataclass
class Desk:
    """The bot process and both platforms posting to it."""

    process: BotProcess
    wechat_api: FakeWeChat
    wecom_api: FakeWeCom
    wechat_aes_key: str
    crypt: MsgCrypt
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def wechat(self) -> WeChatPlatform:
        url = f"{self.process.url}/wechat"
        return WeChatPlatform(url, WECHAT_TOKEN, APP_ID, self.wechat_aes_key, "safe")

    @property
    def wecom(self) -> WeComPlatform:
        return WeComPlatform(f"{self.process.url}/wecom", self.crypt)

    def nonce(self) -> str:
        return str(next(self.ids) + 1_500_000_000)

    async def entrepreneur_says(self, text: str, **options: Any) -> str:
        """The entrepreneur writes on WeChat; the passive reply's text, if any."""
        posted = await self.wechat.post(text_xml(ENTREPRENEUR, text, next(self.ids), **options))
        assert posted.status == 200, posted.body_text
        return str(posted.reply["Content"]) if posted.reply else ""

    async def entrepreneur_sends_photo(self, photo: bytes) -> str:
        """The entrepreneur sends ``photo`` on WeChat; the passive reply's text, if any."""
        media_id = self.wechat_api.add_media(photo, "image", "licence.jpg")
        xml = image_xml(ENTREPRENEUR, media_id, "http://mmbiz.qpic.cn/licence", next(self.ids))
        posted = await self.wechat.post(xml)
        assert posted.status == 200, posted.body_text
        return str(posted.reply["Content"]) if posted.reply else ""

    async def member_sends_photo(self, userid: str, photo: bytes) -> None:
        """``userid`` sends ``photo`` to the app, as WeCom's image message."""
        media_id = self.wecom_api.add_media(photo, "scan.jpg", "image/jpeg")
        await self.post(wecom_image_xml(CORP_ID, userid, media_id, next(self.ids)))

    async def image_to(self, userid: str) -> bytes:
        """The bytes of the first image WeCom accepted for ``userid``, as it keeps them."""
        call = await self.wecom_api.wait_for(
            lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == userid
            and (c.body or {}).get("msgtype") == "image",
            timeout=WAIT,
        )  # fmt: skip
        return self.wecom_api.media[(call.body or {})["image"]["media_id"]].data

    async def fetch(self, link: str) -> tuple[int, bytes]:
        """Open a link the bot made, on the bot's own server (``BOT_PUBLIC_URL`` is not ours)."""
        parts = urlsplit(link)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.process.url}{parts.path}?{parts.query}") as response,
        ):
            return response.status, await response.read()

    async def member_says(self, userid: str, text: str) -> None:
        xml = wecom_text_xml(CORP_ID, userid, text, next(self.ids))
        assert (await self.wecom.post(xml, str(int(time.time())), self.nonce())).status == 200

    async def press(self, userid: str, key: str, card: dict[str, Any], code: str) -> str:
        """``userid`` presses ``key`` on ``card``; the callback's XML, to post it again."""
        xml = card_event_xml(CORP_ID, userid, key, card["task_id"], code, int(time.time()))
        await self.post(xml)
        return xml

    async def post(self, xml: str) -> None:
        assert (await self.wecom.post(xml, str(int(time.time())), self.nonce())).status == 200

    async def told(self, userid: str, words: str) -> str:
        """The first text to ``userid`` holding ``words``."""
        call = await self.wecom_api.wait_for(
            lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == userid
            and words in str((c.body or {}).get("text", {}).get("content", "")),
            timeout=WAIT,
        )  # fmt: skip
        return str((call.body or {})["text"]["content"])

    async def on_wechat(self, words: str) -> str:
        """The first message pushed to the entrepreneur holding ``words``."""
        await self.wechat_api.wait_until(
            lambda: any(words in text for text in self.wechat_texts()), timeout=WAIT
        )
        return next(text for text in self.wechat_texts() if words in text)

    def wechat_texts(self) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.wechat_api.custom_messages(ENTREPRENEUR)
            if m["msgtype"] == "text"
        ]

    async def cards(self, userid: str, count: int) -> list[dict[str, Any]]:
        """The first ``count`` cards sent to ``userid``, once they are there."""
        await self.wecom_api.wait_until(
            lambda: len(self.wecom_api.cards(userid)) >= count, timeout=WAIT
        )
        return self.wecom_api.cards(userid)

    async def updates(self, userid: str, count: int) -> list[dict[str, Any]]:
        """The first ``count`` redraws of ``userid``'s card, once they are there."""
        await self.wecom_api.wait_until(
            lambda: len(self.wecom_api.updates(userid)) >= count, timeout=WAIT
        )
        return self.wecom_api.updates(userid)

    async def settled(self, database: Path) -> None:
        """Until the bot has no WeCom or WeChat message left to send, and has said so."""

        def pending() -> int:
            with sqlite3.connect(database) as connection:
                row = connection.execute(
                    "SELECT count(*) FROM outbox WHERE channel IN ('wecom', 'wechat') "
                    "AND status = 'pending'"
                ).fetchone()
            return int(row[0])

        deadline = time.monotonic() + WAIT
        while pending():
            assert time.monotonic() < deadline, "the outbox did not empty"
            # Another process's doing (the bot writing its outbox): nothing to await.
            await asyncio.sleep(POLL)


def buttons(card: dict[str, Any]) -> dict[str, str]:
    """A card's buttons: label → key."""
    return {b["text"]: b["key"] for b in card["button_list"]}


def rows(card: dict[str, Any]) -> dict[str, str]:
    return {r["keyname"]: r["value"] for r in card.get("horizontal_content_list", [])}


async def test_the_duty_group_works_a_wechat_request_from_wecom(tmp_path: Path) -> None:
    wecom_key = new_aes_key()
    async with (
        FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as wechat_api,
        FakeWeCom(CORP_ID, SECRET) as wecom_api,
    ):
        env = bot_env(
            tmp_path,
            roster=str(roster(tmp_path)),
            wechat_token=WECHAT_TOKEN,
            wechat_app_id=APP_ID,
            wechat_app_secret=APP_SECRET,
            wechat_aes_key=(wechat_key := wechat_aes_key()),
            wechat_api_url=wechat_api.root,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=str(wecom_api.agent_id),
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=wecom_key,
            wecom_api_url=wecom_api.root,
            public_url=PUBLIC,
            files_dir=str(tmp_path / "files"),
        )
        process = BotProcess(env, tmp_path, tmp_path / "bot-1.log")
        desk = Desk(process, wechat_api, wecom_api, wechat_key, MsgCrypt(TOKEN, wecom_key, CORP_ID))
        await process.start_async()
        try:
            await work_the_request(desk, env, tmp_path)
        finally:
            await desk.process.stop_async()


async def work_the_request(desk: Desk, env: dict[str, str], tmp_path: Path) -> None:
    # The entrepreneur opens a request on WeChat, at 北大科技园.
    await desk.entrepreneur_says("提交工单 想咨询公司注册需要哪些材料")
    chosen = await desk.entrepreneur_says("北大科技园众创空间", bizmsgmenuid="space:baodi-pku")
    found = re.search(r"工单已提交：(\d{4}-\d{4})", chosen)
    assert found, chosen
    number = found.group(1)

    # Both members get the card on WeCom, with the moves and a reply button.
    zhang_card, li_card = (await desk.cards(ZHANG, 1))[0], (await desk.cards(LI, 1))[0]
    assert number in zhang_card["main_title"]["title"]
    assert rows(zhang_card)["状态"] == "待受理"
    assert set(buttons(zhang_card).values()) == {
        f"act:{move}:{number}" for move in ("claim", "ask", "resolve", "transfer", "reply")
    }
    assert zhang_card["task_id"] != li_card["task_id"]

    # A stranger's press is refused, and changes nothing.
    await desk.press(STRANGER, f"act:claim:{number}", zhang_card, desk.wecom_api.press_code())
    assert "只有服务小组的成员" in await desk.told(STRANGER, "服务小组")

    # 张伟 claims; WeCom posts the press twice (its retry): one claim, one redraw each.
    claim = await desk.press(ZHANG, f"act:claim:{number}", zhang_card, desk.wecom_api.press_code())
    await desk.post(claim)
    zhang_redrawn, li_redrawn = (await desk.updates(ZHANG, 1))[0], (await desk.updates(LI, 1))[0]
    for redrawn in (zhang_redrawn, li_redrawn):
        assert rows(redrawn["template_card"])["状态"] == "办理中"
        assert "张伟" in rows(redrawn["template_card"])["承办"]
    assert f"act:claim:{number}" not in buttons(zhang_redrawn["template_card"]).values()

    # 张伟 asks for information: the press, then his next message is the question.
    asking = zhang_redrawn["template_card"]
    await desk.press(ZHANG, f"act:ask:{number}", asking, desk.wecom_api.press_code())
    assert number in await desk.told(ZHANG, "请直接发送")
    await desk.member_says(ZHANG, ASK)
    assert number in await desk.on_wechat(ASK)
    # Both cards say so: 张伟's redrawn with his press's code, 李娜's sent anew (hers is spent).
    await desk.updates(ZHANG, 2)
    li_again = (await desk.cards(LI, 2))[1]
    assert rows(li_again)["状态"] == "待您补充"
    assert len(desk.wecom_api.updates(ZHANG)) == 2  # the doubled claim redrew once
    assert [c.errcode for c in desk.wecom_api.calls if c.path == UPDATE_CARD] == [0, 0, 0]

    # The bot is killed between the card and the reply, and started again on its database.
    await desk.settled(tmp_path / "bot.db")
    claimed = [t for t in desk.wecom_api.texts(ZHANG) if "已认领" in t or "不能进行" in t]
    assert claimed == [f"已完成：工单 {number} 已认领。"]  # the retried press: no second claim
    await desk.process.kill_async()
    desk.process = BotProcess(env, tmp_path, tmp_path / "bot-2.log")
    await desk.process.start_async()

    # The entrepreneur answers on WeChat, in words and with a photo; both members read the
    # words, naming the request, and get the photo as a WeCom image, uploaded once for both.
    await desk.entrepreneur_says(INFO)
    for member in (ZHANG, LI):
        assert f"工单 {number}" in await desk.told(member, INFO)
    acknowledged = await desk.entrepreneur_sends_photo(LICENCE)
    assert number in acknowledged, acknowledged
    for member in (ZHANG, LI):
        assert await desk.image_to(member) == LICENCE
    uploads = [c for c in desk.wecom_api.calls if c.path == MEDIA_UPLOAD and c.ok]
    assert [(c.query["type"], c.upload and c.upload.data) for c in uploads] == [("image", LICENCE)]

    # 张伟 resolves: the press, then his scan (a WeCom message is words or a picture, never
    # both), then the result. The entrepreneur gets the result on WeChat, and the scan as a
    # signed link that serves its bytes.
    await desk.press(ZHANG, f"act:resolve:{number}", asking, desk.wecom_api.press_code())
    await desk.told(ZHANG, "办理结果")
    await desk.member_sends_photo(ZHANG, SCAN)
    linked = await desk.on_wechat(f"{PUBLIC}/files/")
    assert number in linked
    link = re.search(rf"{re.escape(PUBLIC)}/files/\S+", linked)
    assert link, linked
    assert await desk.fetch(link.group(0)) == (200, SCAN)
    assert [c for c in desk.wecom_api.calls if c.path == MEDIA_GET and c.ok]
    await desk.member_says(ZHANG, RESULT)
    assert number in await desk.on_wechat(RESULT)
    await desk.wecom_api.wait_until(
        lambda: any(
            rows(card).get("状态", "").startswith("已办结")
            for card in [*desk.wecom_api.cards(LI), *(u["template_card"] for u in
                         desk.wecom_api.updates(LI))]
        ),
        timeout=WAIT,
    )  # fmt: skip
