"""Malformed input gets a 4xx or a polite answer, never a 500 (audit finding 12).

Each case is sent over real HTTP to the bot's own server, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import Bot
from bot.clock import ManualClock
from bot.server import build_application
from storage.models import Request


@pytest.fixture
async def chat(bot: tuple[Bot, ManualClock]) -> AsyncIterator[tuple[Bot, aiohttp.ClientSession]]:
    """A web chat visitor of the bot, on both databases."""
    running, _ = bot
    server = TestServer(build_application(running), host="127.0.0.1")
    await server.start_server()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(str(server.make_url("")), cookie_jar=jar) as client:
        yield running, client
    await server.close()


async def post_raw(client: aiohttp.ClientSession, body: str) -> tuple[int, dict[str, object]]:
    """Post ``body`` as it is: JSON escapes such as ``\\u0000`` reach the server's parser."""
    headers = {"Content-Type": "application/json"}
    async with client.post("/api/messages", data=body.encode(), headers=headers) as response:
        return response.status, await response.json()


async def test_nul_and_lone_surrogates_in_a_request_are_stored_cleanly(
    chat: tuple[Bot, aiohttp.ClientSession],
) -> None:
    running, client = chat
    body = r'{"text": "/new 想咨询\u0000公司注册\ud800材料", "id": "a1"}'
    status, _ = await post_raw(client, body)
    assert status == 200
    # The intake waits for the maker space; with NUL in its saved state, PostgreSQL used to
    # refuse every later step until /cancel.
    status, answer = await post_raw(client, '{"choice": "space:baodi-eco", "id": "a2"}')
    assert status == 200, answer
    async with running.database.sessions() as session:
        (request,) = (await session.scalars(select(Request))).all()
    assert request.text == "想咨询公司注册\ufffd材料"


async def test_a_lone_surrogate_in_a_question_is_answered(
    chat: tuple[Bot, aiohttp.ClientSession],
) -> None:
    _, client = chat
    status, answer = await post_raw(client, r'{"text": "服务小组有几个人\udfff", "id": "q1"}')
    assert status == 200, answer
