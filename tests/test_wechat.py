"""The WeChat Official Account channel end to end, over real HTTP.

The bot's own aiohttp application serves ``/wechat`` on 127.0.0.1, on a real database, with a
manual clock so that 48 hours pass without waiting; its outbox sender runs beside it and pushes
through :class:`FakeWeChat`, the stand-in for ``api.weixin.qq.com``. :class:`WeChatPlatform`
plays WeChat itself: it signs (and in safe mode encrypts) the message XML and posts it, then
checks and decrypts the passive reply as WeChat would.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from bot.channels.wechat import inbound, parsing
from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.inbound import MENU
from bot.channels.wechat.render import TEXT_LIMIT, escape_cdata, render_text, split_text
from bot.clock import ManualClock
from bot.messages import Button, Channel, Language, OutgoingMessage
from handlers.faq import rating_buttons
from knowledge.service import build
from storage import Database
from storage.models import (
    MAX_INTEGER,
    AnsweredQuestion,
    InboundKey,
    OutboxMessage,
    OutboxStatus,
    Request,
)
from tests.support import ROOT
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import (
    CUSTOM_SEND,
    STABLE_TOKEN,
    FakeWeChat,
    WeChatPlatform,
    event_xml,
    image_xml,
    text_xml,
)
from tests.support.knowledge import write_faq
from tests.support.processes import bot_env
from tests.support.wechat import (
    APP_ID,
    APP_SECRET,
    ENTREPRENEUR,
    MONDAY,
    SPACE,
    TEMPLATE,
    TOKEN,
    ZHANG,
    Site,
    content,
    open_request,
    pushed_texts,
    serve,
)

TELEGRAM_TOKEN = "7012345678:AAHk3Z9xQ-wechat-tests-token-00000000000"


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir) as running:
        yield running


@pytest.fixture
async def safe_site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    """The account in safe mode: the only mode in which a commissioner may act on WeChat."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="safe") as running:
        yield running


# --- the server URL and signatures -----------------------------------------------------------


async def test_the_url_check_echoes_and_bad_signatures_are_refused(site: Site) -> None:
    checked = await site.platform.verify_url("echo-4711", timestamp=site.stamp())
    assert (checked.status, checked.body_text) == (200, "echo-4711")
    forged = await site.platform.verify_url("echo-4711", tamper="signature", timestamp=site.stamp())
    assert forged.status == 403
    for tamper in ("signature", "unsigned"):
        posted = await site.post(
            text_xml(ENTREPRENEUR, "服务专员多久给我反馈结果？", msg_id=1), tamper=tamper
        )
        assert posted.status == 403
        assert posted.body_text != "success"
    assert await site.count(InboundKey) == 0


async def test_a_stale_signature_is_refused(site: Site) -> None:
    # A signed query seen once must not carry other bodies later: the timestamp is signed too.
    # WeChat's three tries of a message come within about 15 s of its timestamp: 60 s is the
    # window, and the nonces of that window are remembered.
    question = text_xml(ENTREPRENEUR, "服务专员多久给我反馈结果？", msg_id=2)
    for skew in (timedelta(seconds=-61), timedelta(seconds=61)):
        stale = str(int((site.clock.now() + skew).timestamp()))
        assert (await site.platform.post(question, timestamp=stale)).status == 403
        assert (await site.platform.verify_url("e", timestamp=stale)).status == 403
    for skew in (timedelta(seconds=-59), timedelta(seconds=59)):
        fresh = str(int((site.clock.now() + skew).timestamp()))
        assert "10个工作日" in content(await site.platform.post(question, timestamp=fresh))


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_a_question_is_answered_passively_with_its_source(
    tmp_path: Path, faq_dir: Path, mode: str
) -> None:
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir, mode=mode) as site:
        posted = await site.say(ENTREPRENEUR, "服务专员多久给我反馈结果？", 11)
        assert posted.encrypted == (mode != "plain")
        assert "10个工作日" in content(posted)
        assert "来源：津科创〔2015〕51号 第七条" in content(posted)
        assert posted.reply is not None
        assert posted.reply["ToUserName"] == ENTREPRENEUR
        assert posted.reply["MsgType"] == "text"
        # Answered in the response itself: nothing went through the API.
        assert site.fake.custom_messages() == []


