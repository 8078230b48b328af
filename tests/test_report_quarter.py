"""A whole quarter of seeded random activity, and the report against a count of its own.

Three duty groups in two districts work through 2026Q4 (the National Day holiday and its make-up
Sunday and Saturday included) by the real handlers, on a manual clock: entrepreneurs open
requests, commissioners claim, reply, ask, resolve and transfer them, entrepreneurs answer,
reopen and rate. Some actions are refused by the handlers (resolving what is already resolved);
that is fine, since only what the log recorded counts.

The report is then checked, for every group, district, commissioner and the total, against a
count written differently from :mod:`bot.reports.engine`: each figure on its own, from the log read
as a list (which event is last of its kinds, which transfer came before it), and where the
requests stand at the end from the requests' own columns.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Bot
from bot.clock import SHANGHAI, ManualClock
from bot.domain.lifecycle import Status
from bot.messages import Channel, Sender
from bot.reports.engine import build_report
from bot.reports.figures import Figures
from bot.reports.html import CHARTS, report_html
from bot.reports.period import Quarter
from storage.models import Request, RequestEvent
from storage.reports import histories
from tests.support.desk import bot_for, say
from tests.support.reports import bars, charts, open_for

Q4 = Quarter(2026, 4)
ROSTER = """\
districts:
  - id: baodi
    name: 宝坻区
    supervisors: [{name: 宝坻督导, telegram: 9101}]
  - id: wuqing
    name: 武清区
    supervisors: [{name: 武清督导, telegram: 9102}]
spaces:
  - {id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}
  - {id: baodi-pku, name: 北大科技园众创空间, district: baodi}
  - {id: wuqing-hub, name: 武清创业中心, district: wuqing}
groups:
  - id: g1
    name: 宝坻一组
    district: baodi
    chat: {telegram: -1002000000001}
    members: [{name: 张伟, telegram: 2001}, {name: 李娜, telegram: 2002}]
    onsite: {baodi-eco: mon}
  - id: g2
    name: 宝坻二组
    district: baodi
    chat: {telegram: -1002000000002}
    members: [{name: 王芳, telegram: 2003}, {name: 刘洋, telegram: 2004}]
    onsite: {baodi-pku: thu}
  - id: g3
    name: 武清组
    district: wuqing
    chat: {telegram: -1002000000003}
    members: [{name: 陈静, telegram: 2005}, {name: 杨帆, telegram: 2006}]
    onsite: {wuqing-hub: tue}
admins:
  - {name: 管理员, telegram: 9001}
