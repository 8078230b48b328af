"""The WeCom (企业微信) app channel end to end, over real HTTP.

The bot's own aiohttp application serves ``/wecom`` on 127.0.0.1 on a real database, with a
manual clock; its outbox sender runs beside it and sends through :class:`FakeWeCom`, the
stand-in for ``qyapi.weixin.qq.com``. :class:`WeComPlatform` plays WeCom itself: it encrypts
and signs each callback with a crypto of its own, not wechatpy's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import Bot
from bot.channels.wecom.api import WeComApi, WeComApiError
from bot.clock import ManualClock
from bot.settings import load_settings
from storage import Database, nonces
from storage.models import InboundKey, OutboxMessage, OutboxStatus, WeChatNonce
from tests.support.fake_wecom import (
    GETTOKEN,
    MESSAGE_SEND,
    SPENT_CODE,
    FakeWeCom,
    MsgCrypt,
    WeComPlatform,
    card_event_xml,
    new_aes_key,
    text_xml,
)
from tests.support.server import in_process
from tests.support.wechat import MONDAY

CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = 1000002
SECRET = "wecom-secret-for-tests"
TOKEN = "wecom-token-for-tests"
ZHANG = "ZhangWei"
"""张伟 in the demo roster: a member of 宝坻区服务一组, by his WeCom UserID."""
QUESTION = "服务专员多久给我反馈结果？"
ANSWER = "10个工作日"


@dataclass
class Site:
    bot: Bot
    fake: FakeWeCom
    wecom: WeComPlatform
    nonces: Iterator[int] = field(default_factory=lambda: itertools.count(1_400_000_000))

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.bot.clock, ManualClock)
        return self.bot.clock

    def stamp(self) -> str:
        return str(int(self.clock.now().timestamp()))

    def nonce(self) -> str:
        return str(next(self.nonces))

    async def say(self, userid: str, text: str, msg_id: int) -> int:
        """``userid`` writes ``text`` to the app; the status the bot answered WeCom."""
        posted = await self.wecom.post(
            text_xml(CORP_ID, userid, text, msg_id), self.stamp(), self.nonce()
        )
        assert posted.text == "" or posted.status != 200
        return posted.status

    async def count(self, model: Any, *where: Any) -> int:
        async with self.bot.database.sessions() as session:
            counted = await session.scalar(select(func.count()).select_from(model).where(*where))
        return int(counted or 0)


@contextlib.asynccontextmanager
async def serve(database_url: str, faq_dir: Path) -> AsyncIterator[Site]:
    clock = ManualClock(MONDAY)
    aes_key = new_aes_key()
    async with FakeWeCom(CORP_ID, SECRET, AGENT_ID, members={ZHANG}, clock=clock) as fake:
        settings = load_settings(
            database_url=database_url,
            knowledge_dir=faq_dir,
            roster=None,
            calendar=None,
            web_chat=False,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT_ID,
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=aes_key,
            wecom_api_url=fake.root,
        )
        async with in_process(settings, clock) as running:
            url = str(running.server.make_url("/wecom"))
            yield Site(running.bot, fake, WeComPlatform(url, MsgCrypt(TOKEN, aes_key, CORP_ID)))


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir) as running:
        yield running


async def answered(site: Site, userid: str, text: str) -> str:
    """The first app message to ``userid`` that holds ``text``."""
    call = await site.fake.wait_for(
        lambda c: c.path == MESSAGE_SEND and c.ok and c.touser == userid
        and text in str((c.body or {}).get("text", {}).get("content", ""))
    )  # fmt: skip
    return str((call.body or {})["text"]["content"])


# --- the callback URL --------------------------------------------------------------------------


async def test_the_url_check_answers_the_decrypted_echostr(site: Site) -> None:
    checked = await site.wecom.verify_url("1288432023552776189", site.stamp(), site.nonce())
    assert (checked.status, checked.text) == (200, "1288432023552776189")
    # The same check again (WeCom's retry) is answered alike; its signature for another echostr
    # is refused, as is a check signed with another token or a malformed query.
    again = await site.wecom.send("GET", checked.query)
    assert (again.status, again.text) == (200, "1288432023552776189")
    other = site.wecom.crypt.encrypt("another")
    forged = await site.wecom.send("GET", {**checked.query, "echostr": other})
    assert forged.status == 403
    wrong = WeComPlatform(site.wecom.url, MsgCrypt("wrong-token", new_aes_key(), CORP_ID))
    assert (await wrong.verify_url("x", site.stamp(), site.nonce())).status == 403
    malformed = await site.wecom.send("GET", {**checked.query, "timestamp": "yesterday"})
    assert malformed.status == 400


# --- messages ----------------------------------------------------------------------------------


async def test_a_members_text_is_answered_by_app_message(site: Site) -> None:
    assert await site.say(ZHANG, QUESTION, 1) == 200
    text = await answered(site, ZHANG, ANSWER)
    assert "来源：" in text
    sent = site.fake.sent(ZHANG)[0]
    assert (sent["agentid"], sent["msgtype"]) == (AGENT_ID, "text")
    assert await site.count(InboundKey, InboundKey.key == "wecom:1") == 1


async def test_a_forged_signature_is_refused_before_any_work(site: Site) -> None:
    body, _ = site.wecom.envelope(text_xml(CORP_ID, ZHANG, QUESTION, 2))
    query = site.wecom.query(site.stamp(), site.nonce(), "not-the-encrypt-text")
    assert (await site.wecom.send("POST", query, body.encode())).status == 403
    unsigned = {k: v for k, v in query.items() if k != "msg_signature"}
    assert (await site.wecom.send("POST", unsigned, body.encode())).status == 403
    assert await site.count(InboundKey) == 0
    assert await site.count(WeChatNonce) == 0  # not even the nonce was noted
    assert await site.count(OutboxMessage) == 0


async def test_a_stale_or_unsigned_request_is_refused_before_its_body_is_read(
    site: Site,
) -> None:
    xml = text_xml(CORP_ID, ZHANG, QUESTION, 11)
    now = int(site.clock.now().timestamp())
    for skew, status in ((-61, 403), (61, 403), (-59, 200), (59, 200)):
        assert (await site.wecom.post(xml, str(now + skew), site.nonce())).status == status
    # Over the size limit and unsigned: refused for the signature, the body left unread.
    unsigned = {"timestamp": site.stamp(), "nonce": site.nonce()}
    too_big = b"<xml>" + b" " * (64 * 1024) + b"</xml>"
    assert (await site.wecom.send("POST", unsigned, too_big)).status == 403
    assert await site.count(InboundKey) == 1


async def test_a_replayed_nonce_is_refused_and_a_retry_is_handled_once(
    database_url: str, faq_dir: Path
) -> None:
    async with serve(database_url, faq_dir) as site:
        await replay_and_retry(site)


async def replay_and_retry(site: Site) -> None:
    stamp, nonce = site.stamp(), site.nonce()
    body, encrypted = site.wecom.envelope(text_xml(CORP_ID, ZHANG, QUESTION, 3))
    query = site.wecom.query(stamp, nonce, encrypted)
    first = await site.wecom.send("POST", query, body.encode())
    retry = await site.wecom.send("POST", query, body.encode())  # WeCom's own, byte for byte
    assert (first.status, retry.status) == (200, 200)
    # The captured query and nonce, with another message signed for them: a replay.
    other, other_encrypted = site.wecom.envelope(text_xml(CORP_ID, ZHANG, "#2026-0001 办结", 4))
    replayed = site.wecom.query(stamp, nonce, other_encrypted)
    assert (await site.wecom.send("POST", replayed, other.encode())).status == 403
    await answered(site, ZHANG, ANSWER)
    assert await site.count(InboundKey) == 1
    assert await site.count(OutboxMessage) == 1


async def test_the_same_msgid_twice_is_handled_once(database_url: str, faq_dir: Path) -> None:
    async with serve(database_url, faq_dir) as site:
        await same_msgid_twice(site)


async def same_msgid_twice(site: Site) -> None:
    assert await site.say(ZHANG, QUESTION, 5) == 200
    assert await site.say(ZHANG, QUESTION, 5) == 200  # another nonce, the same MsgId
    await answered(site, ZHANG, ANSWER)
    assert await site.count(InboundKey) == 1
    assert await site.count(OutboxMessage) == 1
    assert len(site.fake.sent(ZHANG)) == 1


async def test_a_card_press_is_a_choice_and_counts_once(site: Site) -> None:
    press = card_event_xml(CORP_ID, ZHANG, "claim:1", "task-1", "code-1", 1_800_000_000)
    for _ in range(2):
        assert (await site.wecom.post(press, site.stamp(), site.nonce())).status == 200
    assert await site.count(InboundKey) == 1
    assert await site.count(InboundKey, InboundKey.key.like(f"wecom:{ZHANG}:1800000000:%")) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<xml><Encrypt><![CDATA[%%%]]></Encrypt></xml>",
        b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
    ],
)
async def test_a_malformed_body_is_refused_with_400(site: Site, body: bytes) -> None:
    query = site.wecom.query(site.stamp(), site.nonce(), "a")
    assert (await site.wecom.send("POST", query, body)).status == 400
    assert await site.count(InboundKey) == 0


async def test_a_signed_body_our_key_cannot_open_is_refused_with_400(site: Site) -> None:
    # Signed with our token, encrypted for another enterprise: nothing to read, nothing stored.
    foreign = site.wecom.crypt.encrypt(text_xml(CORP_ID, ZHANG, QUESTION, 6), "ww-another-corp")
    body = f"<xml><ToUserName>x</ToUserName><Encrypt>{foreign}</Encrypt></xml>".encode()
    query = site.wecom.query(site.stamp(), site.nonce(), foreign)
    assert (await site.wecom.send("POST", query, body)).status == 400
    too_big = b"<xml>" + b" " * (64 * 1024) + b"</xml>"
    assert (await site.wecom.send("POST", query, too_big)).status == 413
    assert await site.count(InboundKey) == 0


async def test_wechat_and_wecom_keep_their_signed_pairs_apart(database: Database) -> None:
    # The same timestamp and nonce signed by both platforms, each with its own body: neither
    # is a replay of the other; on one platform it still is.
    wechat, wecom = nonces.NonceMemory(database), nonces.NonceMemory(database, "wecom")
    assert await wechat.first_use(1_796_605_200, "1597212914", "a" * 64)
    assert await wecom.first_use(1_796_605_200, "1597212914", "b" * 64)
    assert not await wecom.first_use(1_796_605_200, "1597212914", "c" * 64)
    assert await nonces_kept(database, WeChatNonce.scope == "wecom") == 1


async def nonces_kept(database: Database, *where: Any) -> int:
    async with database.sessions() as session:
        counted = await session.scalar(select(func.count()).select_from(WeChatNonce).where(*where))
    return int(counted or 0)


# --- the API client ----------------------------------------------------------------------------


async def test_an_expired_token_is_renewed_and_the_message_sent_once(site: Site) -> None:
    assert await site.say(ZHANG, QUESTION, 7) == 200
    await answered(site, ZHANG, ANSWER)
    site.fake.expire_token()
    assert await site.say(ZHANG, "服务小组有几个人？", 8) == 200
    await site.fake.wait_until(lambda: len(site.fake.sent(ZHANG)) == 2)
    assert site.fake.token_fetches == 2
    refused = [c for c in site.fake.calls if c.path == MESSAGE_SEND and c.errcode == 42001]
    assert len(refused) == 1
    assert len([c for c in site.fake.calls if c.path == GETTOKEN]) == 2


async def test_a_member_outside_the_visible_range_fails_for_good(site: Site) -> None:
    assert await site.say("LiNa", QUESTION, 9) == 200
    await site.fake.wait_for(lambda c: c.path == MESSAGE_SEND and c.errcode == 81013)

    # Rounds go one after another, each written before the next: once a later message is
    # out, the refused one's fate is in the outbox.
    assert await site.say(ZHANG, QUESTION, 10) == 200
    await answered(site, ZHANG, ANSWER)
    failed = OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.chat_id == "LiNa"
    assert await site.count(OutboxMessage, *failed) == 1
    assert len([c for c in site.fake.calls if c.errcode == 81013]) == 1  # not tried again


async def test_the_client_fetches_one_token_for_many_sends_and_speaks_every_endpoint() -> None:
    clock = ManualClock(MONDAY)
    async with FakeWeCom(CORP_ID, SECRET, AGENT_ID, clock=clock) as fake:
        api = WeComApi(fake.root, CORP_ID, SECRET, AGENT_ID, clock)
        try:
            await asyncio.gather(*(api.send_text(f"user{n}", "你好") for n in range(20)))
            assert (fake.token_fetches, api.token_fetches) == (1, 1)  # one flight, twenty sends
            await api.send_markdown(ZHANG, "**工单 2026-0001** 已认领")
            card = {
                "card_type": "button_interaction",
                "task_id": "request-1",
                "main_title": {"title": "工单 2026-0001"},
                "button_list": [{"text": "认领", "style": 1, "key": "act:claim:2026-0001"}],
            }
            sent = await api.send(ZHANG, {"msgtype": "template_card", "template_card": card})
            code = str(sent["response_code"])
            await api.update_template_card([ZHANG], code, {"button": {"replace_name": "已认领"}})
            with pytest.raises(WeComApiError) as spent:  # a response code serves once
                await api.update_template_card([ZHANG], code, {"button": {"replace_name": "x"}})
            assert spent.value.code == SPENT_CODE
            pdf = b"%PDF-1.4 ..."
            media_id = await api.upload_media("file", "结果.pdf", pdf, "application/pdf")
            assert fake.media[media_id].data == pdf
            clock.advance(timedelta(hours=2))  # the token has run out: fetched again, once
            await asyncio.gather(*(api.send_text(ZHANG, "再见") for _ in range(5)))
            assert fake.token_fetches == 2
        finally:
            await api.close()
