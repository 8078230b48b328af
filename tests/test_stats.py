"""``/stats``: today's counts for supervisors (their districts) and admins (everything)."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Bot
from bot.clock import ManualClock
from bot.messages import Channel, Sender
from tests.support.desk import ENTREPRENEUR, OTHER, ZHANG, open_one, say

SUPERVISOR = Sender(Channel.TELEGRAM, "9101", "区科委值班")
ADMIN = Sender(Channel.TELEGRAM, "9001", "管理员")


async def stats_for(bot: Bot, who: Sender) -> str:
    (answer,) = await say(bot, who, "/stats")
    return answer.text


async def test_counts_of_today_and_now(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    yesterdays = await open_one(running, "昨天的工单")
    await say(running, ZHANG, f"/resolve {yesterdays} 昨天已办")
    clock.advance(timedelta(days=1))  # Tuesday 10:00 in Shanghai
    resolved = await open_one(running, "第一个工单")
    waiting = await open_one(running, "第二个工单")
    await open_one(running, "第三个工单")
    await say(running, ZHANG, f"/resolve {resolved} 已协助完成注册。")
    await say(running, ZHANG, f"/ask {waiting} 请补充营业执照照片")
    await say(running, OTHER, "孵化器里能养猫吗")  # no request open: a question it cannot answer

    report = await stats_for(running, SUPERVISOR)
    assert report.splitlines() == [
        "📊 今日统计（2026-11-24，宝坻区）",
        "新工单 3 · 今日办结 1",
        "在办 1（其中超期 0）· 待创业者补充 1",
    ]
    admin = (await stats_for(running, ADMIN)).splitlines()
    assert admin[0] == "📊 今日统计（2026-11-24，全部）"
    assert admin[3].startswith("未能回答的问题 1 个")

    clock.advance(timedelta(days=20))  # the open request is long overdue
    assert "在办 1（其中超期 1）" in await stats_for(running, SUPERVISOR)


async def test_everyone_else_is_refused(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    for who in (ENTREPRENEUR, ZHANG):
        assert await stats_for(running, who) == "抱歉，统计只有督导和管理员可以查看。"


async def test_help_lists_the_commands_each_role_may_use(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot

    async def help_for(who: Sender) -> str:
        (answer,) = await say(running, who, "/help")
        return answer.text

    entrepreneur, member = await help_for(ENTREPRENEUR), await help_for(ZHANG)
    supervisor, admin = await help_for(SUPERVISOR), await help_for(ADMIN)
    assert entrepreneur.startswith("直接输入问题")
    assert all(command not in entrepreneur for command in ("/claim", "/stats", "/reload"))
    assert "/claim 编号" in member
    assert "/report" not in member
    assert "/report [季度]" in supervisor
    assert "/reload" not in supervisor
    assert "/report [季度]" in admin
    assert "/reload" in admin
    assert all(text.startswith(entrepreneur) for text in (member, supervisor, admin))
