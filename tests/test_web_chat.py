"""The web chat end to end: the real bot process, real HTTP."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import ROOT, RunningBot


@pytest.fixture
async def client(shipped_bot: RunningBot) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(shipped_bot.url) as session:
        async with session.get("/") as page:
            assert page.status == 200
        yield session


async def say(client: aiohttp.ClientSession, **body: Any) -> tuple[int, dict[str, Any]]:
    async with client.post("/api/messages", json=body) as response:
        return response.status, await response.json()


async def test_page_is_served_with_a_strict_policy(client: aiohttp.ClientSession) -> None:
    async with client.get("/") as page:
        html = await page.text()
        assert "众创助手" in html
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    async with client.get("/static/chat.js") as script:
        assert script.status == 200
    async with client.get("/static/..%2Fweb.py") as escape:
        assert escape.status == 404


async def test_question_gets_answer_with_source(client: aiohttp.ClientSession) -> None:
    status, body = await say(client, text="服务专员多久给我回复？")
    assert status == 200
    (message,) = body["messages"]
    assert "10个工作日" in message["text"]
    assert message["source"] == "津科创〔2015〕51号 第七条"
    # Nothing but 👍 and 👎, naming the answer as it was kept.
    assert [b["label"] for b in message["buttons"]] == ["👍有帮助", "👎没帮助"]
    up, down = (b["payload"] for b in message["buttons"])
    assert re.fullmatch(r"rate:[0-9]+:up", up)
    assert down == up.removesuffix(":up") + ":down"


async def test_suggestions_are_choices_that_answer(client: aiohttp.ClientSession) -> None:
    _, body = await say(client, text="众创空间面积多大")
    (message,) = body["messages"]
    assert message["text"].startswith("您是不是想问")
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads[-1] == "request:new"
    assert 1 <= len(payloads) - 1 <= 3
    # Each suggestion carries the question it was suggested for, so its answer is kept with it.
    picked = re.fullmatch(r"faq:([a-z0-9-]+):[0-9]+", payloads[0])
    assert picked, payloads[0]
    _, chosen = await say(client, choice=payloads[0])
    assert chosen["messages"][0]["source"]
    assert chosen["messages"][0]["faq_id"] == picked.group(1)
    assert [b["label"] for b in chosen["messages"][0]["buttons"]] == ["👍有帮助", "👎没帮助"]


async def test_no_match_offers_a_service_request(client: aiohttp.ClientSession) -> None:
    _, body = await say(client, text="推荐一家好吃的火锅店")
    (message,) = body["messages"]
    assert "服务专员" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["request:new"]
    _, offer = await say(client, choice="request:new")
    assert offer["messages"][0]["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "您好像还没有输入内容"),
        ("   ", "您好像还没有输入内容"),
        ("问" * 5000, "您的消息有 5000 字，超过了 2000 字的上限"),
        ("🙂🙂🙂", "抱歉，这个问题我暂时答不上来"),
        ("<script>alert(1)</script>", "抱歉，这个问题我暂时答不上来"),
        ("/frobnicate", "我不认识命令 /frobnicate"),
    ],
)
async def test_bad_input_gets_a_polite_answer(
    client: aiohttp.ClientSession, text: str, expected: str
) -> None:
    status, body = await say(client, text=text)
    assert status == 200
    assert body["messages"][0]["text"].startswith(expected)


async def test_binary_upload_is_refused_politely(client: aiohttp.ClientSession) -> None:
    async with client.post(
        "/api/messages",
        data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        headers={"Content-Type": "image/png"},
    ) as response:
        assert response.status == 415
        assert (await response.json())["error"].startswith("我目前只能看懂文字")


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"text": 5}', 400), (b"\xff\xfe", 400)],
)
async def test_malformed_json_is_refused(
    client: aiohttp.ClientSession, body: bytes, status: int
) -> None:
    async with client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == status
        assert "请重新输入" in (await response.json())["error"]


async def test_huge_body_is_refused(client: aiohttp.ClientSession) -> None:
    async with client.post(
        "/api/messages",
        data=io.BytesIO(b'{"text": "' + b"a" * (1024 * 1024) + b'"}'),
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 413


async def test_english_speakers_get_english(shipped_bot: RunningBot) -> None:
    headers = {"Accept-Language": "en-GB,en;q=0.9"}
    async with aiohttp.ClientSession(shipped_bot.url, headers=headers) as session:
        _, body = await say(session, text="what's the weather like")
        assert body["messages"][0]["text"].startswith("Sorry")
        _, body = await say(session, text="How long do commissioners take to reply?")
        assert "10个工作日" in body["messages"][0]["text"]


async def test_unanswered_questions_reach_the_admins(
    client: aiohttp.ClientSession, shipped_bot: RunningBot
) -> None:
    await say(client, text="孵化器的食堂几点开饭")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "kb", "unanswered"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=shipped_bot.env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "孵化器的食堂几点开饭" in result.stdout


async def test_health(client: aiohttp.ClientSession) -> None:
    async with client.get("/healthz") as response:
        body = await response.json()
    assert response.status == 200
    assert body["database"] is True
    assert body["knowledge"]["entries"] >= 60
