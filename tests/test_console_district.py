"""The console for supervisors, and what every card says, over real HTTP.

A supervisor reads their districts' requests (every group's, read-only) with each group's
figures for the quarter, and can act on none of them; a commissioner who also supervises
another district gets both views. Cards name the entrepreneur's channel and language, a
transfer carries its reason, and a reopened request has no result in force.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.console.auth import issue_link
from bot.channels.console.district import FIGURE_COLUMNS
from bot.clock import SHANGHAI
from bot.desk.commands import MEMBER_MOVES
from storage import Database
from storage.models import OutboxMessage, Request, RequestEvent
from tests.support.console import Console, demo_signin, serve
from tests.test_console import (
    EVERY_MOVE,
    G1_SPACE,
    act,
    assert_untouched,
    board,
    every_card,
    open_request,
    say,
    texts_of,
)

TWO_DISTRICTS = """\
districts:
  - id: baodi
    name: 宝坻区
    supervisors: [{name: 区科委值班, web: duty-baodi}]
  - id: wuqing
    name: 武清区
    supervisors: [{name: 武清督导, web: duty-wuqing}, {name: 张伟, web: zhangwei}]
spaces:
  - {id: baodi-pku, name: 北大科技园众创空间, district: baodi}
  - {id: baodi-tsinghua, name: 清华紫荆创新研究院众创空间, district: baodi}
  - {id: wuqing-hub, name: 武清创业中心, district: wuqing}
groups:
  - id: baodi-g1
    name: 宝坻区服务一组
    district: baodi
    chat: {telegram: -1002000000001}
    members: [{name: 张伟, web: zhangwei}, {name: 李娜, web: lina}]
    onsite: {baodi-pku: thu}
  - id: baodi-g2
    name: 宝坻区服务二组
    district: baodi
    chat: {telegram: -1002000000002}
    members: [{name: 王芳, web: wangfang}, {name: 刘洋, web: liuyang}]
    onsite: {baodi-tsinghua: wed}
  - id: wuqing-g1
    name: 武清区服务一组
    district: wuqing
    chat: {telegram: -1002000000003}
    members: [{name: 赵敏, web: zhaomin}, {name: 孙立, web: sunli}]
    onsite: {wuqing-hub: tue}
admins:
  - {name: 管理员, web: admin}
"""
"""Two districts; 张伟 is a member in 宝坻 and a supervisor of 武清."""

OVERDUE_DAY = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)
"""Requests opened on MONDAY (2026-11-02) were due by 11-16."""


@pytest.fixture
async def site(database: Database, faq_dir: Path, tmp_path: Path) -> AsyncIterator[Console]:
    roster = tmp_path / "roster.yaml"
    roster.write_text(TWO_DISTRICTS, encoding="utf-8")
    async with serve(database.url, faq_dir, demo=False, roster=roster) as console:
        yield console


async def signin(console: Console, web_id: str) -> aiohttp.ClientSession:
    """A browser signed in as ``web_id`` with a one-time link."""
    bot = console.bot
    _, link = await issue_link(
        bot.database,
        bot.services.roster.current,
        web_id,
        now=console.clock.now(),
        lifetime=timedelta(hours=1),
    )
    client = console.client()
    async with client.post("/console/api/signin", json={"token": link.split("=", 1)[1]}) as r:
        assert r.status == 200, await r.text()
    return client


async def district(client: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    async with client.get("/console/api/district") as response:
        return response.status, await response.json()


def numbers(view: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Group → section → the numbers shown there."""
    return {
        group["id"]: {
            section: [card["number"] for card in cards]
            for section, cards in group["sections"].items()
            if cards
        }
        for place in view["districts"]
        for group in place["groups"]
    }


async def open_three(site: Console) -> tuple[str, str, str]:
    """A request in each group, opened on MONDAY; the clock then at :data:`OVERDUE_DAY`."""
    opened = []
    for space in ("baodi-pku", "baodi-tsinghua", "wuqing-hub"):
        number, entrepreneur = await open_request(site, space, f"{space} 的场地怎么申请")
        await entrepreneur.close()
        opened.append(number)
    site.clock.set(OVERDUE_DAY)
    g1, g2, wuqing = opened
    return g1, g2, wuqing