async def test_markup_in_an_answer_reads_as_written(tmp_path: Path) -> None:
    faq = tmp_path / "faq"
    write_faq(
        faq,
        "a.yaml",
        "- id: markup\n  question: 代码里的结束标记怎么写？\n  variants: [结束标记]\n"
        "  answer: 写成 ]]> 即可，<b>不是</b> HTML。\n  source: 津科创〔2015〕51号 第七条\n"
        "  category: commissioners\n",
    )
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq, mode="safe") as site:
        posted = await site.say(ENTREPRENEUR, "代码里的结束标记怎么写？", 12)
        # WeChat would take <b> for a tag: its brackets go full width, which reads the same.
        assert "写成 ]]＞ 即可，＜b＞不是＜/b＞ HTML。" in content(posted)


async def test_a_slow_answer_is_acknowledged_and_pushed(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No time left for a passive reply: the answer must come by customer-service message.
    monkeypatch.setattr(inbound, "PASSIVE_BUDGET", 0.0)
    posted = await site.say(ENTREPRENEUR, "服务专员多久给我反馈结果？", 13)
    assert (posted.status, posted.body_text) == (200, "success")
    call = await site.fake.wait_for(lambda c: c.path == CUSTOM_SEND and c.ok, timeout=10)
    assert call.body is not None
    assert call.body["touser"] == ENTREPRENEUR
    assert "10个工作日" in call.body["text"]["content"]
    assert len(site.fake.custom_messages()) == 1


async def test_an_answer_too_long_for_a_passive_reply_is_pushed_never_handed_back(
    tmp_path: Path,
) -> None:
    # 3,000 bytes: more than one message carries. WeChat gets "success", the answer comes by
    # customer-service message in two parts, and the reply never counted as handed back.
    answer = "营业执照、法人身份证和场地证明须为原件。" * 50
    faq = tmp_path / "faq"
    write_faq(
        faq,
        "a.yaml",
        f"- id: long\n  question: 注册公司要带哪些原件？\n  variants: [带哪些原件]\n"
        f"  answer: {answer}\n  source: 津科创〔2015〕51号 第七条\n  category: commissioners\n",
    )
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq) as site:
        question = text_xml(ENTREPRENEUR, "注册公司要带哪些原件？", msg_id=14)
        posted = await site.post(question)
        assert (posted.status, posted.body_text) == (200, "success")
        await site.fake.wait_until(
            lambda: len(pushed_texts(site.fake, ENTREPRENEUR)) == 2, timeout=10
        )
        first, second = pushed_texts(site.fake, ENTREPRENEUR)
        assert first.startswith(answer[:100])
        assert "来源：津科创〔2015〕51号 第七条" in second
        # WeChat's retry is answered as the first try was, and nothing goes out twice.
        retried = await site.post(question)
        assert (retried.status, retried.body_text) == (200, "success")
        async with site.bot.database.sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.inbound_key == "wechat:14")
                )
            ).all()
        assert [(row.status, row.attempts) for row in rows] == [(OutboxStatus.SENT, 1)]
        registry = site.bot.services.metrics.registry
        out = "makerdesk_messages_out_total"
        assert registry.get_sample_value(out, {"channel": "wechat", "how": "inline"}) in (None, 0)
        assert registry.get_sample_value(out, {"channel": "wechat", "how": "pushed"}) == 1
        assert len(pushed_texts(site.fake, ENTREPRENEUR)) == 2


async def test_the_menu_and_the_command_words_work(site: Site) -> None:
    followed = await site.post(event_xml(ENTREPRENEUR, "subscribe"))
    welcome = content(followed)
    assert "weixin://bizmsgmenu" in welcome  # the maker spaces, as tappable links
    assert "msgmenuid=space:baodi-pku" in welcome
    tickets = await site.post(event_xml(ENTREPRENEUR, "CLICK", event_key="tickets"))
    assert "工单" in content(tickets)
    number = await open_request(site)
    listed = await site.say(ENTREPRENEUR, "我的工单", 40)
    assert number in content(listed)
    # An unknown menu key and a VIEW event are not messages: WeChat gets "success".
    odd = await site.post(event_xml(ENTREPRENEUR, "CLICK", event_key="nonsense"))
    assert odd.body_text == "success"


