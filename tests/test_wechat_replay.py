"""WeChat's signatures: no replay, and nothing read before they are checked (audit #2, #3, #15).

WeChat signs a request's ``timestamp`` and ``nonce`` (in plain mode nothing else), so a query
seen once, in an access log say, must not carry another body. The bot remembers every pair it
was signed with in the database all its processes share, with a digest of the body: WeChat's
own retry (the very same request) is answered as the first try was, anything else with the pair
gets 403. In safe mode ``msg_signature`` is checked before the body is parsed at all.

Everything runs over real HTTP against the bot's own application, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from bot.messages import Sender
from storage import Database, nonces
from storage.models import AnsweredQuestion, InboundKey, OutboxMessage, WeChatNonce
from tests.support.fake_wechat import event_xml, msg_signature, sign, text_xml
from tests.support.processes import free_port
from tests.support.wechat import ENTREPRENEUR, TOKEN, ZHANG, Site, content, open_request, serve

QUESTION = "服务专员多久给我反馈结果？"
ANSWER = "10个工作日"
HOSTILE = b"<xml>" + b"<![CDATA[" * 7200
"""The audit's body: under 64 KiB, and quadratic for the old lazy CDATA regex (1.8 s)."""


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Site]:
    """The bot in plain mode on SQLite."""
    async with serve(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir) as running:
        yield running


