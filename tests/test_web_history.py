"""The web chat's memory over real HTTP: the transcript a reload shows, and request pages.

The bot's own aiohttp application on 127.0.0.1 with a manual clock, on SQLite and PostgreSQL;
entrepreneurs talk through the chat's API as the page does, commissioners act through the
console's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.messages import MAX_TEXT_LENGTH
from storage import Database
from storage.models import Request
from tests.support.console import Console, demo_signin, serve

SPACE = "baodi-pku"  # on duty: baodi-g1 (张伟 zhangwei)
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture
async def site(database: Database, faq_dir: Path) -> AsyncIterator[Console]:
    async with serve(database.url, faq_dir) as console:
        yield console


async def say(client: aiohttp.ClientSession, **body: Any) -> list[dict[str, Any]]:
    async with client.post("/api/messages", json=body) as response:
        assert response.status == 200, await response.text()
        messages: list[dict[str, Any]] = (await response.json())["messages"]
        return messages


async def transcript(client: aiohttp.ClientSession) -> dict[str, Any]:
    async with client.get("/api/transcript") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def act(client: aiohttp.ClientSession, **body: Any) -> None:
    body.setdefault("id", uuid.uuid4().hex)
    async with client.post("/console/api/act", json=body) as response:
        assert response.status == 200, await response.text()


async def open_request(client: aiohttp.ClientSession, text: str) -> str:
    await say(client, text=f"/new {text}")
    replies = await say(client, choice=f"space:{SPACE}", label="北大科技园众创空间")
    found = re.search(r"工单已提交：(\d{4}-\d{4})", "\n".join(m["text"] for m in replies))
    assert found, replies
    return found.group(1)


async def test_a_reload_shows_the_conversation_with_times(site: Console) -> None:
    async with site.client() as visitor, site.client() as stranger:
        await say(visitor, text="/start", quiet=True)
        question = await say(visitor, text="服务专员多久给我回复？", id="q1")
        # The page sends again what it got no answer to, with the same id: one line, not two.
        await say(visitor, text="服务专员多久给我回复？", id="q1")

        kept = await transcript(visitor)
        shown = [(e["mine"], e["text"]) for e in kept["entries"]]
        assert shown[0][0] is False
        assert "我是众创助手" in shown[0][1]
        assert shown[1:] == [(True, "服务专员多久给我回复？"), (False, question[0]["text"])]
        answer = kept["entries"][2]
        assert answer["source"] == question[0]["source"]
        assert [b["label"] for b in answer["buttons"]] == ["👍有帮助", "👎没帮助"]
        assert {e["at"] for e in kept["entries"]} == {site.clock.now().isoformat()}
        assert kept["cursor"] == answer["id"]
        assert kept["step"] is None
        # Another visitor's transcript is their own: empty.
        assert (await transcript(stranger))["entries"] == []


async def test_a_pressed_button_is_kept_with_its_label(site: Console) -> None:
    async with site.client() as visitor:
        await say(visitor, text="/space")
        # A label is text from the page: kept as every database takes it (PostgreSQL: no NUL).
        await say(visitor, choice=f"space:{SPACE}", label="北大科技园\u0000众创空间")
        await say(visitor, text="   ")  # nothing typed: no bubble on the page, no line kept
        await say(visitor, text="长" * 5000)  # refused as too long; kept no longer than a message
        mine = [e for e in (await transcript(visitor))["entries"] if e["mine"]]
        assert [(e["text"], e["choice"]) for e in mine] == [
            ("/space", None),
            ("北大科技园众创空间", f"space:{SPACE}"),
            ("长" * MAX_TEXT_LENGTH, None),
        ]


async def test_a_reload_mid_intake_shows_the_step(site: Console) -> None:
    async with site.client() as visitor:
        await say(visitor, text="/new")
        assert (await transcript(visitor))["step"] == {"kind": "intake", "step": "category"}
        await say(visitor, text="/cancel")
        assert (await transcript(visitor))["step"] is None


async def test_a_request_page_shows_the_whole_thread_to_its_owner_only(site: Console) -> None:
    async with site.client() as owner, site.client() as other:
        number = await open_request(owner, "想咨询公司注册需要哪些材料")
        # Another entrepreneur, with a request of their own.
        theirs = await open_request(other, "想了解种子基金怎么申请")
        zhangwei = await demo_signin(site, "zhangwei")
        async with zhangwei:
            await act(zhangwei, action="reply", number=number, text="请带身份证到现场办公点。")
            await act(zhangwei, action="resolve", number=number, text="已协助完成注册。")

        async with owner.get(f"/chat/requests/{number}") as response:
            assert response.status == 200
            page = await response.text()
        assert "想咨询公司注册需要哪些材料" in page
        assert "服务专员张伟回复" in page
        assert "请带身份证到现场办公点。" in page
        assert "已协助完成注册。" in page
        assert "已办结" in page
        assert "<dt>办理结果</dt><dd>已协助完成注册。</dd>" in page
        assert re.search(r"答复期限</dt><dd>\d{4}-\d{2}-\d{2}", page)

        async with aiohttp.ClientSession(site.url) as anonymous:
            for client in (other, anonymous):
                async with client.get(f"/chat/requests/{number}") as response:
                    assert response.status == 404
                    assert "想咨询公司注册" not in await response.text()
        async with owner.get("/chat/requests/2026-9999") as response:
            assert response.status == 404
        async with owner.get(f"/chat/requests/{theirs}") as response:
            assert response.status == 404


async def test_an_old_row_of_stars_cannot_overwrite_the_rating(
    site: Console, database: Database
) -> None:
    async with site.client() as owner:
        number = await open_request(owner, "想咨询公司注册需要哪些材料")
        zhangwei = await demo_signin(site, "zhangwei")
        async with zhangwei:
            await act(zhangwei, action="resolve", number=number, text="已协助完成注册。")
        await say(owner, choice=f"req:confirm:{number}")
        rated = await say(owner, choice=f"req:rate:{number}:4")
        assert "4 星" in rated[0]["text"]
        # The row of stars under the result, pressed afterwards.
        stale = await say(owner, choice=f"req:rate:{number}:1")
        assert "已经评过分了（4 星）" in stale[0]["text"]
    async with database.sessions() as session:
        request = await session.scalar(select(Request).where(Request.number == number))
    assert request is not None
    assert request.satisfaction == 4


async def test_the_english_page_speaks_english(site: Console) -> None:
    async with site.client() as visitor:
        async with visitor.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}) as response:
            page = await response.text()
        assert '<html lang="en">' in page
        # The link to the Chinese page names it in Chinese, and says so.
        chrome = page.replace('lang="zh-CN" hreflang="zh-CN">中文<', "")
        assert not CJK.search(chrome), CJK.findall(chrome)

        # The switch on the page: Chinese from now on, replies included.
        async with visitor.get("/?lang=zh", headers={"Accept-Language": "en"}) as response:
            assert '<html lang="zh-CN">' in await response.text()
        async with visitor.post(
            "/api/messages", json={"text": "/help"}, headers={"Accept-Language": "en"}
        ) as response:
            assert "提交工单" in (await response.json())["messages"][0]["text"]


async def test_english_visitors_see_the_maker_space_by_its_english_name(site: Console) -> None:
    english = {"Accept-Language": "en-US"}
    async with site.client() as visitor:
        async with visitor.post(
            "/api/messages",
            json={"text": "/new I need help registering a company"},
            headers=english,
        ) as response:
            offered = (await response.json())["messages"][0]["buttons"]
        labels = {b["payload"]: b["label"] for b in offered}
        assert labels[f"space:{SPACE}"] == "PKU Science Park Maker Space"
        async with visitor.post(
            "/api/messages", json={"choice": f"space:{SPACE}"}, headers=english
        ) as response:
            replies = [m["text"] for m in (await response.json())["messages"]]
        assert "PKU Science Park Maker Space" in replies[0], replies  # "Got it: you are at …"
        opened = next(text for text in replies if "Request" in text and "opened" in text)
        assert "PKU Science Park Maker Space" in opened, replies
        number = re.search(r"\d{4}-\d{4}", opened)
        assert number, opened
        async with visitor.get(f"/chat/requests/{number.group()}", headers=english) as response:
            page = await response.text()
        assert '<html lang="en">' in page
        assert "<dt>Maker space</dt><dd>PKU Science Park Maker Space</dd>" in page
        assert "I need help registering a company" in page