_LINK = re.compile(
    r'<a href="weixin://bizmsgmenu\?msgmenucontent=([^&"]*)&msgmenuid=([^"]*)">([^<]*)</a>'
)


def links(text: str) -> dict[str, tuple[str, str]]:
    """The menu links in ``text``: label → (what a tap says, the payload it carries)."""
    return {label: (said, payload) for said, payload, label in _LINK.findall(text)}


async def tap(site: Site, openid: str, link: tuple[str, str], msg_id: int) -> str:
    """``openid`` taps ``link`` as WeChat sends a tap; returns the passive reply."""
    said, payload = link
    return content(await site.say(openid, said, msg_id, bizmsgmenuid=payload))


async def answer_row(site: Site) -> AnsweredQuestion:
    async with site.bot.database.sessions() as session:
        (row,) = (await session.scalars(select(AnsweredQuestion))).all()
        return row


async def test_an_answer_carries_thumbs_and_a_tap_rates_it(
    database: Database, faq_dir: Path
) -> None:
    async with serve(database.url, faq_dir) as site:
        question = text_xml(ENTREPRENEUR, "服务专员多久给我反馈结果？", msg_id=60)
        posts = await site.platform.post_retries(
            question, times=3, concurrent=True, timestamp=site.stamp()
        )
        answers = {content(posted) for posted in posts}
        assert len(answers) == 1  # WeChat's three tries: one answer, kept once
        answer = answers.pop()
        assert await site.count(AnsweredQuestion) == 1
        row = await answer_row(site)
        assert answer.endswith(
            "\n\n来源：津科创〔2015〕51号 第七条\n\n"
            f'<a href="weixin://bizmsgmenu?msgmenucontent=👍有帮助&msgmenuid=rate:{row.id}:up">'
            "👍有帮助</a>\n"
            f'<a href="weixin://bizmsgmenu?msgmenucontent=👎没帮助&msgmenuid=rate:{row.id}:down">'
            "👎没帮助</a>"
        )
        thumbs = links(answer)

        thanks = await tap(site, ENTREPRENEUR, thumbs["👎没帮助"], 61)
        assert thanks.startswith("谢谢您的反馈，我们会改进这条回答。")
        assert links(thanks) == {"提交给服务专员": ("提交给服务专员", "request:new")}
        row = await answer_row(site)
        assert (row.channel, row.chat_id, row.rating) == ("wechat", ENTREPRENEUR, "down")

        refused = await tap(site, "oSOMEONE-ELSE000000000000000", thumbs["👍有帮助"], 62)
        assert refused == "这条回答不是发给您的，不能由您评价。"
        assert (await answer_row(site)).rating == "down"

        assert await tap(site, ENTREPRENEUR, thumbs["👍有帮助"], 63) == (
            "谢谢您的反馈，很高兴能帮上忙！"
        )
        assert (await answer_row(site)).rating == "up"  # changed, not a second row
        assert site.fake.custom_messages() == []  # every reply went back passively


def test_every_shipped_answer_with_its_thumbs_fits_one_wechat_message() -> None:
    thumbs = rating_buttons(MAX_INTEGER, Language.ZH)  # the longest id a button can carry
    for entry in build(ROOT / "knowledge" / "faq").entries:
        answer = OutgoingMessage(
            ENTREPRENEUR, Channel.WECHAT, entry.answer, thumbs, source=entry.source
        )
        assert len(render_text(answer).encode()) <= TEXT_LIMIT, entry.id


# --- retries ---------------------------------------------------------------------------------


async def test_three_retries_make_one_request_and_one_answer(
    database: Database, faq_dir: Path
) -> None:
    async with serve(database.url, faq_dir) as site:
        await _three_retries(site)


async def _three_retries(site: Site) -> None:
    asked = await site.say(ENTREPRENEUR, "提交工单 想咨询公司注册需要哪些材料", 50)
    assert "众创空间" in content(asked)
    choice = text_xml(ENTREPRENEUR, "北大科技园众创空间", msg_id=51, bizmsgmenuid=f"space:{SPACE}")
    posts = await site.platform.post_retries(
        choice, times=3, concurrent=True, timestamp=site.stamp()
    )
    answers = {content(posted) for posted in posts}
    assert len(answers) == 1
    answer = answers.pop()
    assert "工单已提交" in answer
    assert await site.count(Request) == 1
    assert await site.count(InboundKey, InboundKey.key == "wechat:51") == 1
    # Every reply to it went back in that one passive answer, and only there.
    async with site.bot.database.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.inbound_key == "wechat:51",
                    OutboxMessage.channel == Channel.WECHAT.value,
                )
            )
        ).all()
    assert rows
    assert all((row.status, row.attempts) == (OutboxStatus.HANDED_BACK, 0) for row in rows)
    assert all(
        render_text(OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload)) in answer
        for row in rows
    )
    assert site.fake.custom_messages(ENTREPRENEUR) == []  # the answer went back passively


