"""The commissioners' web console over real HTTP: sign-in, the listing, and the moves.

The server is the bot's own aiohttp application on 127.0.0.1, on a real SQLite or PostgreSQL
database, with a manual clock so that deadlines pass without waiting. Entrepreneurs open their
requests through the web chat's API, as the page does; commissioners act through the console's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import SHANGHAI, SystemClock
from bot.domain.lifecycle import Status
from bot.domain.roster.load import DEMO_ROSTER
from storage import Database
from storage.models import ConsoleSession, ConsoleToken, Request, RequestEvent
from tests.support.cli import Cli, run_cli
from tests.support.console import Console, demo_signin, open_request, say, serve, sign_in_link
from tests.support.processes import bot_env

G1_SPACE = "baodi-pku"  # on duty: baodi-g1 (张伟 zhangwei, 李娜 lina)
G2_SPACE = "baodi-tsinghua"  # on duty: baodi-g2 (王芳 wangfang, 刘洋 liuyang)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def site(database: Database, faq_dir: Path) -> AsyncIterator[Console]:
    """The console on the demo roster (anyone may sign in by picking a person)."""
    async with serve(database.url, faq_dir) as console:
        yield console


@pytest.fixture
async def real_site(database: Database, faq_dir: Path) -> AsyncIterator[Console]:
    """The console with ``BOT_ROSTER`` set: sign-in by one-time link only."""
    async with serve(database.url, faq_dir, demo=False) as console:
        yield console


# --- helpers: what the pages do --------------------------------------------------------------


async def updates(client: aiohttp.ClientSession) -> list[str]:
    """What the entrepreneur's page fetches later (a commissioner's reply)."""
    async with client.get("/api/updates?after=0") as response:
        return [m["text"] for m in (await response.json())["messages"]]


async def board(client: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    async with client.get("/console/api/requests") as response:
        return response.status, await response.json()


async def act(client: aiohttp.ClientSession, **body: Any) -> tuple[int, dict[str, Any]]:
    body.setdefault("id", uuid.uuid4().hex)  # what the page does: a fresh id per press
    async with client.post("/console/api/act", json=body) as response:
        return response.status, await response.json()


EVERY_MOVE = (
    {"action": "claim"},
    {"action": "reply", "text": "我来回答"},
    {"action": "ask", "text": "请补充材料"},
    {"action": "resolve", "text": "办好了"},
    {"action": "transfer", "group": "baodi-g2", "text": "二组更熟悉"},
)
"""A well-formed request for each move a member can make."""


async def assert_untouched(database: Database, number: str) -> None:
    """Request ``number`` is as it was opened: open, held by nobody, in 宝坻区服务一组."""
    async with database.sessions() as session:
        request = await session.scalar(select(Request).where(Request.number == number))
    assert request is not None
    assert (request.status, request.assignee, request.group_id) == (Status.OPEN, None, "baodi-g1")


def cards(listing: dict[str, Any], section: str) -> list[str]:
    return [card["number"] for card in listing["sections"][section]]


def every_card(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["number"]: c for section in listing["sections"].values() for c in section}


def texts_of(body: dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in body["messages"])


# --- sign-in ---------------------------------------------------------------------------------


async def test_demo_sign_in_lists_the_roster_and_signs_in_with_one_click(site: Console) -> None:
    async with site.client() as visitor:
        async with visitor.get("/console") as page:
            assert page.status == 200
            assert "服务专员控制台" in await page.text()
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        for asset in ("console.js", "console.css", "signin.js"):
            async with visitor.get(f"/console/static/{asset}") as response:
                assert response.status == 200
        async with visitor.get("/console/static/console.py") as response:
            assert response.status == 404

        status, listing = await board(visitor)
        assert status == 401
        assert listing["demo"] is True
        people = {p["web_id"]: p for p in listing["people"]}
        assert people["zhangwei"]["name"] == "张伟"
        assert people["zhangwei"]["roles"] == ["宝坻区服务一组成员"]
        assert people["duty-baodi"]["roles"] == ["宝坻区督导"]
        assert people["admin"]["roles"] == ["管理员"]

        async with visitor.post("/console/api/demo-signin", json={"web_id": "zhangwei"}) as signin:
            assert signin.status == 200
            cookie = signin.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/console" in cookie
        status, listing = await board(visitor)
        assert status == 200
        assert listing["person"]["name"] == "张伟"
        assert listing["groups"] == [{"id": "baodi-g1", "name": "宝坻区服务一组"}]

        async with visitor.post("/console/api/signout", json={}) as signout:
            assert signout.status == 200
        status, _ = await board(visitor)
        assert status == 401

        async with visitor.post("/console/api/demo-signin", json={"web_id": "nobody"}) as refused:
            assert refused.status == 403
            assert "名册" in (await refused.json())["error"]


async def test_only_the_cookies_hash_is_stored(site: Console, database: Database) -> None:
    async with site.client() as visitor:
        async with visitor.post("/console/api/demo-signin", json={"web_id": "lina"}) as signin:
            assert signin.status == 200
        cookie = signin.cookies["md_console"].value
    async with database.sessions() as session:
        (row,) = (await session.scalars(select(ConsoleSession))).all()
    assert row.person == "web:lina"
    assert row.session_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert row.expires_at == site.clock.now() + timedelta(days=7)


async def test_demo_sign_in_is_off_when_a_roster_is_configured(real_site: Console) -> None:
    async with real_site.client() as visitor:
        status, listing = await board(visitor)
        assert status == 401
        assert listing["demo"] is False
        assert "people" not in listing
        assert "登录链接" in listing["error"]
        async with visitor.post("/console/api/demo-signin", json={"web_id": "zhangwei"}) as r:
            assert r.status == 404


async def test_a_sign_in_link_works_once(
    real_site: Console, caplog: pytest.LogCaptureFixture
) -> None:
    person, link = await sign_in_link(real_site, "lina")
    assert person.name == "李娜"
    # In the fragment, which no browser sends: the unspent token stays out of access logs.
    assert link.startswith("/console/signin#token=")
    token = link.split("token=", 1)[1]
    async with real_site.client() as first:
        # Opening the link (as a chat app's preview would) spends nothing.
        for _ in range(2):
            async with first.get(link) as page:
                assert page.status == 200
                assert 'id="redeem"' in await page.text()
                assert "Set-Cookie" not in page.headers
            async with first.post("/console/api/signin-check", json={"token": token}) as check:
                assert check.status == 200
                assert "李娜" in (await check.json())["prompt"]
                assert "Set-Cookie" not in check.headers
        async with first.post("/console/api/signin", json={"token": token}) as signin:
            assert signin.status == 200
        status, listing = await board(first)
        assert status == 200
        assert listing["person"]["name"] == "李娜"

    caplog.set_level(logging.WARNING, logger="bot.channels.console.auth")
    async with real_site.client() as second:
        async with second.post("/console/api/signin-check", json={"token": token}) as check:
            assert check.status == 403
            assert "已经用过了" in (await check.json())["error"]
        async with second.get(f"/console/signin?token={token}") as page:  # an earlier release's
            assert page.status == 403
            assert "已经用过了" in await page.text()
        async with second.post("/console/api/signin", json={"token": token}) as again:
            assert again.status == 403
            assert "已经用过了" in (await again.json())["error"]
        status, _ = await board(second)
        assert status == 401
    assert "refused" in caplog.text
    assert token not in caplog.text


async def test_two_browsers_racing_with_one_link_get_one_session(
    real_site: Console, database: Database
) -> None:
    _, link = await sign_in_link(real_site, "liuyang")
    token = link.split("token=", 1)[1]

    async def redeem() -> int:
        async with (
            real_site.client() as client,
            client.post("/console/api/signin", json={"token": token}) as response,
        ):
            return response.status

    statuses = await asyncio.gather(*(redeem() for _ in range(4)))
    assert sorted(statuses) == [200, 403, 403, 403]
    async with database.sessions() as session:
        assert len((await session.scalars(select(ConsoleSession))).all()) == 1


async def test_an_expired_link_is_refused(real_site: Console, database: Database) -> None:
    _, link = await sign_in_link(real_site, "zhangwei", lifetime=timedelta(hours=1))
    real_site.clock.advance(timedelta(hours=1, minutes=1))
    token = link.split("token=", 1)[1]
    async with real_site.client() as visitor:
        async with visitor.post("/console/api/signin-check", json={"token": token}) as check:
            assert check.status == 403
            assert "已过期" in (await check.json())["error"]
        async with visitor.post("/console/api/signin", json={"token": token}) as signin:
            assert signin.status == 403
            assert "已过期" in (await signin.json())["error"]
    async with database.sessions() as session:
        (row,) = (await session.scalars(select(ConsoleToken))).all()
    assert row.used_at is None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(
    "token", ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "<script>", "", None]
)
async def test_an_unknown_link_is_refused(real_site: Console, token: str | None) -> None:
    async with real_site.client() as visitor:
        if token is not None:  # the form of an earlier release's links, checked by the server
            async with visitor.get("/console/signin", params={"token": token}) as page:
                assert page.status == 403
                html = await page.text()
                assert "这个登录链接无效" in html
                assert "<script>" not in html
        async with visitor.post("/console/api/signin-check", json={"token": token}) as check:
            assert check.status == 403
            assert "这个登录链接无效" in (await check.json())["error"]
        async with visitor.post("/console/api/signin", json={"token": "A" * 43}) as signin:
            assert signin.status == 403
        status, _ = await board(visitor)
        assert status == 401


async def test_a_session_ends_after_seven_days(site: Console) -> None:
    async with await demo_signin(site, "wangfang") as client:
        site.clock.advance(timedelta(days=7) - timedelta(minutes=1))
        assert (await board(client))[0] == 200
        site.clock.advance(timedelta(minutes=2))
        assert (await board(client))[0] == 401


async def test_someone_removed_from_the_roster_loses_access_at_the_reload(
    tmp_path: Path, faq_dir: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(DEMO_ROSTER.read_text(encoding="utf-8"), encoding="utf-8")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    async with serve(database_url, faq_dir, demo=False, roster=roster) as console:
        _, link = await sign_in_link(console, "lina")
        async with console.client() as client:
            async with client.post(
                "/console/api/signin", json={"token": link.split("token=", 1)[1]}
            ) as signin:
                assert signin.status == 200
            assert (await board(client))[0] == 200
            text = roster.read_text(encoding="utf-8")
            roster.write_text(
                text.replace(
                    "{name: 李娜, telegram: 2002, web: lina}", "{name: 赵敏, web: zhaomin}"
                ),
                encoding="utf-8",
            )
            await console.bot.services.roster.reload()
            status, listing = await board(client)
            assert status == 401
            assert "不在服务专员名册" in listing["error"]
            status, _ = await act(client, action="claim", number="2026-0001")
            assert status == 401


# --- the listing -----------------------------------------------------------------------------


async def test_each_commissioner_sees_only_their_groups_requests(site: Console) -> None:
    first, a = await open_request(site, G1_SPACE, "想申请场地补贴，需要哪些材料？")
    second, b = await open_request(site, G2_SPACE, "营业执照怎么办理？")
    async with a, b:
        async with await demo_signin(site, "zhangwei") as zhangwei:
            _, listing = await board(zhangwei)
        assert set(every_card(listing)) == {first}
        card = every_card(listing)[first]
        assert card["space"] == "北大科技园众创空间"
        assert card["group"] == "宝坻区服务一组"
        assert card["category"] == "项目申报、评优奖励、补贴发放"
        assert card["text"] == "想申请场地补贴，需要哪些材料？"
        assert card["entrepreneur"] == "创业者（未留名）"
        assert card["due_date"] == "2026-11-16"
        assert card["provisional"] is False
        assert card["status_label"] == "待认领"
        assert card["assignee"] is None
        assert card["actions"] == ["claim", "reply", "ask", "resolve", "transfer"]
        assert [e["what"] for e in card["events"]] == ["提交工单"]

        async with await demo_signin(site, "liuyang") as liuyang:
            _, listing = await board(liuyang)
        assert set(every_card(listing)) == {second}

        async with await demo_signin(site, "admin") as admin:
            _, listing = await board(admin)
        assert every_card(listing) == {}
        assert listing["groups"] == []
        assert "不是任何服务小组的成员" in listing["notice"]


async def test_overdue_due_soon_active_and_resolved_sections(site: Console) -> None:
    clock = site.clock
    early, a = await open_request(site, G1_SPACE, "想了解创业补贴的申报时间")  # due 11-16
    clock.set(datetime(2026, 11, 6, 10, 0, tzinfo=SHANGHAI))
    middle, b = await open_request(site, G1_SPACE, "专利申请有没有资助")  # due 11-20
    clock.set(datetime(2026, 11, 9, 10, 0, tzinfo=SHANGHAI))
    late, c = await open_request(site, G1_SPACE, "想参加路演活动")  # due 11-23
    waiting, d = await open_request(site, G1_SPACE, "融资担保怎么申请")  # due 11-23
    async with a, b, c, d, await demo_signin(site, "zhangwei") as zhangwei:
        assert (await act(zhangwei, action="resolve", number=late, text="已报名，周五见"))[0] == 200
        status, _ = await act(zhangwei, action="ask", number=waiting, text="请问需要多少资金？")
        assert status == 200

        clock.set(datetime(2026, 11, 13, 10, 0, tzinfo=SHANGHAI))  # Friday: soon = to Tue 11-17
        _, listing = await board(zhangwei)
        assert listing["soon_until"] == "2026-11-17"
        assert cards(listing, "overdue") == []
        assert cards(listing, "due_soon") == [early]
        assert cards(listing, "active") == [middle, waiting]
        assert cards(listing, "resolved") == [late]

        clock.set(datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI))  # soon = to Fri 11-20
        assert (await board(zhangwei))[0] == 401  # signed in 9 days ago: the session ended

    async with await demo_signin(site, "zhangwei") as zhangwei:
        _, listing = await board(zhangwei)
        assert cards(listing, "overdue") == [early]
        assert every_card(listing)[early]["overdue"] is True
        assert cards(listing, "due_soon") == [middle]
        # Waiting on the entrepreneur: its clock stands still, so it is never "due soon".
        assert cards(listing, "active") == [waiting]
        assert every_card(listing)[waiting]["status_label"] == "等创业者补充"
        resolved = every_card(listing)[late]
        assert resolved["result"] == "已报名，周五见"
        assert resolved["actions"] == []

        clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))  # two weeks after it
        _, listing = await board(zhangwei)
        assert cards(listing, "resolved") == []


async def test_a_due_date_in_an_unannounced_year_is_marked_provisional(site: Console) -> None:
    site.clock.set(datetime(2026, 12, 24, 10, 0, tzinfo=SHANGHAI))
    number, entrepreneur = await open_request(site, G1_SPACE, "年底想咨询税收优惠")
    async with entrepreneur, await demo_signin(site, "lina") as lina:
        _, listing = await board(lina)
    card = every_card(listing)[number]
    assert card["due_date"].startswith("2027-01")
    assert card["provisional"] is True


# --- actions ---------------------------------------------------------------------------------


async def test_a_non_members_action_is_refused_and_changes_nothing(
    site: Console, database: Database
) -> None:
    number, entrepreneur = await open_request(site, G1_SPACE, "孵化器入驻条件是什么")
    async with entrepreneur:
        # A member of another group, the admin and a supervisor: none holds the request, and
        # none learns which group does.
        refusals = {
            "wangfang": f"您所在的服务小组没有工单 {number}，请检查编号。",
            "admin": "抱歉，只有服务小组的成员可以处理工单。",
            "duty-baodi": "抱歉，只有服务小组的成员可以处理工单。",
        }
        for outsider, refusal in refusals.items():
            async with await demo_signin(site, outsider) as client:
                for body in EVERY_MOVE:
                    status, answer = await act(client, number=number, **body)
                    assert status == 200
                    assert texts_of(answer) == refusal
        assert await updates(entrepreneur) == []
    await assert_untouched(database, number)
    async with database.sessions() as session:
        events = (await session.scalars(select(RequestEvent.kind))).all()
        assert events == ["opened"]


async def test_claim_reply_ask_resolve_and_transfer_go_through_the_chat_commands(
    site: Console,
) -> None:
    number, entrepreneur = await open_request(site, G1_SPACE, "创业导师怎么预约")
    async with entrepreneur:
        async with await demo_signin(site, "zhangwei") as zhangwei:
            status, answer = await act(zhangwei, action="claim", number=number)
            assert (status, texts_of(answer)) == (200, f"已完成：工单 {number} 已认领。")
            status, answer = await act(zhangwei, action="claim", number=number)
            assert texts_of(answer) == f"工单 {number} 当前为“办理中”，不能进行这个操作。"

            question = "您想约哪个方向的导师？"
            _, answer = await act(zhangwei, action="ask", number=number, text=question)
            assert texts_of(answer) == f"已完成：工单 {number} 已请创业者补充，计时暂停。"
            assert "需要您补充" in "\n".join(await updates(entrepreneur))
            await say(entrepreneur, text="市场营销方向")

            reply = "已为您约了王老师\n周三下午"
            _, answer = await act(zhangwei, action="reply", number=number, text=reply)
            assert texts_of(answer) == f"已完成：工单 {number} 已回复创业者。"
            _, answer = await act(
                zhangwei, action="transfer", number=number, group="baodi-g2", text="二组对接导师"
            )
            assert texts_of(answer) == f"已完成：工单 {number} 宝坻区服务二组。"
            _, listing = await board(zhangwei)
            assert number not in every_card(listing)

        async with await demo_signin(site, "wangfang") as wangfang:
            _, answer = await act(wangfang, action="resolve", number=number, text="导师已对接完毕")
            assert texts_of(answer) == f"已完成：工单 {number} 已办结。"
            _, listing = await board(wangfang)
        seen = "\n".join(await updates(entrepreneur))
    assert "服务专员张伟回复：\n已为您约了王老师\n周三下午" in seen
    assert f"工单 {number} 已办结。\n办理结果：导师已对接完毕" in seen
    card = every_card(listing)[number]
    assert cards(listing, "resolved") == [number]
    assert card["assignee"] == "王芳"
    assert [(e["who"], e["what"], e["text"]) for e in card["events"]] == [
        ("创业者", "提交工单", ""),
        ("张伟", "认领", ""),
        ("张伟", "请创业者补充", "您想约哪个方向的导师？"),
        ("创业者", "创业者补充", "市场营销方向"),
        ("张伟", "回复创业者", "已为您约了王老师\n周三下午"),
        ("张伟", "转交", "宝坻区服务一组 → 宝坻区服务二组，原因：二组对接导师"),
        ("王芳", "办结", "导师已对接完毕"),
    ]


async def test_a_repeated_action_is_handled_once(site: Console, database: Database) -> None:
    number, entrepreneur = await open_request(site, G1_SPACE, "场地租金能减免吗")
    async with entrepreneur, await demo_signin(site, "lina") as lina:
        body = {"action": "reply", "number": number, "text": "可以，详见通知", "id": "retry-0001"}
        first = await act(lina, **body)
        again = await act(lina, **body)
        assert first == again
        assert texts_of(first[1]) == f"已完成：工单 {number} 已回复创业者。"
        assert len(await updates(entrepreneur)) == 1
    async with database.sessions() as session:
        kinds = (await session.scalars(select(RequestEvent.kind))).all()
    assert kinds == ["opened", "reply"]


async def test_actions_need_a_session(site: Console) -> None:
    async with site.client() as stranger:
        status, body = await act(stranger, action="claim", number="2026-0001")
        assert status == 401
        assert "登录" in body["error"]


ACT = {"action": "claim", "number": "2026-0001", "id": "abcdefgh"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"{not json", "application/json", 400, "没能读懂"),
        (b"[1, 2]", "application/json", 400, "没能读懂"),
        (b"\xff\xfe", "application/json", 400, "没能读懂"),
        ({**ACT, "id": None}, "application/json", 400, "没能读懂"),
        ({**ACT, "id": "short"}, "application/json", 400, "没能读懂"),
        ({**ACT, "action": "fly"}, "application/json", 400, "没能读懂"),
        ({**ACT, "number": "1; drop table"}, "application/json", 400, "没能读懂"),
        ({**ACT, "action": "reply"}, "application/json", 400, "没能读懂"),
        ({**ACT, "action": "reply", "text": "  "}, "application/json", 400, "请先填写"),
        ({**ACT, "action": "transfer"}, "application/json", 400, "请选择"),
        ({**ACT, "action": "transfer", "group": "Baodi G2"}, "application/json", 400, "请选择"),
        (ACT, "text/plain", 415, "JSON"),
        (b"action=claim&number=2026-0001", "application/x-www-form-urlencoded", 415, "JSON"),
        (b'{"text": "' + b"a" * 20_000 + b'"}', "application/json", 413, "太长"),
    ],
)
async def test_malformed_actions_get_a_400_with_a_reason(
    site: Console, body: bytes | dict[str, Any], content_type: str, status: int, error: str
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    async with (
        await demo_signin(site, "zhangwei") as client,
        client.post("/console/api/act", data=data, headers=headers) as response,
    ):
        assert response.status == status
        assert error in (await response.json())["error"]


async def test_an_over_long_reply_is_refused_before_the_bot_sees_it(site: Console) -> None:
    async with await demo_signin(site, "zhangwei") as client:
        status, body = await act(client, action="reply", number="2026-0001", text="长" * 1950)
    assert status == 400
    assert "超过了 1900 字的上限" in body["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/console/api/signin", b"{not json"),
        ("/console/api/signin", b'{"token": 5}'),
        ("/console/api/demo-signin", b"[]"),
        ("/console/api/demo-signin", b'{"web_id": null}'),
        ("/console/api/signout", b"nope"),
    ],
)
async def test_malformed_sign_in_posts_are_refused(site: Console, path: str, body: bytes) -> None:
    async with site.client() as client, client.post(path, data=body, headers=JSON) as response:
        assert response.status in (400, 403)
        assert (await response.json())["error"]


# --- the command line ------------------------------------------------------------------------


def console_link(cli: Cli, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot console link ARGS`` in process, on the database in ``tmp_path``."""
    return cli("console", "link", *args, BOT_DATABASE_URL=bot_env(tmp_path)["BOT_DATABASE_URL"])


