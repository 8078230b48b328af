"""Fuzzing the inbound edges: whatever arrives gets a precise refusal, never a crash.

* FAQ files and the roster: any text, and any YAML built from the files' own vocabulary, is
  either accepted or refused with :class:`KnowledgeError` / :class:`RosterError` naming file and
  line; no other exception escapes.
* The web chat's ``POST /api/messages``: any body and content type gets 200 or a 4xx with a
  reason in Chinese, never a 5xx; a refused message leaves nothing behind.
* Telegram's webhook: any update (or anything else) posted with the secret gets 200.
* WeChat's ``POST /wechat``: any signed body, well-formed or not, gets 200 with ``success`` or
  a passive reply WeChat would accept.

``make test`` runs 200 examples an edge; ``HYPOTHESIS_PROFILE=long`` runs 10,000, as
``make bench`` does (``bench/fuzz.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import create_bot
from bot.clock import ManualClock
from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import load_roster
from bot.server import build_application
from bot.settings import load_settings
from knowledge.service import KnowledgeError, build
from storage.models import InboundKey
from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.wechat import serve as serve_wechat

_NOON = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
_visitors = itertools.count(1)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
FAST = os.environ.get("HYPOTHESIS_PROFILE") == "fast"
"""``make test-fast``: a smoke run of each edge; ``make test`` runs 200 examples."""
EXAMPLES = 10_000 if LONG else 20 if FAST else 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- files ---------------------------------------------------------------------------------

_FAQ_KEYS = ("id", "question", "variants", "answer", "source", "category", "keywords", "extra")
_ROSTER_KEYS = (
    "districts", "spaces", "groups", "admins", "id", "name", "district", "chat", "members",
    "onsite", "supervisors", "supervisors_chat", "telegram", "wechat", "web", "rota",
)  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["baodi", "g1", "mon", "2026-10-01", "服务一组", "-1002000000001", ""]),
)


def _documents(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=5),
        ),
        max_leaves=25,
    )


def _file_texts(keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=300),
        _documents(keys).map(lambda doc: yaml.safe_dump(doc, allow_unicode=True)),
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "fuzz"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@FUZZ
@given(text=_file_texts(_FAQ_KEYS))
def test_any_faq_file_is_served_or_refused_with_its_line(scratch: Path, text: str) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    (scratch / "topic.yaml").write_text(text, encoding="utf-8")
    faults = _faults(lambda: build(scratch), KnowledgeError)
    event("refused" if faults else "served")
    assert all("topic.yaml" in fault for fault in faults), faults


@FUZZ
@given(text=_file_texts(_ROSTER_KEYS))
def test_any_roster_is_taken_or_refused_with_its_line(scratch: Path, text: str) -> None:
    scratch.mkdir(exist_ok=True)
    path = scratch / "roster.yaml"
    path.write_text(text, encoding="utf-8")
    faults = _faults(lambda: load_roster(path), RosterError)
    event("refused" if faults else "taken")
    assert all(fault.startswith(str(path)) for fault in faults), faults


def _faults(load: Callable[[], object], refusal: type[KnowledgeError | RosterError]) -> list[str]:
    """The faults ``load`` was refused with (none when it loaded); any other error fails."""
    try:
        load()
    except refusal as error:
        if not error.faults:
            pytest.fail(f"refused without a fault: {error!r}")
        return [str(fault) for fault in error.faults]
    return []


# --- the web chat --------------------------------------------------------------------------

_json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_bodies = st.one_of(
    st.binary(max_size=400),
    _json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "text": _json_values | st.text(max_size=2100),
            "choice": _json_values
            | st.sampled_from(
                ["space:baodi-eco", "request:new", "rate:1:up", "faq:x:1", "req:rate:2026-0001:5"]
            ),
            "id": _json_values,
        },
    ).map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
)
_content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "multipart/form-data"]
)


@pytest.fixture
def web_chat(tmp_path: Path, faq_dir: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, str, Any]]:
    """The bot's HTTP application on 127.0.0.1, in a loop of its own the examples drive."""
    loop = asyncio.new_event_loop()
    settings_ = load_settings(
        knowledge_dir=faq_dir,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        trusted_proxies="127.0.0.1",  # each example names its own visitor's address
    )
    bot = loop.run_until_complete(create_bot(settings_, ManualClock(_NOON)))
    server = TestServer(build_application(bot), host="127.0.0.1")
    loop.run_until_complete(server.start_server())
    try:
        yield loop, str(server.make_url("")), bot
    finally:
        loop.run_until_complete(server.close())
        loop.run_until_complete(bot.close())
        loop.close()