# --- pushes and WeChat's 48-hour window ------------------------------------------------------


async def test_a_commissioners_reply_within_the_window_is_pushed(safe_site: Site) -> None:
    site = safe_site
    number = await open_request(site)
    answered = await site.say(ZHANG, f"#{number} 请带营业执照复印件到窗口办理。", 200)
    assert answered.status == 200
    await site.fake.wait_until(lambda: len(pushed_texts(site.fake, ENTREPRENEUR)) == 1, timeout=10)
    assert "请带营业执照复印件到窗口办理。" in pushed_texts(site.fake, ENTREPRENEUR)[0]
    # The commissioner learns it arrived.
    await site.fake.wait_until(
        lambda: any("✓" in text for text in pushed_texts(site.fake, ZHANG)), timeout=10
    )


@pytest.mark.slow
async def test_a_reply_after_48_hours_is_held_then_delivered_when_the_user_writes(
    tmp_path: Path, faq_dir: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="safe", wechat_notice_template=TEMPLATE) as site:
        number = await open_request(site)
        await site.advance(timedelta(hours=49))
        await site.say(ZHANG, f"#{number} 材料清单已整理好，请查收。", 300)
        # Held: nothing is pushed to the entrepreneur, who gets one template notice instead…
        await site.fake.wait_until(lambda: len(site.fake.templates(ENTREPRENEUR)) == 1, timeout=10)
        notice = site.fake.templates(ENTREPRENEUR)[0]
        assert notice["template_id"] == TEMPLATE
        assert notice["data"]["keyword1"]["value"] == number
        # …and the commissioner is told it waits.
        await site.fake.wait_until(
            lambda: any("⏳" in text for text in pushed_texts(site.fake, ZHANG)), timeout=10
        )
        assert pushed_texts(site.fake, ENTREPRENEUR) == []
        held = await site.count(OutboxMessage, OutboxMessage.status == OutboxStatus.HELD)
        assert held == 1
        # A second reply in the same silence is held too, without a second notice.
        await site.say(ZHANG, f"#{number} 另外请带身份证。", 301)
        await site.fake.wait_until(
            lambda: len([t for t in pushed_texts(site.fake, ZHANG) if "⏳" in t]) == 2, timeout=10
        )
        assert len(site.fake.templates(ENTREPRENEUR)) == 1

        await site.advance(timedelta(hours=3))
        posted = await site.say(ENTREPRENEUR, "你好", 302)
        assert posted.reply is not None  # the message itself is answered as usual
        await site.fake.wait_until(
            lambda: len(pushed_texts(site.fake, ENTREPRENEUR)) == 2, timeout=10
        )
        texts = pushed_texts(site.fake, ENTREPRENEUR)
        assert "材料清单已整理好，请查收。" in texts[0]
        assert "另外请带身份证。" in texts[1]
        await site.fake.wait_until(
            lambda: len([t for t in pushed_texts(site.fake, ZHANG) if "✓" in t]) == 2, timeout=10
        )
        assert await site.count(OutboxMessage, OutboxMessage.status == OutboxStatus.HELD) == 0


