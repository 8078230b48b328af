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

from storage import Database
from storage.models import AnsweredQuestion
from tests.support import ROOT
from tests.support.processes import BotProcess

pytestmark = pytest.mark.slow  # every test here starts a process


@pytest.fixture
async def client(shipped_bot: BotProcess) -> AsyncIterator[aiohttp.ClientSession]:
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
    # Each question is offered once, as a button, not also listed in the text.
    offered = [b["label"] for b in message["buttons"] if b["payload"].startswith("faq:")]
    assert offered
    assert all(label not in message["text"] for label in offered)
    payloads = [b["payload"] for b in message["buttons"]]
    assert re.fullmatch(r"request:new:[0-9]+", payloads[-1])  # carries the question too
    assert 1 <= len(payloads) - 1 <= 3
    # Each suggestion carries the question it was suggested for, so its answer is kept with it.
    picked = re.fullmatch(r"faq:([a-z0-9-]+):[0-9]+", payloads[0])
    assert picked, payloads[0]
    _, chosen = await say(client, choice=payloads[0])
    assert chosen["messages"][0]["source"]
    assert chosen["messages"][0]["faq_id"] == picked.group(1)
    assert [b["label"] for b in chosen["messages"][0]["buttons"]] == ["👍有帮助", "👎没帮助"]


async def rating_of(shipped_bot: BotProcess, answer_id: int) -> str | None:
    """The rating the bot process stored for ``answer_id``, read from its database."""
    database = Database(shipped_bot.env["BOT_DATABASE_URL"])
    try:
        async with database.sessions() as session:
            answer = await session.get(AnsweredQuestion, answer_id)
            assert answer is not None
            return answer.rating
    finally:
        await database.close()


async def kb_gaps(shipped_bot: BotProcess) -> str:
    return await kb(shipped_bot, "gaps")


async def kb(shipped_bot: BotProcess, command: str) -> str:
    """``python -m bot kb COMMAND`` against the running bot's database; its output."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "kb", command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=shipped_bot.env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
async def visitor(shipped_bot: BotProcess) -> AsyncIterator[aiohttp.ClientSession]:
    """One visitor who keeps the session cookie, as a browser does (aiohttp's default jar
    drops cookies from an IP address, which makes every message a new visitor's)."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(shipped_bot.url, cookie_jar=jar) as session:
        async with session.get("/") as page:
            assert page.status == 200
        assert len(jar) == 1
        yield session


async def test_an_answer_is_rated_and_rated_again_and_shows_in_kb_gaps(
    visitor: aiohttp.ClientSession, shipped_bot: BotProcess
) -> None:
    client = visitor
    _, body = await say(client, text="服务专员多长时间答复")
    (answer,) = body["messages"]
    up, down = (b["payload"] for b in answer["buttons"])
    answer_id = int(up.split(":")[1])
    assert await rating_of(shipped_bot, answer_id) is None

    _, body = await say(client, choice=down)
    (thanks,) = body["messages"]
    assert thanks["text"].startswith("谢谢您的反馈，我们会改进这条回答。")
    assert thanks["buttons"] == [{"label": "提交给服务专员", "payload": "request:new"}]
    assert await rating_of(shipped_bot, answer_id) == "down"

    async with aiohttp.ClientSession(shipped_bot.url) as someone_else:
        _, body = await say(someone_else, choice=up)
        assert body["messages"][0]["text"] == "这条回答不是发给您的，不能由您评价。"
    _, body = await say(client, choice="rate:2147483647:up")
    assert body["messages"][0]["text"].startswith("抱歉，没有找到这条回答，评价没能记下。")
    assert await rating_of(shipped_bot, answer_id) == "down"

    _, body = await say(client, choice=up)
    assert body["messages"][0]["text"] == "谢谢您的反馈，很高兴能帮上忙！"
    assert await rating_of(shipped_bot, answer_id) == "up"
    await say(client, choice=down)
    assert await rating_of(shipped_bot, answer_id) == "down"

    rated = (await kb_gaps(shipped_bot)).partition("评为“没帮助”的回答")[2]
    assert "服务专员多长时间答复  （👎 1 次，👍 0 次" in rated
    assert "给出的条目：reply-deadline" in rated


async def test_no_match_offers_a_service_request(client: aiohttp.ClientSession) -> None:
    _, body = await say(client, text="高新技术企业认定要什么条件")
    (message,) = body["messages"]
    assert "服务专员" in message["text"]
    (ask,) = [b["payload"] for b in message["buttons"]]
    assert re.fullmatch(r"request:new:[0-9]+", ask)
    _, offer = await say(client, choice=ask)
    assert offer["messages"][0]["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "您好像还没有输入内容"),
        ("   ", "您好像还没有输入内容"),
        ("问" * 5000, "您的消息有 5000 字，超过了 2000 字的上限"),
        ("🙂🙂🙂", "这个我帮不上忙"),
        ("<script>alert(1)</script>", "I can't help with that"),
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


async def test_english_speakers_get_english(shipped_bot: BotProcess) -> None:
    headers = {"Accept-Language": "en-GB,en;q=0.9"}
    async with aiohttp.ClientSession(shipped_bot.url, headers=headers) as session:
        _, body = await say(session, text="what's the weather like")
        assert body["messages"][0]["text"].startswith("I can't help with that")
        _, body = await say(session, text="How long do commissioners take to reply?")
        assert "10 working days" in body["messages"][0]["text"]
        assert body["messages"][0]["source"] == "津科创〔2015〕51号 第七条"


async def test_a_chinese_browser_gets_english_to_an_english_question(
    client: aiohttp.ClientSession,
) -> None:
    _, body = await say(client, text="How long do commissioners take to reply?")
    assert "10 working days" in body["messages"][0]["text"]
    _, body = await say(client, text="服务专员多久给我回复？")
    assert "10个工作日" in body["messages"][0]["text"]


async def test_unanswered_questions_reach_the_admins(
    client: aiohttp.ClientSession, shipped_bot: BotProcess
) -> None:
    await say(client, text="孵化器的食堂几点开饭")
    for chatter in ("你好", "谢谢！", "今天天气怎么样", "How do I register a company in Shanghai?"):
        _, body = await say(client, text=chatter)
        assert [b["payload"] for b in body["messages"][0]["buttons"]] == []
    unanswered = await kb(shipped_bot, "unanswered")
    assert "孵化器的食堂几点开饭" in unanswered
    # Chatter and what the policies do not cover are not gaps in the knowledge base.
    assert not any(word in unanswered for word in ("你好", "谢谢", "天气", "Shanghai"))


async def test_health(client: aiohttp.ClientSession) -> None:
    async with client.get("/healthz") as response:
        body = await response.json()
    assert response.status == 200
    assert body["database"] is True
    assert body["knowledge"]["entries"] >= 60