@FUZZ
@given(body=_bodies, content_type=_content_types)
def test_the_web_chat_answers_any_body_without_a_server_error(
    web_chat: tuple[asyncio.AbstractEventLoop, str, Any], body: bytes, content_type: str
) -> None:
    loop, url, bot = web_chat

    async def post() -> tuple[int, Any, int, int]:
        before = await keys(bot)
        # A new visitor each time, at an address of their own: no rate limit.
        headers = {"X-Forwarded-For": str(ip_address("10.0.0.0") + next(_visitors))}
        if content_type:
            headers["Content-Type"] = content_type
        async with (
            aiohttp.ClientSession() as client,
            client.post(f"{url}/api/messages", data=body, headers=headers) as response,
        ):
            answer = await response.json(content_type=None)
        return response.status, answer, before, await keys(bot)

    status, answer, before, after = loop.run_until_complete(post())
    event(f"HTTP {status}")
    assert status < 500, answer
    if status == 200:
        assert isinstance(answer["messages"], list)
        assert after == before + 1  # handled once, remembered once
    else:
        assert isinstance(answer["error"], str)
        assert answer["error"]
        assert after == before  # refused: nothing stored


async def keys(bot: Any) -> int:
    async with bot.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundKey)) or 0)


# --- WeChat ----------------------------------------------------------------------------------

_wechat_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        ["提交工单", "我的工单", "取消", "帮助", "2", "服务专员多久回复", "]]>", "<a>"]
    ),
)
_wechat_fields = st.fixed_dictionaries(
    {
        "MsgType": st.sampled_from(["text", "image", "voice", "event", "location", "link", "x"])
        | st.text(max_size=8),
        "FromUserName": st.sampled_from(["oFUZZ00000000000000000000001", "o-example-zhangwei"])
        | st.text(max_size=30),
    },
    optional={
        "Content": _wechat_text,
        "MsgId": st.integers(-(2**70), 2**70).map(str) | st.text(max_size=12),
        "CreateTime": st.integers(-(2**40), 2**40).map(str) | st.text(max_size=12),
        "Event": st.sampled_from(["subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN"])
        | st.text(max_size=10),
        "EventKey": st.sampled_from(["new", "tickets", "help", "qrscene_baodi-pku"])
        | st.text(max_size=20),
        "bizmsgmenuid": st.sampled_from(["space:baodi-pku", "request:new", "rate:1:down"])
        | st.text(max_size=20),
        "MediaId": st.text(max_size=20),
        "PicUrl": st.text(max_size=40),
    },
)


def _wechat_xml(fields: dict[str, str]) -> str:
    def cdata(value: str) -> str:
        return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    inner = "".join(f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items())
    return f"<xml><ToUserName>{cdata('gh_account')}</ToUserName>{inner}</xml>"


_wechat_bodies = st.one_of(
    _wechat_fields.map(_wechat_xml),
    st.text(max_size=300),
    st.text(max_size=60).map(lambda t: f"<xml><FromUserName>o1</FromUserName>{t}</xml>"),
)


@pytest.fixture
def wechat_site(tmp_path: Path, faq_dir: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, Any]]:
    """The bot serving ``/wechat`` (plain mode) and the fake WeChat, in a loop of their own."""
    loop = asyncio.new_event_loop()
    served = serve_wechat(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir)
    site = loop.run_until_complete(served.__aenter__())
    try:
        yield loop, site
    finally:
        loop.run_until_complete(served.__aexit__(None, None, None))
        loop.close()