async def test_the_notice_can_be_a_subscription_message_with_the_accounts_own_fields(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with serve(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        faq_dir,
        mode="safe",
        wechat_notice_template=TEMPLATE,
        wechat_notice_kind="subscription",
        wechat_notice_fields="thing1=text,character_string2=number,thing3=请回复查看",
    ) as site:
        number = await open_request(site)
        await site.advance(timedelta(hours=48, minutes=1))
        await site.say(ZHANG, f"#{number} 已受理。", 350)
        await site.fake.wait_until(lambda: site.fake.subscriptions(ENTREPRENEUR) != [], timeout=10)
        data = site.fake.subscriptions(ENTREPRENEUR)[0]["data"]
        assert len(data["thing1"]["value"]) == 20  # WeChat's limit for a thing field
        assert data["character_string2"]["value"] == number
        assert data["thing3"]["value"] == "请回复查看"
        assert site.fake.templates() == []


async def test_wechat_refusing_a_push_holds_it_until_the_user_writes(safe_site: Site) -> None:
    site = safe_site
    number = await open_request(site)
    site.fake.outside_window(ENTREPRENEUR)  # WeChat's own count disagrees with ours: 45015
    await site.say(ZHANG, f"#{number} 已转交税务窗口。", 400)
    await site.fake.wait_until(
        lambda: any(c.errcode == 45015 for c in site.fake.calls_of(CUSTOM_SEND)), timeout=10
    )
    await site.fake.wait_until(
        lambda: any("⏳" in text for text in pushed_texts(site.fake, ZHANG)), timeout=10
    )
    site.fake.inside_window(ENTREPRENEUR)
    await site.say(ENTREPRENEUR, "请问进度如何", 401)
    await site.fake.wait_until(
        lambda: any("已转交税务窗口。" in t for t in pushed_texts(site.fake, ENTREPRENEUR)),
        timeout=10,
    )


async def test_nothing_is_pushed_after_an_unfollow(safe_site: Site) -> None:
    site = safe_site
    number = await open_request(site)
    # A follow and an unfollow within one batch of contacts: the unfollow wins.
    await site.post(event_xml(ENTREPRENEUR, "subscribe", create_time=1))
    gone = await site.post(event_xml(ENTREPRENEUR, "unsubscribe"))
    assert gone.body_text == "success"
    assert site.bot.wechat is not None
    await site.bot.wechat.flush_contacts()  # the forgotten follow must not break the batch
    await site.say(ZHANG, f"#{number} 您好，请补充材料。", 500)
    await site.fake.wait_until(
        lambda: any("⚠" in text for text in pushed_texts(site.fake, ZHANG)), timeout=10
    )
    assert "取消关注" in next(t for t in pushed_texts(site.fake, ZHANG) if "⚠" in t)
    assert pushed_texts(site.fake, ENTREPRENEUR) == []
    assert site.fake.calls_of(CUSTOM_SEND) == [
        c for c in site.fake.calls_of(CUSTOM_SEND) if c.touser != ENTREPRENEUR
    ]


@pytest.mark.slow
async def test_a_message_the_bot_fails_on_is_left_for_wechat_to_retry(site: Site) -> None:
    # The database cannot take the message (its dedup table is gone for a moment): the bot must
    # not answer within WeChat's 5 seconds, so WeChat posts it again instead of dropping it.
    async with site.bot.database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE inbound_keys RENAME TO inbound_keys_away"))
    question = text_xml(ENTREPRENEUR, "服务专员多久给我反馈结果？", msg_id=90)
    first = await site.post(question)
    assert first.status is None  # no answer within the limit: WeChat will retry
    async with site.bot.database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE inbound_keys_away RENAME TO inbound_keys"))
    retried = await site.post(question)
    assert "10个工作日" in content(retried)


@pytest.fixture
async def site_with_telegram(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    """:func:`site`, serving Telegram too, where the demo roster's groups are."""
    async with FakeTelegram(token=TELEGRAM_TOKEN) as telegram:
        database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        async with serve(
            database,
            faq_dir,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.root,
            telegram_webhook_url="http://127.0.0.1:1",  # nothing polls; no update comes in
        ) as running:
            yield running


async def test_a_photo_follow_up_goes_to_the_group_with_the_photo(
    site_with_telegram: Site,
) -> None:
    site = site_with_telegram
    await open_request(site)
    media = site.fake.add_media(b"\xff\xd8photo", "image", "licence.jpg")
    await site.post(image_xml(ENTREPRENEUR, media, "http://mmbiz/licence.jpg", 620))
    group_chat = "-1002000000001"  # 宝坻区服务一组 on Telegram, in the demo roster
    async with site.bot.database.sessions() as session:
        payloads = list(
            await session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.chat_id == group_chat)
            )
        )
    # The sender fetches it from WeChat for Telegram (tests/test_files.py); the desk names it.
    carried = [a for p in payloads for a in p.get("attachments", [])]
    assert carried == [
        {"kind": "photo", "name": None, "size": None, "channel": "wechat", "ref": media}
    ], payloads