"""
MEMBERS = {
    "g1": [Sender(Channel.TELEGRAM, "2001"), Sender(Channel.TELEGRAM, "2002")],
    "g2": [Sender(Channel.TELEGRAM, "2003"), Sender(Channel.TELEGRAM, "2004")],
    "g3": [Sender(Channel.TELEGRAM, "2005"), Sender(Channel.TELEGRAM, "2006")],
}
SPACES = ("baodi-eco", "baodi-pku", "wuqing-hub")
QUESTIONS = (
    "想咨询公司注册需要哪些材料",
    "申请创业补贴需要什么条件",
    "想了解科技金融服务",
    "能否协助对接检测认证机构",
    "知识产权申请怎么办理",
    "想参加创业培训",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def quarter_bot(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> AsyncIterator[tuple[Bot, ManualClock]]:
    clock = ManualClock(datetime(2026, 10, 1, 1, 0, tzinfo=UTC))  # 09:00 on National Day
    async with bot_for(request, tmp_path, faq_dir, ROSTER, clock) as running:
        yield running


async def a_random_quarter(bot: Bot, clock: ManualClock, seed: int) -> None:
    """Every day of 2026Q4, a few new requests and a few moves on the open ones."""
    dice = random.Random(seed)
    opened: list[tuple[str, Sender, str]] = []  # number, entrepreneur, group
    for _ in range(92):
        start = clock.now()
        for _ in range(dice.choice((0, 1, 1, 2, 3))):
            space = dice.choice(SPACES)
            number, entrepreneur = await open_for(bot, space, dice.choice(QUESTIONS))
            opened.append(
                (number, entrepreneur, {"baodi-eco": "g1", "baodi-pku": "g2"}.get(space, "g3"))
            )
            clock.advance(timedelta(minutes=7))
        for number, entrepreneur, group in dice.sample(opened, min(len(opened), 6)):
            member = dice.choice(MEMBERS[group])
            move = dice.random()
            if move < 0.2:
                await say(bot, member, f"/claim {number}")
            elif move < 0.35:
                await say(bot, member, f"/reply {number} 正在办理。")
            elif move < 0.45:
                await say(bot, member, f"/ask {number} 请补充材料。")
            elif move < 0.55:
                await say(bot, entrepreneur, "材料已补充。")  # ends a wait, if there is one
            elif move < 0.75:
                await say(bot, member, f"/resolve {number} 已办结。")
            elif move < 0.8:
                other = dice.choice([g for g in MEMBERS if g != group])
                await say(bot, member, f"/transfer {number} {other}")
            elif move < 0.9:
                await say(bot, entrepreneur, choice=f"req:rate:{number}:{dice.randint(1, 5)}")
            else:
                await say(bot, entrepreneur, choice=f"req:reopen:{number}")
            clock.advance(timedelta(minutes=11))
        clock.set(start + timedelta(days=1))


def counted(
    bot: Bot, requests: list[Request], logs: dict[int, list[RequestEvent]]
) -> dict[str, dict[str, Any]]:
    """Each scope's figures at the end of the quarter, counted figure by figure."""
    calendar = bot.services.calendar.current
    district_of = {g.id: g.district for g in bot.services.roster.current.groups}
    scopes: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "received": set(),
            "resolved": set(),
            "on_time": set(),
            "overdue": set(),
            "waiting": set(),
            "first_reply_days": {},
            "resolve_days": {},
            "stars": {},
        }
    )

    def where(group: str, person: str | None = None) -> list[dict[str, Any]]:
        keys = ["total", f"district:{district_of[group]}", f"group:{group}"]
        return [scopes[key] for key in (*keys, *([f"person:{person}"] if person else []))]

    for request in requests:
        log = logs[request.id]
        rid = request.id

        def holder(index: int, log: list[RequestEvent] = log) -> str:
            """The group holding the request at its ``index``-th event."""
            moves = [e for e in log[: index + 1] if e.kind in ("opened", "transferred")]
            last = moves[-1].data or {}
            return str(last["group"] if moves[-1].kind == "opened" else last["to"])

        for i, event in enumerate(log):
            if event.kind in ("opened", "transferred"):
                for scope in where(holder(i)):
                    scope["received"].add(rid)
        replies = [i for i, e in enumerate(log) if e.kind in ("reply", "ask", "resolve")]
        if replies:
            first = log[replies[0]]
            days = calendar.working_days_between(request.opened_at, first.at)
            for scope in where(holder(replies[0]), first.actor):
                scope["first_reply_days"][rid] = days
        endings = [i for i, e in enumerate(log) if e.kind in ("resolve", "reopened")]
        if endings and log[endings[-1]].kind == "resolve":
            i = endings[-1]
            dues = [
                str((e.data or {})["to" if e.kind == "due_changed" else "due_date"])
                for e in log[:i]
                if e.kind == "due_changed" or (e.kind == "opened")
            ]
            deadline = datetime.combine(
                date.fromisoformat(dues[-1]) + timedelta(days=1), time.min, SHANGHAI
            )
            days = calendar.working_days_between(request.opened_at, log[i].at)
            for scope in where(holder(i), log[i].actor):
                scope["resolved"].add(rid)
                scope["resolve_days"][rid] = days
                if log[i].at < deadline:
                    scope["on_time"].add(rid)
        ratings = [i for i, e in enumerate(log) if e.kind == "rated"]
        if ratings:
            i = ratings[-1]
            resolvers = [e.actor for e in log[:i] if e.kind == "resolve"]
            for scope in where(holder(i), resolvers[-1] if resolvers else None):
                scope["stars"][rid] = (log[i].data or {})["stars"]
        # Where it stands at the end: the request's own columns.
        if request.status == Status.WAITING:
            for scope in where(request.group_id):
                scope["waiting"].add(rid)
        if request.status in (Status.OPEN, Status.CLAIMED) and request.deadline <= Q4.end:
            for scope in where(request.group_id, request.assignee):
                scope["overdue"].add(rid)
    return scopes


def shown(figures: Figures) -> dict[str, Any]:
    return {
        "received": figures.received,
        "resolved": figures.resolved,
        "on_time": figures.on_time,
        "overdue": figures.overdue,
        "waiting": figures.waiting,
        "first_reply_days": figures.first_reply_days,
        "resolve_days": figures.resolve_days,
        "stars": figures.stars,
    }


@pytest.mark.slow
async def test_a_random_quarter_matches_a_count_of_its_own(
    quarter_bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = quarter_bot
    await a_random_quarter(running, clock, seed=2026)
    async with running.database.sessions() as session:
        requests = list(await session.scalars(select(Request).order_by(Request.id)))
        events = await session.scalars(
            select(RequestEvent).order_by(RequestEvent.request_id, RequestEvent.at, RequestEvent.id)
        )
        logs: dict[int, list[RequestEvent]] = defaultdict(list)
        for event in events:
            logs[event.request_id].append(event)
        found = await histories(session, Q4.start, Q4.end)
    district_of = {g.id: g.district for g in running.services.roster.current.groups}
    report = build_report(
        found, Q4, datetime(2027, 1, 10, tzinfo=UTC), running.services.calendar.current, district_of
    )
    expected = counted(running, requests, logs)

    got = {"total": shown(report.total)}
    got |= {f"district:{k}": shown(v) for k, v in report.districts.items()}
    got |= {f"group:{k}": shown(v) for k, v in report.groups.items()}
    got |= {
        f"person:{k}": shown(v) for k, v in report.commissioners.items() if any(shown(v).values())
    }
    assert got.keys() == expected.keys()
    for scope, figures in expected.items():
        assert got[scope] == figures, scope

    # The quarter was busy enough to mean something.
    kinds = {e.kind for log in logs.values() for e in log}
    assert {"transferred", "reopened", "rated", "ask", "follow_up", "due_changed"} <= kinds
    total = report.total
    assert len(requests) > 100
    assert 0 < len(total.on_time) < len(total.resolved)
    assert total.overdue
    assert total.waiting
    assert len(report.groups) == 3
    assert len(report.districts) == 2
    # The weekly chart of each district adds up to its figures.
    for district, figures in report.districts.items():
        weekly = charts(report_html(report, running.services.roster.current, district))[CHARTS[2]]
        assert sum(v for v, _ in bars(weekly, "#3566a8")) == len(figures.received), district
        assert sum(v for v, _ in bars(weekly, "#2f7d5b")) == len(figures.resolved), district