def test_cli_link_for_someone_not_in_the_roster_exits_1(tmp_path: Path, cli: Cli) -> None:
    result = console_link(cli, tmp_path, "nobody")
    assert result.returncode == 1
    assert "没有 web 账号为“nobody”的人员" in result.stderr
    assert "zhangwei" in result.stderr  # the accounts there are, to spot a typo
    assert result.stdout == ""


def test_cli_link_refuses_a_silly_lifetime(tmp_path: Path, cli: Cli) -> None:
    result = console_link(cli, tmp_path, "zhangwei", "--hours", "0")
    assert result.returncode == 2
    assert "--hours" in result.stderr


@pytest.mark.slow
async def test_cli_link_signs_in_on_the_running_bot(tmp_path: Path, faq_dir: Path) -> None:
    result = run_cli(  # the command's smoke test
        "console", "link", "zhangwei", "--base-url", "https://desk.example.cn/", "--hours", "2",
        BOT_DATABASE_URL=bot_env(tmp_path)["BOT_DATABASE_URL"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "张伟的一次性登录链接" in result.stderr
    link = result.stdout.strip()
    assert re.fullmatch(r"https://desk\.example\.cn/console/signin#token=[\w-]{43}", link)
    path = link.removeprefix("https://desk.example.cn")
    database_url = bot_env(tmp_path)["BOT_DATABASE_URL"]
    token = path.split("token=", 1)[1]
    async with (
        serve(database_url, faq_dir, clock=SystemClock()) as console,
        console.client() as client,
    ):
        async with client.post("/console/api/signin", json={"token": token}) as signin:
            assert signin.status == 200
        status, listing = await board(client)
    assert status == 200
    assert listing["person"]["name"] == "张伟"


async def test_supervisors_and_admins_download_the_report_others_are_refused(
    site: Console,
) -> None:
    _, entrepreneur = await open_request(site, G1_SPACE, "想咨询公司注册需要哪些材料")
    await entrepreneur.close()
    site.clock.advance(timedelta(minutes=1))  # the report counts what happened before now
    member = await demo_signin(site, "zhangwei")
    supervisor = await demo_signin(site, "duty-baodi")
    admin = await demo_signin(site, "admin")
    stranger = site.client()
    try:
        _, listing = await board(member)
        assert listing["reports"] is None
        async with member.get("/console/report?quarter=2026Q4") as refused:
            assert (refused.status, await refused.text()) == (403, "季报只有督导和管理员可以下载。")
        async with stranger.get("/console/report") as anonymous:
            assert anonymous.status == 401

        _, listing = await board(supervisor)
        # Any quarter: back to the first request's, and at least a year's worth.
        assert listing["reports"] == {
            "quarters": [
                {"id": "2026Q4", "label": "2026年第四季度"},
                {"id": "2026Q3", "label": "2026年第三季度"},
                {"id": "2026Q2", "label": "2026年第二季度"},
                {"id": "2026Q1", "label": "2026年第一季度"},
            ],
            "formats": [
                {"id": "pdf", "label": "PDF（含图表）"},
                {"id": "html", "label": "网页（HTML）"},
                {"id": "csv", "label": "表格（CSV）"},
            ],
            "districts": [{"id": "baodi", "name": "宝坻区"}],
        }
        async with supervisor.get("/console/report?quarter=2026Q4&format=csv") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            assert response.headers["Content-Disposition"] == (
                "attachment; filename*=UTF-8''" + quote("季报-2026Q4-宝坻区.csv")
            )
            body = (await response.read()).decode("utf-8-sig")
        assert "2026Q4,区,宝坻区,1,0,0," in body
        assert "全市" not in body  # a supervisor's report is their district's
        for query in ("quarter=2026Q9", "format=docx", "district=nowhere"):
            async with supervisor.get(f"/console/report?{query}") as wrong:
                assert wrong.status in (400, 403), query

        _, listing = await board(admin)
        assert listing["reports"]["districts"] == [
            {"id": "", "name": "全市"},
            {"id": "baodi", "name": "宝坻区"},
        ]
        async with admin.get("/console/report?format=html") as page:
            assert page.status == 200
            assert "众创空间服务专员工作季报 · 2026年第四季度 · 全市" in await page.text()
    finally:
        for client in (member, supervisor, admin, stranger):
            await client.close()