# --- what is not a WeChat message ------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]><xml><ToUserName>gh</ToUserName>'
    "<FromUserName>oX</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    "<Content>&c;</Content><MsgId>9</MsgId></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&e;</Content><MsgId>10</MsgId></xml>"
)


MESSAGE = (
    "<ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>服务小组有几个人？</Content><MsgId>11</MsgId>"
)
"""A message the bot would answer, to put in a body it must not read."""


@pytest.mark.parametrize(
    "body",
    [
        b"this is not xml",
        b"<xml><MsgType>text</MsgType>",  # cut short
        BILLION_LAUGHS.encode(),
        EXTERNAL_ENTITY.encode(),
        b"<xml>" + b"A" * (1024 * 1024) + b"</xml>",  # 1 MiB
        b"\xff\xfe<\x00x\x00m\x00l\x00>",  # not UTF-8
        b'{"MsgType": "text"}',
        f"<xml><!-- a comment -->{MESSAGE}</xml>".encode(),
        f"<xml><?php echo 1; ?>{MESSAGE}</xml>".encode(),
        f"<xml>{MESSAGE}{'<Extra/>' * parsing.MAX_ELEMENTS}</xml>".encode(),
    ],
    ids=[
        "garbage",
        "truncated",
        "entities",
        "external-entity",
        "1MiB",
        "utf16",
        "json",
        "comment",
        "processing-instruction",
        "too-many-elements",
    ],
)
async def test_unreadable_bodies_get_success_and_store_nothing(site: Site, body: bytes) -> None:
    query = site.platform._query(ENTREPRENEUR, site.stamp(), "12345", None, None)
    async with (
        aiohttp.ClientSession() as client,
        # A file-like body: aiohttp warns about posting a megabyte of raw bytes.
        client.post(site.url, params=query, data=io.BytesIO(body)) as response,
    ):
        assert (response.status, await response.text()) == (200, "success")
    assert await site.count(InboundKey) == 0
    assert await site.count(OutboxMessage) == 0


async def test_safe_mode_refuses_forgeries_and_undecryptable_bodies(
    tmp_path: Path, faq_dir: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="safe") as site:
        question = text_xml(ENTREPRENEUR, "服务专员多久给我反馈结果？", msg_id=70)
        forged = await site.post(question, tamper="msg_signature")
        assert forged.status == 403
        wrong_key = await site.post(question, tamper="aes")
        assert (wrong_key.status, wrong_key.body_text) == (200, "success")
        other_app = await site.post(question, tamper="appid")
        assert (other_app.status, other_app.body_text) == (200, "success")
        # A plain message while the account is in safe mode: not taken.
        plain = WeChatPlatform(site.url, TOKEN, APP_ID)
        downgraded = await plain.post(question, timestamp=site.stamp())
        assert (downgraded.status, downgraded.body_text) == (200, "success")
        assert await site.count(InboundKey) == 0
        # The real thing still works afterwards.
        assert "10个工作日" in content(await site.post(question))


# --- the access token ------------------------------------------------------------------------


async def test_concurrent_sends_fetch_the_token_once() -> None:
    clock = ManualClock(MONDAY)
    async with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET, clock=clock) as fake:
        api = WeChatApi(fake.root, APP_ID, APP_SECRET, clock)
        try:
            fake.token_delay = 0.2  # every sender arrives while the first fetch is under way
            text = {"msgtype": "text", "text": {"content": "您好"}}
            await asyncio.gather(*(api.send_custom(f"oUser{n}", text) for n in range(20)))
            assert fake.token_fetches == 1
            assert [c.path for c in fake.calls if "token" in c.path] == [STABLE_TOKEN]
            assert len(fake.custom_messages()) == 20
            # Renewed before it expires, not after: 6,900 s into its 7,200 s.
            clock.advance(timedelta(seconds=6900))
            await api.send_custom("oUser1", text)
            assert fake.token_fetches == 2
            # A token WeChat calls expired is renewed once and the call retried.
            fake.expire_tokens()
            await asyncio.gather(*(api.send_custom(f"oUser{n}", text) for n in range(5)))
            assert fake.token_fetches == 3
            assert len(fake.custom_messages()) == 26
            assert api.token_fetches == 3
        finally:
            await api.close()