async def test_a_supervisor_sees_every_group_of_their_district_and_no_other(
    site: Console,
) -> None:
    g1, g2, wuqing = await open_three(site)
    async with await signin(site, "duty-baodi") as supervisor:
        status, listing = await board(supervisor)
        assert status == 200
        assert (listing["groups"], listing["notice"], listing["district_view"]) == ([], "", True)
        status, view = await district(supervisor)
    assert status == 200
    assert [d["name"] for d in view["districts"]] == ["宝坻区"]
    assert numbers(view) == {"baodi-g1": {"overdue": [g1]}, "baodi-g2": {"overdue": [g2]}}
    assert wuqing not in str(view)
    card = view["districts"][0]["groups"][0]["sections"]["overdue"][0]
    assert (card["group"], card["due_date"], card["overdue"], card["actions"]) == (
        "宝坻区服务一组",
        "2026-11-16",
        True,
        [],
    )
    assert view["quarter"] == {"id": "2026Q4", "label": "2026年第四季度"}
    assert view["columns"] == list(FIGURE_COLUMNS)
    assert "、".join(FIGURE_COLUMNS) == "收到、办结、按期办结、按期率、当前超期、满意度均分、评价数"
    # The quarterly report's own figures: one received and overdue in each group.
    assert [g["figures"] for g in view["districts"][0]["groups"]] == [
        ["1", "0", "0", "—", "1", "—", "0"],
        ["1", "0", "0", "—", "1", "—", "0"],
    ]
    assert view["districts"][0]["figures"] == ["2", "0", "0", "—", "2", "—", "0"]

    async with await signin(site, "duty-wuqing") as other:
        _, view = await district(other)
    assert numbers(view) == {"wuqing-g1": {"overdue": [wuqing]}}


async def test_an_escalation_reads_as_one_in_the_timeline(site: Console) -> None:
    g1, _, _ = await open_three(site)
    assert (await site.bot.scheduler.tick()).escalations == 3
    async with await signin(site, "duty-baodi") as supervisor:
        _, view = await district(supervisor)
    card = view["districts"][0]["groups"][0]["sections"]["overdue"][0]
    assert card["number"] == g1
    assert [e["what"] for e in card["events"]] == ["提交工单", "超期升级"]


async def test_a_supervisor_can_act_on_nothing(site: Console, database: Database) -> None:
    g1, _, _ = await open_three(site)
    async with await signin(site, "duty-baodi") as supervisor:
        for body in EVERY_MOVE:
            status, answer = await act(supervisor, number=g1, **body)
            assert (status, texts_of(answer)) == (200, "抱歉，只有服务小组的成员可以处理工单。")
    await assert_untouched(database, g1)
    async with database.sessions() as session:
        assert (await session.scalars(select(RequestEvent.kind))).all() == ["opened"] * 3


async def test_members_see_no_district_and_a_member_who_supervises_sees_both(
    site: Console,
) -> None:
    g1, _, wuqing = await open_three(site)
    async with await signin(site, "lina") as member:
        _, listing = await board(member)
        assert listing["district_view"] is False
        assert listing["reports"] is None
        status, body = await district(member)
        assert (status, body["error"]) == (403, "只有督导可以查看辖区的工单。")

    async with await signin(site, "zhangwei") as both:
        _, listing = await board(both)
        status, view = await district(both)
        # His own group's board, to act on…
        assert set(every_card(listing)) == {g1}
        assert every_card(listing)[g1]["actions"] == list(MEMBER_MOVES)
        # …and the district he supervises, to read.
        assert status == 200
        assert numbers(view) == {"wuqing-g1": {"overdue": [wuqing]}}
        status, answer = await act(both, action="claim", number=wuqing)
        assert texts_of(answer) == f"您所在的服务小组没有工单 {wuqing}，请检查编号。"


async def test_the_figures_are_counted_again_after_a_minute(site: Console) -> None:
    g1, _, _ = await open_three(site)
    async with await signin(site, "duty-baodi") as supervisor, await signin(site, "lina") as lina:
        _, before = await district(supervisor)
        await act(lina, action="resolve", number=g1, text="已协调")
        _, kept = await district(supervisor)
        site.clock.advance(timedelta(minutes=1))
        _, after = await district(supervisor)
    assert before["districts"][0]["groups"][0]["figures"][:5] == ["1", "0", "0", "—", "1"]
    # The requests are read at once; the figures are at most a minute old.
    assert numbers(kept)["baodi-g1"] == {}
    assert (
        kept["districts"][0]["groups"][0]["figures"]
        == before["districts"][0]["groups"][0]["figures"]
    )
    assert after["districts"][0]["groups"][0]["figures"][:5] == ["1", "1", "0", "0.0%", "0"]


