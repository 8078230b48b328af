"""Fuzzing the inbound edges: whatever arrives gets a precise refusal, never a crash.

* FAQ files and the roster: any text, and any YAML built from the files' own vocabulary, is
  either accepted or refused with :class:`KnowledgeError` / :class:`RosterError` naming file and
  line; no other exception escapes.
* The web chat's ``POST /api/messages``: any body and content type gets 200 or a 4xx with a
  reason in Chinese, never a 5xx; a refused message leaves nothing behind.

``make test`` runs 200 examples an edge; ``HYPOTHESIS_PROFILE=long`` runs 10,000, as
``make bench`` does (``bench/fuzz.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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
from bot.roster import Roster, RosterError
from bot.server import build_application
from bot.settings import load_settings
from knowledge.service import KnowledgeError, build
from storage.models import InboundKey

_NOON = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 10_000 if LONG else 200
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
    faults = _faults(lambda: Roster.load(path), RosterError)
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
        knowledge_dir=faq_dir, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
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
        async with (
            aiohttp.ClientSession() as client,  # a new visitor each time: no rate limit
            client.post(
                f"{url}/api/messages",
                data=body,
                headers={"Content-Type": content_type} if content_type else {},
            ) as response,
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