async def test_the_secret_and_token_never_reach_the_log(
    safe_site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site = safe_site
    caplog.set_level("DEBUG")
    number = await open_request(site)
    await site.say(ZHANG, f"#{number} 好的", 700)
    await site.fake.wait_until(lambda: len(pushed_texts(site.fake, ENTREPRENEUR)) == 1, timeout=10)
    tokens = site.fake.valid_tokens()
    assert tokens
    assert site.platform.aes_key is not None
    for secret in (APP_SECRET, TOKEN, site.platform.aes_key, *tokens):
        assert secret not in caplog.text


# --- the menu command ------------------------------------------------------------------------


@pytest.mark.slow
async def test_wechat_menu_push_installs_the_menu(tmp_path: Path) -> None:
    async with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as fake:
        env = bot_env(
            tmp_path,
            wechat_token=TOKEN,
            wechat_app_id=APP_ID,
            wechat_app_secret=APP_SECRET,
            wechat_api_url=fake.root,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "wechat", "menu", "--push",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        assert "提交工单" in out.decode()

        def leaves(buttons: list[dict[str, Any]]) -> list[tuple[str, str]]:
            found = []
            for button in buttons:
                found += leaves(button.get("sub_button") or [])
                if "key" in button:
                    found.append((button["name"], button["key"]))
            return found

        assert fake.menu is not None
        assert leaves(fake.menu) == leaves(MENU["button"])
        assert [b["name"] for b in fake.menu] == ["提交工单", "我的工单", "更多"]
        assert APP_SECRET not in err.decode()


# --- what people wrote stays text ------------------------------------------------------------

GROUP_CHAT = "oGROUPCHAT000000000000000001"
WECHAT_GROUP_ROSTER = f"""\
districts:
  - id: baodi
    name: 宝坻区
    supervisors:
      - {{name: 区科委值班, telegram: 9101}}
spaces:
  - {{id: baodi-pku, name: 北大科技园众创空间, district: baodi}}
groups:
  - id: g1
    name: 服务一组
    district: baodi
    chat: {{wechat: {GROUP_CHAT}}}
    members:
      - {{name: 张伟, wechat: {ZHANG}}}
      - {{name: 李娜, telegram: 2002}}
    onsite: {{baodi-pku: thu}}
  - id: g2
    name: 服务二组
    district: baodi
    chat: {{telegram: -1002000000002}}
    members:
      - {{name: 王芳, telegram: 2003}}
      - {{name: 刘洋, telegram: 2004}}
    onsite: {{baodi-pku: fri}}
admins:
  - {{name: 管理员, telegram: 9001}}
"""
"""Duty group g1 works in a WeChat chat: its request cards go there as text messages."""
PLANTED = (
    '<a href="weixin://bizmsgmenu?msgmenucontent=x&msgmenuid=act:transfer:2026-0001:g2">认领</a>'
)
"""A menu link that would make the commissioner who taps it hand the request to g2."""


async def test_an_entrepreneurs_link_reaches_the_groups_card_as_inert_text(
    tmp_path: Path, faq_dir: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(WECHAT_GROUP_ROSTER, encoding="utf-8")
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="safe", roster=roster) as site:
        asked = await site.say(ENTREPRENEUR, f"提交工单 公司注册要哪些材料？{PLANTED}", 800)
        chosen = await site.say(
            ENTREPRENEUR, "北大科技园众创空间", 801, bizmsgmenuid=f"space:{SPACE}"
        )
        assert "工单已提交" in content(chosen), content(asked)
        await site.fake.wait_until(lambda: pushed_texts(site.fake, GROUP_CHAT) != [], timeout=10)
        (card,) = pushed_texts(site.fake, GROUP_CHAT)
        assert "公司注册要哪些材料？" in card
        # Shown as written, in full-width brackets that WeChat does not take for a tag…
        assert PLANTED.replace("<", "＜").replace(">", "＞") in card
        # …so the only links are the bot's own buttons.
        assert card.count("<a ") == len(links(card))
        assert all(payload.startswith("act:") for _, payload in links(card).values())
        assert "act:transfer:2026-0001:g2" not in [p for _, p in links(card).values()]


async def test_a_forged_address_cannot_inject_xml_into_the_reply(site: Site) -> None:
    # In plain mode anyone may write FromUserName and ToUserName; the reply carries both back.
    openid = "oX]]></ToUserName><Injected>1</Injected><ToUserName>"
    account = "gh]]></FromUserName><Injected>2</Injected><FromUserName>"
    posted = await site.post(text_xml(openid, "服务专员多久给我反馈结果？", msg_id=810, to=account))
    assert "10个工作日" in content(posted)
    assert posted.reply is not None
    assert (posted.reply["ToUserName"], posted.reply["FromUserName"]) == (openid, account)
    assert "Injected" not in posted.reply


# --- rendering -------------------------------------------------------------------------------


def test_text_is_split_at_line_ends_within_the_byte_limit() -> None:
    text = "\n".join(f"第{n}行：" + "政策" * 40 for n in range(40))
    parts = split_text(text, 2000)
    assert all(len(part.encode()) <= 2000 for part in parts)
    assert "\n".join(parts) == text
    assert len(parts) > 1
    long_line = "长" * 1500  # one line over the limit is cut inside it
    assert "".join(split_text(long_line, 2000)) == long_line
    assert split_text("", 2000) == [""]


def test_cdata_end_is_escaped() -> None:
    assert escape_cdata("a]]>b") == "a]]]]><![CDATA[>b"
    assert escape_cdata("plain") == "plain"
    # Characters XML allows nowhere would make WeChat refuse the whole reply.
    assert escape_cdata("a\x00b\x1bc\ud800d\te\n😀") == "abcd\te\n😀"


def test_only_the_bots_own_buttons_are_markup() -> None:
    message = OutgoingMessage(
        ZHANG,
        Channel.WECHAT,
        f"💬 工单 2026-0001：{PLANTED} 增长<80%",
        buttons=(Button("认领 <b>", "act:claim:1"),),
        source="<i>来源</i>",
    )
    text = render_text(message)
    assert links(text) == {"认领 ＜b＞": ("认领 b", "act:claim:1")}
    assert text.count("<") == text.count(">") == 2  # the one link's own tags
    assert "增长＜80%" in text
    assert "＜i＞来源＜/i＞" in text


def test_buttons_become_menu_links_and_numbered_labels_send_their_number() -> None:
    message = OutgoingMessage(
        ENTREPRENEUR,
        Channel.WECHAT,
        "请选择",
        buttons=(Button("3. 项目申报", "intake:cat:projects"), Button("取消", "intake:cancel")),
        source="津科创〔2015〕51号 第七条",
    )
    text = render_text(message)
    assert "来源：津科创〔2015〕51号 第七条" in text
    assert (
        '<a href="weixin://bizmsgmenu?msgmenucontent=3&msgmenuid=intake:cat:projects">'
        "3. 项目申报</a>" in text
    )
    assert "msgmenucontent=取消&msgmenuid=intake:cancel" in text
    words = OutgoingMessage(ENTREPRENEUR, Channel.WECHAT, "发送 /new 提交，/cancel 取消，/start。")
    assert render_text(words) == "发送 “提交工单” 提交，“取消” 取消，/start。"


def test_every_menu_key_stands_for_a_command() -> None:
    keys = [b["key"] for top in MENU["button"] for b in (top.get("sub_button") or [top])]
    assert sorted(keys) == sorted(inbound.MENU_COMMANDS)


async def test_media_is_uploaded_for_a_media_id_and_a_stale_token_is_renewed_once() -> None:
    clock = ManualClock(MONDAY)
    async with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET, clock=clock) as fake:
        api = WeChatApi(fake.root, APP_ID, APP_SECRET, clock)
        try:
            photo = b"\xff\xd8\xff\xe0 a photo of the licence"
            media_id = await api.upload_media("image", "licence.jpg", photo, "image/jpeg")
            assert fake.media[media_id].upload.data == photo
            fake.revoke_tokens()  # 40001 on the next call: fetched again, tried once more
            again = await api.upload_media("image", "licence.jpg", photo, "image/jpeg")
            assert again != media_id
            assert fake.token_fetches == 2
            await api.send_custom(ENTREPRENEUR, {"msgtype": "image", "image": {"media_id": again}})
            assert fake.custom_messages(ENTREPRENEUR)[0]["image"]["media_id"] == again
        finally:
            await api.close()