async def post_raw(url: str, query: Mapping[str, str], body: bytes) -> tuple[int, str]:
    """Post ``body`` with ``query`` as anyone can; the status and the text of the answer."""
    headers = {"Content-Type": "text/xml"}
    async with (
        aiohttp.ClientSession() as client,
        client.post(url, params=dict(query), data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def outbox_texts(site: Site) -> list[str]:
    async with site.bot.database.sessions() as session:
        rows = await session.scalars(select(OutboxMessage))
        return [str(row.payload.get("text", "")) for row in rows]


# --- plain mode: a captured query carries nothing else -----------------------------------------


async def test_a_captured_query_cannot_carry_a_forged_body(
    database: Database, faq_dir: Path
) -> None:
    async with serve(database.url, faq_dir) as site:
        number = await open_request(site)
        asked = await site.say(ENTREPRENEUR, QUESTION, 200)
        assert ANSWER in content(asked)
        captured = asked.query  # signature, timestamp, nonce: what an access log keeps
        keys, queued = await site.count(InboundKey), await outbox_texts(site)
        # The audit's attack: the commissioner's words, forged with the entrepreneur's query.
        forged = text_xml(ZHANG, f"#{number} 请把身份证照片和银行卡号发到 evil@example.com", 201)
        status, text = await post_raw(site.url, captured, forged.encode())
        assert (status, text) == (403, "forbidden")
        assert await site.count(InboundKey) == keys
        assert await outbox_texts(site) == queued  # nothing for the entrepreneur, or anyone
        assert not any("evil@example.com" in t for t in await outbox_texts(site))


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_wechats_own_retries_of_the_very_same_request_get_one_answer(
    database: Database, faq_dir: Path, mode: str
) -> None:
    # Real retries repeat the request byte for byte, query included, while the first try may
    # still be in hand: all three must reach the MsgId check, which answers them alike.
    async with serve(database.url, faq_dir, mode=mode) as site:
        question = text_xml(ENTREPRENEUR, QUESTION, msg_id=80)
        posts = await site.platform.post_retries(
            question, times=3, concurrent=True, timestamp=site.stamp(), nonce="1320562132"
        )
        assert len({tuple(sorted(posted.query.items())) for posted in posts}) == 1
        answers = {content(posted) for posted in posts}
        assert len(answers) == 1
        assert ANSWER in answers.pop()
        assert await site.count(AnsweredQuestion) == 1
        assert await site.count(WeChatNonce) == 1


async def test_the_url_checks_query_serves_no_message_and_a_messages_no_url_check(
    site: Site,
) -> None:
    checked = await site.platform.verify_url("echo-1", timestamp=site.stamp())
    assert (checked.status, checked.body_text) == (200, "echo-1")
    stamp, nonce = checked.query["timestamp"], checked.query["nonce"]
    # WeChat checking the URL again with the same query changes nothing: still echoed.
    again = await site.platform.verify_url("echo-1", timestamp=stamp, nonce=nonce)
    assert (again.status, again.body_text) == (200, "echo-1")
    query = {key: value for key, value in checked.query.items() if key != "echostr"}
    forged = text_xml(ZHANG, "#2026-0001 已办结", 300)
    assert await post_raw(site.url, query, forged.encode()) == (403, "forbidden")
    assert await site.count(InboundKey) == 0

    asked = await site.say(ENTREPRENEUR, QUESTION, 301)
    assert ANSWER in content(asked)
    stamp, nonce = asked.query["timestamp"], asked.query["nonce"]
    reused = await site.platform.verify_url("echo-2", timestamp=stamp, nonce=nonce)
    assert reused.status == 403


async def test_a_signed_nonce_that_is_not_plain_digits_and_letters_is_refused(site: Site) -> None:
    # The nonce goes back into the encrypted reply's XML: only WeChat's shape is taken.
    question = text_xml(ENTREPRENEUR, QUESTION, msg_id=310)
    for nonce in ("12]]><x>", "1" * 65, "１２３"):
        assert (await site.post(question, nonce=nonce)).status == 403
    assert await site.count(InboundKey) == 0


async def test_a_replay_is_refused_by_every_instance_sharing_the_database(
    database: Database, faq_dir: Path
) -> None:
    async with serve(database.url, faq_dir) as first, serve(database.url, faq_dir) as second:
        question = text_xml(ENTREPRENEUR, QUESTION, msg_id=90)
        query, body = first.platform.prepare(question, timestamp=first.stamp())
        status, reply = await post_raw(first.url, query, body)
        assert status == 200
        answer = first.platform.read_reply(reply)
        assert answer is not None
        assert ANSWER in answer["Content"]
        # WeChat's retry may reach the other process: the same request, the same answer.
        status, reply = await post_raw(second.url, query, body)
        assert status == 200
        again = second.platform.read_reply(reply)
        assert again is not None
        assert again["Content"] == answer["Content"]
        # Another body with that query is refused there too.
        forged = text_xml(ENTREPRENEUR, "服务小组有几个人？", 91).encode()
        assert await post_raw(second.url, query, forged) == (403, "forbidden")
        assert await first.count(InboundKey, InboundKey.key == "wechat:91") == 0

        # A fresh query posted with six bodies at once, to both processes: one is handled.
        query, _ = first.platform.prepare(question, timestamp=first.stamp())
        bodies = [text_xml(ENTREPRENEUR, QUESTION, 100 + n).encode() for n in range(6)]
        results = await asyncio.gather(
            *(post_raw((first, second)[n % 2].url, query, body) for n, body in enumerate(bodies))
        )
        assert sorted(status for status, _ in results) == [200] + [403] * 5
        taken = await first.count(
            InboundKey, InboundKey.key.in_([f"wechat:{100 + n}" for n in range(6)])
        )
        assert taken == 1


# --- safe mode: msg_signature first ------------------------------------------------------------


def _aes_query(stamp: str, nonce: str, signature: str) -> dict[str, Any]:
    return {
        "signature": sign(TOKEN, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
        "openid": ENTREPRENEUR,
        "encrypt_type": "aes",
        "msg_signature": signature,
    }


async def test_a_wrong_msg_signature_is_refused_whatever_the_body(
    tmp_path: Path, faq_dir: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="safe") as site:
        question = text_xml(ENTREPRENEUR, QUESTION, 70)
        real_query, real = site.platform.prepare(question, timestamp=site.stamp())
        bodies = {
            "WeChat's own envelope": real,
            "the audit's 64 KiB of CDATA openings": HOSTILE,
            "garbage": b"\x00\xffnot xml at all",
            "cut short": b"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[",
            "no Encrypt": b"<xml><ToUserName><![CDATA[gh_account]]></ToUserName></xml>",
            "a DTD": b'<!DOCTYPE xml [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>',
            "empty": b"",
        }
        for n, (what, body) in enumerate(bodies.items()):
            stamp, nonce = site.stamp(), str(4_000_000_000 + n)
            for signature in ("0" * 40, msg_signature(TOKEN, stamp, nonce, "QUJD"), "é" * 40):
                query = _aes_query(stamp, nonce, signature)
                assert await post_raw(site.url, query, body) == (403, "forbidden"), what
        # Refused before the nonce was even noted, let alone the body parsed.
        assert await site.count(WeChatNonce) == 0
        assert await site.count(InboundKey) == 0
        # The real thing goes through.
        status, reply = await post_raw(site.url, real_query, real)
        assert status == 200
        answer = site.platform.read_reply(reply)
        assert answer is not None
        assert ANSWER in answer["Content"]


async def test_compatible_mode_finds_the_envelopes_encrypt_past_a_users_own_tags(
    tmp_path: Path, faq_dir: Path
) -> None:
    # In compatible mode the plaintext fields travel beside the ciphertext: a user's words
    # holding "<Encrypt>" must not be taken for the element msg_signature covers.
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode="compatible") as site:
        said = f"{QUESTION} <Encrypt>QUJD</Encrypt>"
        posted = await site.say(ENTREPRENEUR, said, 71)
        assert posted.status == 200, posted.body_text
        assert await site.count(InboundKey, InboundKey.key == "wechat:71") == 1


# --- plain mode's senders ----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "verified"), [("plain", False), ("safe", True)])
async def test_only_a_signed_body_vouches_for_its_sender(
    tmp_path: Path, faq_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str, verified: bool
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with serve(database, faq_dir, mode=mode) as site:
        senders: list[Sender] = []
        handle = site.bot.dispatcher.handle

        async def watched(message: Any, **options: Any) -> Any:
            senders.append(message.sender)
            return await handle(message, **options)

        monkeypatch.setattr(site.bot.dispatcher, "handle", watched)
        assert ANSWER in content(await site.say(ENTREPRENEUR, QUESTION, 72))
        await site.post(event_xml(ENTREPRENEUR, "subscribe"))
        assert [sender.verified for sender in senders] == [verified, verified]


# --- the memory itself -------------------------------------------------------------------------


async def test_a_nonce_serves_one_body_until_it_is_forgotten(database: Database) -> None:
    signed = int(datetime(2026, 12, 7, 1, 0, tzinfo=UTC).timestamp())
    async with database.transaction() as session:
        assert await nonces.remember(session, signed, "1320562132", "a" * 64)
    async with database.transaction() as session:
        assert await nonces.remember(session, signed, "1320562132", "a" * 64)  # a retry
        assert not await nonces.remember(session, signed, "1320562132", "b" * 64)  # a replay
        assert await nonces.remember(session, signed, "1320562133", "b" * 64)
        assert await nonces.remember(session, signed + 1, "1320562132", "b" * 64)
    async with database.transaction() as session:
        cutoff = datetime(2026, 12, 7, 1, 0, 1, tzinfo=UTC)  # keeps what was signed from then
        assert await nonces.forget_before(session, cutoff) == 2
        assert await nonces.forget_before(session, cutoff) == 0
        with pytest.raises(ValueError, match="naive"):
            await nonces.forget_before(session, datetime(2026, 12, 7))  # noqa: DTZ001
    async with database.sessions() as session:
        left = (await session.scalars(select(WeChatNonce))).all()
        assert [(row.timestamp, row.nonce) for row in left] == [(signed + 1, "1320562132")]


async def test_requests_noted_at_once_are_answered_each_as_if_alone(database: Database) -> None:
    memory = nonces.NonceMemory(database)
    signed = int(datetime(2026, 12, 7, 1, 0, tzinfo=UTC).timestamp())
    retries = [memory.first_use(signed, "1", "a" * 64) for _ in range(3)]  # WeChat's, together
    replay = memory.first_use(signed, "1", "b" * 64)  # the pair with another body, meanwhile
    fresh = [memory.first_use(signed, str(n), "c" * 64) for n in range(2, 40)]
    answers = await asyncio.gather(*retries, replay, *fresh)
    assert answers == [True] * 3 + [False] + [True] * 38
    assert await memory.first_use(signed, "1", "a" * 64)  # and a retry later still passes

    # The database fails: every request waiting is told so (nothing was noted, WeChat will
    # post again), and the memory works again once the database does.
    async with database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE wechat_nonces RENAME TO wechat_nonces_away"))
    failed = await asyncio.gather(
        *(memory.first_use(signed, str(n), "d" * 64) for n in range(50, 53)),
        return_exceptions=True,
    )
    assert all(isinstance(answer, Exception) for answer in failed)
    async with database.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE wechat_nonces_away RENAME TO wechat_nonces"))
    assert await memory.first_use(signed, "50", "d" * 64)


async def test_a_database_out_of_reach_fails_every_request_waiting() -> None:
    # Nothing listens there (asyncpg: no driver thread left behind, unlike a failed aiosqlite).
    unreachable = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    memory = nonces.NonceMemory(unreachable)
    try:
        async with asyncio.timeout(10):  # none may wait for ever
            failed = await asyncio.gather(
                *(memory.first_use(1796605200, str(n), "a" * 64) for n in range(3)),
                return_exceptions=True,
            )
        assert all(isinstance(answer, Exception) for answer in failed)
    finally:
        await unreachable.close()
