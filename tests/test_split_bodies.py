"""Bodies that arrive in pieces are read whole, or not acknowledged at all (audit finding 1).

On the open Internet a body of more than one TCP segment reaches the server in several reads,
and proxies that stream request bodies do the same. Each test here writes a request to the
real server through a raw socket: the headers, then the body in pieces with pauses between
them, so that the handler runs before the body is all there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import Bot, create_bot
from bot.channels import bodies
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import load_settings
from storage import console
from storage.models import InboundKey
from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import WeChatPlatform, new_aes_key, text_xml

TELEGRAM_TOKEN = "123456:TEST-token"
SECRET = "webhook-secret-for-tests"
WECHAT_TOKEN = "wechat-token-for-tests"
APP_ID = "wx1234567890abcdef"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
QUESTION = "服务专员多久给我反馈结果？"
ANSWER = "10个工作日"
PAUSE = 0.3
"""Long enough for the server to run the handler on what it has so far."""


@dataclass
class Edges:
    bot: Bot
    url: str
    wechat: WeChatPlatform

    async def inbound_keys(self) -> int:
        async with self.bot.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundKey)) or 0)


@pytest.fixture
async def edges(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Edges]:
    """The bot with every endpoint that reads a body: Telegram, WeChat, web chat, console."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    aes_key = new_aes_key()
    clock = ManualClock(NOW)
    async with FakeTelegram(TELEGRAM_TOKEN) as telegram:
        bot = await create_bot(
            load_settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                knowledge_dir=faq_dir,
                roster=roster,
                telegram_token=TELEGRAM_TOKEN,
                telegram_api_url=telegram.root,
                telegram_webhook_url="https://bot.example.com",
                telegram_webhook_secret=SECRET,
                wechat_token=WECHAT_TOKEN,
                wechat_app_id=APP_ID,
                wechat_app_secret="app-secret-for-tests",
                wechat_aes_key=aes_key,
            ),
            clock,
        )
        assert bot.telegram is not None
        await bot.telegram.start()
        server = TestServer(build_application(bot), host="127.0.0.1")
        await server.start_server()
        url = str(server.make_url("")).rstrip("/")
        platform = WeChatPlatform(f"{url}/wechat", WECHAT_TOKEN, APP_ID, aes_key, "safe")
        try:
            yield Edges(bot, url, platform)
        finally:
            await server.close()
            await bot.telegram.stop()
            await bot.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def post_in_pieces(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    pieces: int = 3,
    chunked: bool = False,
    cut_short: bool = False,
) -> Answer:
    """POST ``body`` to ``url`` over a raw socket: the headers, then the body in ``pieces``.

    With ``cut_short`` the client ends its side of the connection after the first piece and
    reads what the server answers (status 0 if the server hung up without a word).
    """
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = [f"POST {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.netloc}", "Connection: close"]  # fmt: skip
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    size = -(-len(body) // pieces)
    for n, start in enumerate(range(0, len(body), size)):
        await writer.drain()
        await asyncio.sleep(PAUSE)  # the segment boundary the audit found bodies cut at
        piece = body[start : start + size]
        writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
        if cut_short and n == 0:
            writer.write_eof()  # the client's side ends here; it still reads the answer
            break
    if chunked and not cut_short:
        writer.write(b"0\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    if not raw:
        return Answer(0, {}, b"")
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    if fields.get("Transfer-Encoding") == "chunked":
        payload = _unchunk(payload)
    return Answer(status, fields, payload)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def telegram_update(update_id: int, text: str = QUESTION) -> bytes:
    user = {"id": 5001, "is_bot": False, "first_name": "小明", "language_code": "zh-hans"}
    message = {"message_id": update_id, "date": int(NOW.timestamp()), "text": text,
               "chat": {"id": 5001, "type": "private"}, "from": user}  # fmt: skip
    # Padding in a field the bot never reads makes the update span several segments.
    return json.dumps({"update_id": update_id, "message": message,
                       "padding": "x" * 3000}).encode()  # fmt: skip


TELEGRAM_HEADERS = {
    "Content-Type": "application/json",
    "X-Telegram-Bot-Api-Secret-Token": SECRET,
}


async def test_a_telegram_update_in_pieces_is_answered(edges: Edges) -> None:
    answer = await post_in_pieces(
        f"{edges.url}/telegram", telegram_update(1), headers=TELEGRAM_HEADERS
    )
    assert answer.status == 200, answer
    call = answer.json()
    assert call["method"] == "sendMessage"
    assert ANSWER in call["text"]


async def test_a_chunked_telegram_update_in_pieces_is_answered(edges: Edges) -> None:
    answer = await post_in_pieces(
        f"{edges.url}/telegram", telegram_update(2), headers=TELEGRAM_HEADERS, chunked=True
    )
    assert answer.status == 200, answer
    assert ANSWER in answer.json()["text"]


@pytest.mark.slow
async def test_a_chunked_body_over_the_cap_is_refused(edges: Edges) -> None:
    body = b'{"update_id": 3, "padding": "' + b"x" * (320 * 1024) + b'"}'
    answer = await post_in_pieces(
        f"{edges.url}/telegram", body, headers=TELEGRAM_HEADERS, chunked=True, pieces=8
    )
    assert answer.status == 413
    assert await edges.inbound_keys() == 0


async def test_a_wechat_message_in_pieces_is_answered(edges: Edges) -> None:
    xml = text_xml("oENTREPRENEUR0000000000000001", QUESTION, msg_id=7001)
    query, body = edges.wechat.prepare(xml, timestamp=str(int(NOW.timestamp())))
    # Safe mode's body is short; a long message makes it span segments like a real one.
    answer = await post_in_pieces(
        f"{edges.url}/wechat?{urlencode(query)}", body, headers={"Content-Type": "text/xml"}
    )
    assert answer.status == 200, answer
    reply = edges.wechat.read_reply(answer.body.decode())
    assert reply is not None
    assert ANSWER in reply["Content"]


async def test_a_web_chat_message_in_pieces_is_answered(edges: Edges) -> None:
    body = json.dumps({"text": QUESTION, "id": "m1", "padding": "x" * 3000}).encode()
    answer = await post_in_pieces(
        f"{edges.url}/api/messages", body, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 200, answer
    assert ANSWER in answer.json()["messages"][0]["text"]


async def test_a_console_sign_in_in_pieces_signs_in(edges: Edges) -> None:
    async with edges.bot.database.transaction() as session:
        token = await console.issue_token(session, "web:zhangwei", NOW, timedelta(hours=1))
    body = json.dumps({"token": token}).encode()
    answer = await post_in_pieces(
        f"{edges.url}/console/api/signin", body, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 200, answer
    assert "md_console" in answer.headers.get("Set-Cookie", "")


async def test_a_telegram_update_cut_short_is_not_acknowledged(edges: Edges) -> None:
    answer = await post_in_pieces(
        f"{edges.url}/telegram", telegram_update(4), headers=TELEGRAM_HEADERS, cut_short=True
    )
    assert answer.status != 200
    assert await edges.inbound_keys() == 0


async def test_a_stalled_body_is_answered_400_not_acknowledged(
    edges: Edges, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "BODY_TIMEOUT", PAUSE / 3)
    answer = await post_in_pieces(
        f"{edges.url}/telegram", telegram_update(5), headers=TELEGRAM_HEADERS
    )
    assert answer.status == 400
    assert await edges.inbound_keys() == 0
