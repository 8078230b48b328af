"""The quarterly report's tests: a quarter of work through the real handlers, the report of it,
and reading its charts and printing it."""

from __future__ import annotations

import itertools
import os
import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Bot
from bot.clock import ManualClock
from bot.messages import Channel, Sender
from bot.reports.engine import build_report
from bot.reports.figures import QuarterReport
from bot.reports.pdf import PdfError, find_chromium
from bot.reports.period import Quarter
from storage.reports import histories
from tests.support.desk import ZHANG, say

__all__ = [
    "ADMIN",
    "END_OF_YEAR",
    "LI",
    "LIU",
    "MEMBER",
    "Q4",
    "SUPERVISOR",
    "WANG",
    "a_quarter",
    "bars",
    "charts",
    "chromium",
    "open_for",
    "report_of",
]

LI = Sender(Channel.TELEGRAM, "2002", "李娜")
WANG = Sender(Channel.TELEGRAM, "2003", "王芳")
LIU = Sender(Channel.TELEGRAM, "2004", "刘洋")
Q4 = Quarter(2026, 4)
_people = itertools.count(1)


async def open_for(bot: Bot, space: str, text: str) -> tuple[str, Sender]:
    """A new entrepreneur in ``space`` opens a request; its number and who they are."""
    entrepreneur = Sender(Channel.WEB, f"r{next(_people)}", "创业者")
    await say(bot, entrepreneur, choice=f"space:{space}")
    replies = await say(bot, entrepreneur, f"/new {text}")
    confirmation = next(r for r in replies if r.chat_id == entrepreneur.user_id)
    return confirmation.text.split("：", 1)[1].split("\n", 1)[0], entrepreneur


async def a_quarter(bot: Bot, clock: ManualClock) -> dict[str, str]:
    """Three weeks of work from Monday 2026-11-23 (due dates fall on 2026-12-07)."""
    day = timedelta(days=1)
    on_time, e1 = await open_for(bot, "baodi-eco", "想咨询公司注册需要哪些材料")
    twice, e2 = await open_for(bot, "baodi-eco", "申请创业补贴需要什么条件")
    forgotten, _ = await open_for(bot, "baodi-pku", "想了解科技金融服务")
    late, e4 = await open_for(bot, "baodi-pku", "能否协助对接检测认证机构")
    waiting, _ = await open_for(bot, "baodi-eco", "知识产权申请怎么办理")
    clock.advance(day)  # Tue
    await say(bot, ZHANG, f"/ask {twice} 请问公司成立多久了？")
    await say(bot, LIU, f"/reply {late} 已收到，正在联系检测机构。")
    await say(bot, WANG, f"/claim {forgotten}")
    clock.advance(day)  # Wed
    await say(bot, ZHANG, f"/resolve {on_time} 已协助完成注册。")
    await say(bot, e1, choice=f"req:rate:{on_time}:5")
    await say(bot, e2, "公司成立一年半了")  # the wait ends; the due date moves a day
    await say(bot, ZHANG, f"/ask {waiting} 请补充专利申请材料")
    clock.advance(2 * day)  # Fri
    await say(bot, ZHANG, f"/resolve {twice} 符合条件，已提交申请。")
    clock.advance(3 * day)  # Mon 11-30
    await say(bot, e2, choice=f"req:reopen:{twice}")
    clock.advance(day)  # Tue 12-01
    await say(bot, LI, f"/resolve {twice} 补贴已批复。")
    await say(bot, e2, choice=f"req:rate:{twice}:4")
    clock.advance(9 * day)  # Thu 12-10: past the 12-07 due date
    await say(bot, LIU, f"/resolve {late} 已对接完成。")
    await say(bot, e4, choice=f"req:rate:{late}:2")
    return {"on_time": on_time, "twice": twice, "forgotten": forgotten, "late": late}


async def report_of(bot: Bot, now: datetime) -> QuarterReport:
    async with bot.database.sessions() as session:
        found = await histories(session, Q4.start, Q4.end)
    district_of = {g.id: g.district for g in bot.services.roster.current.groups}
    return build_report(found, Q4, now, bot.services.calendar.current, district_of)


SUPERVISOR = Sender(Channel.TELEGRAM, "9101", "区科委值班")
ADMIN = Sender(Channel.TELEGRAM, "9001", "管理员")
MEMBER = Sender(Channel.TELEGRAM, "2001", "张伟")
END_OF_YEAR = datetime(2027, 1, 10, tzinfo=UTC)


def chromium() -> str:
    """The Chromium the PDF tests print with: ``BOT_CHROMIUM``, else one on PATH."""
    try:
        return find_chromium(os.environ.get("BOT_CHROMIUM"))
    except PdfError:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium fonts-noto-cjk)")


def charts(html: str) -> dict[str, ElementTree.Element]:
    """Each chart's SVG, parsed, by its accessible name."""
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        root = ElementTree.fromstring(svg)
        found[root.attrib["aria-label"]] = root
    return found


def bars(svg: ElementTree.Element, colour: str) -> list[tuple[float, str]]:
    """The value and tooltip of each bar drawn in ``colour``."""
    return [
        (float(rect.attrib["data-value"]), rect.findtext("{*}title") or "")
        for rect in svg.iter("{http://www.w3.org/2000/svg}rect")
        if rect.attrib.get("fill") == colour and "data-value" in rect.attrib
    ]
