"""Request cards on WeCom: response codes, redraws, the moves' words, files; in process.

The bot serves ``/wecom`` beside :class:`FakeWeCom` on a manual clock (as in
:mod:`tests.test_wecom`); an entrepreneur opens requests through the dispatcher (the web chat),
and 张伟, a member of the duty group with a WeCom account, works them from WeCom.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.lifecycle import Status
from storage import Database, wecom_cards
from storage.models import OutboxMessage, Person, Request
from tests.support.desk import open_one, the_request
from tests.support.fake_wecom import UPDATE_CARD, card_event_xml
from tests.test_wecom import CORP_ID, ZHANG, Site, serve


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir) as running:
        yield running


async def card_of(site: Site, count: int = 1) -> dict[str, Any]:
    """The ``count``-th card sent to 张伟, once it is there."""
    await site.fake.wait_until(lambda: len(site.fake.cards(ZHANG)) >= count)
    return site.fake.cards(ZHANG)[count - 1]


async def press(site: Site, key: str, card: dict[str, Any], code: str) -> None:
    stamp = int(site.clock.now().timestamp())
    xml = card_event_xml(CORP_ID, ZHANG, key, card["task_id"], code, stamp)
    assert (await site.wecom.post(xml, site.stamp(), site.nonce())).status == 200


async def entrepreneur_told(site: Site, words: str) -> str:
    """The web chat message to the entrepreneur holding ``words`` (the page pulls them)."""
    async with site.bot.database.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "e1"))
        texts = [str(row.payload.get("text")) for row in rows.all()]
    return next((text for text in texts if words in text), "")


def rows(card: dict[str, Any]) -> dict[str, str]:
    return {r["keyname"]: r["value"] for r in card.get("horizontal_content_list", [])}


async def test_a_press_redraws_the_card_with_the_press_code(site: Site) -> None:
    number = await open_one(site.bot)
    card = await card_of(site)
    assert rows(card)["状态"] == "待受理"
    assert rows(card)["内容"] == "想咨询公司注册需要哪些材料"
    code = site.fake.press_code()
    await press(site, f"act:claim:{number}", card, code)
    await site.fake.wait_until(lambda: len(site.fake.updates(ZHANG)) == 1)
    redrawn = site.fake.updates(ZHANG)[0]
    assert redrawn["response_code"] == code  # the freshest: the press's, not the sending's
    assert rows(redrawn["template_card"])["状态"] == "办理中"
    assert (await the_request(site.bot, number)).status is Status.CLAIMED


async def test_a_member_with_no_valid_code_gets_the_card_anew(site: Site) -> None:
    number = await open_one(site.bot)
    await card_of(site)
    site.clock.advance(timedelta(hours=73))  # the sending's code has run out
    assert await site.say(ZHANG, f"/claim {number}", 1) == 200
    redrawn = await card_of(site, 2)
    assert rows(redrawn)["状态"] == "办理中"
    assert not [c for c in site.fake.calls if c.path == UPDATE_CARD]  # a stale code is not tried


async def test_a_code_wecom_refuses_costs_itself_only(site: Site) -> None:
    number = await open_one(site.bot)
    await card_of(site)
    site.fake.fail_next(UPDATE_CARD, 40058, "invalid parameter: response_code")
    assert await site.say(ZHANG, f"/claim {number}", 1) == 200
    assert rows(await card_of(site, 2))["状态"] == "办理中"
    assert [c.errcode for c in site.fake.calls if c.path == UPDATE_CARD] == [40058]


async def test_after_reply_the_next_message_and_its_photo_reach_the_entrepreneur(
    site: Site,
) -> None:
    number = await open_one(site.bot)
    card = await card_of(site)
    await press(site, f"act:reply:{number}", card, site.fake.press_code())
    await site.fake.wait_until(lambda: any("请直接发送" in t for t in site.fake.texts(ZHANG)))
    media_id = site.fake.add_media(b"\xff\xd8\xff photo", "photo.jpg", "image/jpeg")
    image = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{ZHANG}]]></FromUserName><CreateTime>1796605200</CreateTime>"
        "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://127.0.0.1/p]]></PicUrl>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>77</MsgId><AgentID>1000002</AgentID>"
        "</xml>"
    )
    assert (await site.wecom.post(image, site.stamp(), site.nonce())).status == 200
    # The photo goes with the reply: the web chat shows it by a signed link, made when read.
    assert await entrepreneur_told(site, "服务专员张伟回复")
    async with site.bot.database.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "e1"))
        sent = [a for row in rows.all() for a in row.payload.get("attachments") or []]
    assert [(a["kind"], a["channel"], a["ref"]) for a in sent] == [("photo", "wecom", media_id)]


async def test_a_press_forgotten_after_an_hour_makes_no_move(site: Site) -> None:
    number = await open_one(site.bot)
    card = await card_of(site)
    await press(site, f"act:resolve:{number}", card, site.fake.press_code())
    await site.fake.wait_until(lambda: any("办理结果" in t for t in site.fake.texts(ZHANG)))
    site.clock.advance(timedelta(minutes=61))
    assert await site.say(ZHANG, "已经办好了", 2) == 200
    await site.fake.wait_until(lambda: len(site.fake.texts(ZHANG)) >= 2)
    assert (await the_request(site.bot, number)).status is Status.OPEN


# --- the codes' storage, on both databases ----------------------------------------------------


async def test_codes_serve_once_freshest_first_for_72_hours(database: Database) -> None:
    now = datetime(2026, 11, 2, 2, tzinfo=UTC)
    async with database.transaction() as session:
        person = Person(created_at=now)
        session.add(person)
        await session.flush()
        request = Request(
            number="2026-0001", person_id=person.id, channel="web", chat_id="e1",
            space_id="baodi-eco", group_id="baodi-g1", category="other", text="?",
            status=Status.OPEN, opened_at=now, due_date=now.date(), deadline=now,
            updated_at=now,
        )  # fmt: skip
        session.add(request)
        await session.flush()
        kept = {"userid": ZHANG, "request_id": request.id}
        await wecom_cards.keep(session, "old", **kept, at=now - timedelta(hours=73))
        await wecom_cards.keep(session, "sent", **kept, at=now - timedelta(hours=1))
        await wecom_cards.keep(session, "pressed", **kept, at=now)
        await wecom_cards.keep(session, "pressed", **kept, at=now)  # WeCom's retry
        await wecom_cards.keep(session, "stray", userid=ZHANG, request_id=10_000, at=now)
    taken = []
    for _ in range(3):
        async with database.transaction() as session:
            taken.append(await wecom_cards.take(session, **kept, now=now))
    assert taken == ["pressed", "sent", None]