# --- what every card says ----------------------------------------------------------------------


async def test_a_card_names_the_channel_and_language_of_the_entrepreneur(
    demo_site: Console,
) -> None:
    chinese, a = await open_request(demo_site, G1_SPACE, "场地补贴怎么申请")
    english = demo_site.client()
    english.headers["Accept-Language"] = "en-GB,en;q=0.9"
    async with a, english, await demo_signin(demo_site, "zhangwei") as zhangwei:
        await say(english, text="/new How do I apply for a desk?")
        await say(english, choice=f"space:{G1_SPACE}")
        _, listing = await board(zhangwei)
    cards = every_card(listing)
    assert (cards[chinese]["channel_label"], cards[chinese]["language_label"]) == ("网页", "中文")
    (other,) = set(cards) - {chinese}
    assert (cards[other]["channel"], cards[other]["language"]) == ("web", "en")
    assert cards[other]["language_label"] == "English"


async def test_a_transfer_needs_a_short_reason_shown_in_the_timeline_and_to_the_new_group(
    demo_site: Console, database: Database
) -> None:
    number, entrepreneur = await open_request(demo_site, G1_SPACE, "想申请人才公寓")
    async with entrepreneur, await demo_signin(demo_site, "zhangwei") as zhangwei:
        body = {"action": "transfer", "number": number, "group": "baodi-g2"}
        status, refused = await act(zhangwei, **body)
        assert (status, refused["error"]) == (400, "没能读懂这个请求，请刷新页面后再试。")
        status, refused = await act(zhangwei, **body, text="  ")
        assert (status, refused["error"]) == (400, "请写明转交原因，接收的小组会看到。")
        status, refused = await act(zhangwei, **body, text="长" * 201)
        assert (status, refused["error"]) == (400, "转交原因有 201 字，请控制在 200 字以内。")
        status, answer = await act(zhangwei, **body, text="人才公寓归二组对接")
        assert (status, texts_of(answer)) == (200, f"已完成：工单 {number} 宝坻区服务二组。")
    async with await demo_signin(demo_site, "wangfang") as wangfang:
        _, listing = await board(wangfang)
    (transfer,) = [e for e in every_card(listing)[number]["events"] if e["kind"] == "transferred"]
    assert (transfer["who"], transfer["text"]) == (
        "张伟",
        "宝坻区服务一组 → 宝坻区服务二组，原因：人才公寓归二组对接",
    )
    async with database.sessions() as session:
        told = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.chat_id == "-1002000000002")
            )
        ).all()
    # The demo serves no Telegram: the new group reads it on the console (above), and nothing
    # waits for its Telegram chat (tests/test_requests.py has the note posted where served).
    assert told == []


async def test_a_reopened_request_shows_no_result_until_resolved_again(
    demo_site: Console, database: Database
) -> None:
    number, entrepreneur = await open_request(demo_site, G1_SPACE, "想预约会议室")
    async with entrepreneur, await demo_signin(demo_site, "lina") as lina:
        await act(lina, action="resolve", number=number, text="已为您预约周三的会议室")
        await say(entrepreneur, choice=f"req:reopen:{number}")
        _, listing = await board(lina)
        card = every_card(listing)[number]
        assert (card["status_label"], card["result"]) == ("办理中", None)
        # The old result is history: the timeline keeps it.
        assert [(e["what"], e["text"]) for e in card["events"]][-2:] == [
            ("办结", "已为您预约周三的会议室"),
            ("创业者重新打开", ""),
        ]
        async with database.sessions() as session:
            stored = await session.scalar(select(Request).where(Request.number == number))
            assert stored is not None
            assert stored.result is None
        await act(lina, action="resolve", number=number, text="改约到周四上午")
        _, listing = await board(lina)
    assert every_card(listing)[number]["result"] == "改约到周四上午"


@pytest.fixture
async def demo_site(database: Database, faq_dir: Path) -> AsyncIterator[Console]:
    """The console on the demo roster."""
    async with serve(database.url, faq_dir) as console:
        yield console
