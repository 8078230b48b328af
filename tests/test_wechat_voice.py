"""WeChat voice messages end to end, over the real ``/wechat`` edge.

With speech recognition switched on for the Official Account, WeChat puts its transcription in
the voice message's ``Recognition`` field: the bot takes it as the text the person would have
typed (a question, a command word, an intake answer, a follow-up, a member's ``#number``
reply), and the duty group reads that the words came as voice. A voice message without a
transcription gets a plain answer asking for text.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.messages import Language
from bot.texts.chat import texts_for
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from storage.models import OutboxMessage
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import Posted, voice_xml
from tests.support.wechat import (
    ENTREPRENEUR,
    SPACE,
    ZHANG,
    Site,
    content,
    open_request,
    pushed_texts,
    serve,
)

GROUP_CHAT = "-1002000000001"
"""宝坻区服务一组's Telegram chat in the demo roster: the duty group for 北大科技园."""
SPOKEN = GROUP_TEXTS.spoken.format(text="")
"""The mark the group reads after words that came as voice (（语音转文字）)."""

_media = itertools.count(1)


TELEGRAM_TOKEN = "7012345678:AAHk3Z9xQ-voice-tests-token-000000000000"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, faq_dir: Path, mode: str = "plain") -> AsyncIterator[Site]:
    """The WeChat site, serving Telegram too (a fake), where the demo roster's groups are."""
    async with (
        FakeTelegram(token=TELEGRAM_TOKEN) as telegram,
        serve(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            faq_dir,
            mode=mode,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.root,
            telegram_webhook_url="http://127.0.0.1:1",  # nothing polls; no update comes in
        ) as running,
    ):
        yield running


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    async with serving(tmp_path, faq_dir) as running:
        yield running


@pytest.fixture
async def safe_site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    """Safe mode: the only mode in which a commissioner may act on WeChat."""
    async with serving(tmp_path, faq_dir, mode="safe") as running:
        yield running


async def speak(site: Site, openid: str, recognition: str | None, msg_id: int) -> Posted:
    """``openid`` sends a voice message; ``recognition`` is WeChat's transcription, if any."""
    media = site.fake.add_media(b"#!AMR\n" + bytes(40), "voice", f"voice{next(_media)}.amr")
    return await site.post(voice_xml(openid, media, msg_id, recognition=recognition))


async def group_texts(site: Site, *, card: bool | None = None) -> list[str]:
    """The texts queued for the duty group's chat (only its cards, or none of them)."""
    async with site.bot.database.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == GROUP_CHAT)
            .order_by(OutboxMessage.id)
        )
        return [
            str(row.payload["text"])
            for row in rows
            if card is None or bool(row.payload.get("card")) is card
        ]


async def test_a_spoken_question_is_answered_as_typed(site: Site) -> None:
    answered = await speak(site, ENTREPRENEUR, "服务专员多久给我反馈结果？", 11)
    assert "10个工作日" in content(answered)


async def test_a_spoken_command_word_works_despite_the_transcripts_full_stop(site: Site) -> None:
    # WeChat's transcription ends a sentence with a full stop: "帮助。" is still 帮助.
    helped = await speak(site, ENTREPRENEUR, "帮助。", 12)
    assert content(helped).startswith(texts_for(Language.ZH).help[:20])


async def test_a_request_opened_by_voice_shows_on_the_card_as_voice(site: Site) -> None:
    asked = await speak(site, ENTREPRENEUR, "提交工单 想咨询公司注册需要哪些材料。", 100)
    assert "众创空间" in content(asked)
    chosen = await site.say(ENTREPRENEUR, "北大科技园众创空间", 101, bizmsgmenuid=f"space:{SPACE}")
    assert re.search(r"工单已提交：\d{4}-\d{4}", content(chosen)), content(chosen)
    (card,) = await group_texts(site, card=True)
    assert "想咨询公司注册需要哪些材料" + SPOKEN in card
    assert "附件" not in card  # no note of a file to ask for: the words are here
    # The maker space is known now: the second one opens at once (the quick lane's way).
    again = await speak(site, ENTREPRENEUR, "提交工单 想申请场地租金减免。", 102)
    assert re.search(r"工单已提交：\d{4}-\d{4}", content(again)), content(again)
    cards = await group_texts(site, card=True)
    assert len(cards) == 2
    assert "想申请场地租金减免" + SPOKEN in cards[1]


async def test_a_spoken_intake_answer_fills_the_step(site: Site) -> None:
    await site.say(ENTREPRENEUR, "北大科技园众创空间", 200, bizmsgmenuid=f"space:{SPACE}")
    await site.say(ENTREPRENEUR, "提交工单", 201)
    await site.say(ENTREPRENEUR, "1", 202)  # the first kind of matter
    phone = await speak(site, ENTREPRENEUR, "公司注册需要准备哪些材料？", 203)
    assert "电话" in content(phone)
    summary = await site.say(ENTREPRENEUR, "跳过", 204)
    assert "公司注册需要准备哪些材料？" + SPOKEN in content(summary)


async def test_a_spoken_follow_up_reaches_the_group_marked_as_voice(site: Site) -> None:
    await open_request(site)
    before = len(await group_texts(site, card=False))
    await speak(site, ENTREPRENEUR, "补充：我们是有限责任公司。", 300)
    relayed = (await group_texts(site, card=False))[before:]
    assert len(relayed) == 1, relayed
    assert "补充：我们是有限责任公司" + SPOKEN in relayed[0]
    assert "附件" not in relayed[0]


async def test_a_spoken_new_question_is_held_as_a_typed_one_would_be(site: Site) -> None:
    number = await open_request(site)
    held = await speak(site, ENTREPRENEUR, "场地租金减免怎么申请？", 310)
    offer = desk_texts_for(Language.ZH).new_question_offer.format(number=number)
    assert content(held).startswith(offer), content(held)


async def test_a_members_spoken_numbered_reply_reaches_the_entrepreneur(safe_site: Site) -> None:
    site = safe_site
    number = await open_request(site)
    await speak(site, ZHANG, f"#{number} 请带营业执照复印件到窗口办理。", 400)
    await site.fake.wait_until(lambda: len(pushed_texts(site.fake, ENTREPRENEUR)) == 1, timeout=10)
    assert "请带营业执照复印件到窗口办理" in pushed_texts(site.fake, ENTREPRENEUR)[0]


@pytest.mark.parametrize("recognition", [None, "  "], ids=["no-recognition", "empty"])
async def test_a_voice_without_words_is_asked_to_type(site: Site, recognition: str | None) -> None:
    answered = await speak(site, ENTREPRENEUR, recognition, 500)
    assert content(answered) == texts_for(Language.ZH).voice_only


async def test_a_voice_without_words_still_reaches_a_request_as_a_voice(site: Site) -> None:
    # The voice itself goes with the follow-up; the sender fetches it for the group's chat.
    await open_request(site)
    await speak(site, ENTREPRENEUR, None, 600)
    async with site.bot.database.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == GROUP_CHAT)
            .order_by(OutboxMessage.id)
        )
        relayed = [row.payload for row in rows if not row.payload.get("card")][-1]
    assert "补充" in str(relayed["text"])
    carried = [(a["kind"], a["channel"]) for a in relayed.get("attachments") or []]
    assert carried == [("voice", "wechat")]