@FUZZ
@given(xml=_wechat_bodies)
def test_wechat_answers_any_signed_body_as_wechat_accepts(
    wechat_site: tuple[asyncio.AbstractEventLoop, Any], xml: str
) -> None:
    loop, site = wechat_site
    # The fake refuses to read back a reply WeChat would refuse (RejectedReply fails the test).
    posted = loop.run_until_complete(site.post(xml))
    event(f"HTTP {posted.status}, {'reply' if posted.reply else posted.body_text[:7] or 'empty'}")
    assert posted.status == 200, posted.body_text


# --- Telegram ----------------------------------------------------------------------------------

TELEGRAM_TOKEN = "123456:FUZZ-token"
TELEGRAM_SECRET = "fuzz-webhook-secret"
_ids = st.integers(-(2**63), 2**63) | st.sampled_from([5001, 2001, -1002000000001, 0])
_user = st.fixed_dictionaries(
    {"id": _ids, "is_bot": st.booleans(), "first_name": st.text(max_size=10)},
    optional={"language_code": st.sampled_from(["zh-hans", "en", ""]) | st.text(max_size=5)},
)
_chat = st.fixed_dictionaries(
    {"id": _ids, "type": st.sampled_from(["private", "group", "supergroup", "channel", "x"])}
)
_message = st.fixed_dictionaries(
    {"message_id": _ids, "date": st.integers(0, 2**33), "chat": _chat},
    optional={
        "from": _user,
        "text": st.text(max_size=80)
        | st.sampled_from(["/start", "/new 想咨询", "/claim 2026-0001", "/report", "/help"]),
        "caption": st.text(max_size=20),
        "photo": st.lists(
            st.fixed_dictionaries(
                {
                    "file_id": st.text(max_size=8),
                    "file_unique_id": st.text(max_size=8),
                    "width": st.integers(0, 5000),
                    "height": st.integers(0, 5000),
                }
            ),
            max_size=2,
        ),
        "reply_to_message": st.fixed_dictionaries(
            {"message_id": _ids, "date": st.integers(0, 2**33), "chat": _chat}
        ),
    },
)
_callback = st.fixed_dictionaries(
    {"id": st.text(max_size=10), "from": _user, "chat_instance": st.text(max_size=5)},
    optional={
        "data": st.text(max_size=70)
        | st.sampled_from(["space:baodi-eco", "request:new", "rate:1:up", "act:claim:1"]),
        "message": _message,
    },
)
_updates = st.one_of(
    st.fixed_dictionaries(
        {"update_id": _ids},
        optional={"message": _message, "callback_query": _callback, "edited_message": _message},
    ).map(lambda update: json.dumps(update, ensure_ascii=False).encode()),
    _json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
)


@pytest.fixture
def telegram_site(tmp_path: Path, faq_dir: Path) -> Iterator[tuple[asyncio.AbstractEventLoop, str]]:
    """The bot taking Telegram's webhook, with a fake Bot API, in a loop of their own."""
    loop = asyncio.new_event_loop()
    fake = FakeTelegram(token=TELEGRAM_TOKEN)
    loop.run_until_complete(fake.start())
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    settings_ = load_settings(
        knowledge_dir=faq_dir,
        roster=roster,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_url=fake.root,
        telegram_webhook_url="https://bot.example.cn",
        telegram_webhook_secret=TELEGRAM_SECRET,
        web_chat=False,
    )
    bot = loop.run_until_complete(create_bot(settings_, ManualClock(_NOON)))
    assert bot.telegram is not None
    loop.run_until_complete(bot.telegram.start())
    server = TestServer(build_application(bot), host="127.0.0.1")
    loop.run_until_complete(server.start_server())
    try:
        yield loop, str(server.make_url("/telegram"))
    finally:
        loop.run_until_complete(server.close())
        loop.run_until_complete(bot.telegram.stop())
        loop.run_until_complete(bot.close())
        loop.run_until_complete(fake.stop())
        loop.close()


@FUZZ
@given(update=_updates)
def test_telegram_takes_any_webhook_update_without_a_server_error(
    telegram_site: tuple[asyncio.AbstractEventLoop, str], update: bytes
) -> None:
    loop, url = telegram_site

    async def post() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                url,
                data=update,
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
                },
            ) as response,
        ):
            return response.status, await response.text()

    status, body = loop.run_until_complete(post())
    event(f"HTTP {status}, {'a method' if 'method' in body else body[:12]}")
    assert status == 200, body
