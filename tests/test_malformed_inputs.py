"""Malformed input gets a 4xx or a polite answer, never a 500 (audit finding 12).

Each case is sent over real HTTP to the bot's own server, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import load_settings
from storage.models import InboundKey, Request
from tests.support.desk import MONDAY
from tests.support.fake_telegram import FakeTelegram

TELEGRAM_TOKEN = "123456:TEST-token"
WEBHOOK_HEADERS = {
    "Content-Type": "application/json",
    "X-Telegram-Bot-Api-Secret-Token": "webhook-secret-for-tests",
}


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


@contextlib.asynccontextmanager
async def telegram_webhook(tmp_path: Path, faq_dir: Path) -> AsyncIterator[tuple[Bot, str]]:
    """The bot taking Telegram's updates by webhook; yields it and the webhook's URL."""
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = load_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            knowledge_dir=faq_dir,
            roster=None,
            web_chat=False,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=fake.root,
            telegram_webhook_url="https://bot.example.cn",
            telegram_webhook_secret=WEBHOOK_HEADERS["X-Telegram-Bot-Api-Secret-Token"],
        )
        running = await create_bot(settings, ManualClock(MONDAY))
        assert running.telegram is not None
        await running.telegram.start()
        server = TestServer(build_application(running), host="127.0.0.1")
        await server.start_server()
        try:
            yield running, str(server.make_url("/telegram"))
        finally:
            await server.close()
            await running.telegram.stop()
            await running.close()


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


def _telegram_update(**message: object) -> dict[str, object]:
    base: dict[str, object] = {
        "message_id": 1,
        "date": 1_764_000_000,
        "chat": {"id": 5001, "type": "private"},
        "from": {"id": 5001, "is_bot": False, "first_name": "小明"},
        "text": "服务小组有几个人",
    }
    return {"update_id": 77, "message": base | message}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(_telegram_update(chat={"id": "abc", "type": "private"})),
        json.dumps(_telegram_update(text={})),
        json.dumps(_telegram_update(**{"from": {"id": 5001, "is_bot": False, "first_name": 7}})),
        json.dumps(_telegram_update(photo=[{"file_id": 1, "file_unique_id": "u"}])),
        json.dumps({"update_id": "x"}),
        json.dumps(_telegram_update(chat={"id": True, "type": "private"})),
        json.dumps(_telegram_update(**{"from": {"id": True, "is_bot": False, "first_name": "小"}})),
        json.dumps({"update_id": True, "message": _telegram_update()["message"]}),
        '{"update_id": 1, "message": ' * 5000 + "1" + "}" * 5000,  # nesting past the limit
        '{"update_id": ' + "9" * 5000 + "}",  # more digits than int() takes
    ],
    ids=[
        "chat-id-text",
        "text-object",
        "name-number",
        "file-id-number",
        "update-id-text",
        "chat-id-true",
        "user-id-true",
        "update-id-true",
        "deep",
        "huge-int",
    ],
)
async def test_telegram_ignores_an_update_of_the_wrong_shape(
    tmp_path: Path, faq_dir: Path, body: str
) -> None:
    async with telegram_webhook(tmp_path, faq_dir) as (running, url):
        async with (
            aiohttp.ClientSession() as client,
            client.post(url, data=body.encode(), headers=WEBHOOK_HEADERS) as response,
        ):
            assert response.status == 200
            assert await response.text() == "ok"
        async with running.database.sessions() as session:
            assert (await session.scalars(select(InboundKey))).all() == []


@pytest.mark.parametrize("body", ['{"text": ' + "9" * 5000 + "}", "[" * 50_000])
async def test_the_web_chat_refuses_json_python_cannot_read(
    chat: tuple[Bot, aiohttp.ClientSession], body: str
) -> None:
    _, client = chat
    status, answer = await post_raw(client, body)
    assert status == 400
    assert "error" in answer
