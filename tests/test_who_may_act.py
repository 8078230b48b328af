"""Who may act on a request, through the real dispatcher on SQLite and PostgreSQL.

Roles come from the roster, and only for a sender the channel vouched for: in WeChat's plain
mode the signature does not cover the body, so a commissioner's openid proves nothing (audit
#2). And a request number is no oracle: a stranger's probe is refused before any lookup, and a
member learns nothing about other groups' requests (audit #11).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app import Bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Language, OutgoingMessage, Sender
from bot.routing import InlinePolicy
from storage.models import OutboxMessage, Request, RequestEvent
from tests.support.desk import MONDAY, ROSTER, bot_for
from tests.support.knowledge import write_faq

PLAIN_ROSTER = (
    ROSTER.replace(
        "{name: 张伟, telegram: 2001, web: zhangwei}",
        "{name: 张伟, telegram: 2001, web: zhangwei, wechat: o-zhangwei}",
    )
    .replace(
        "{name: 区科委值班, telegram: 9101}", "{name: 区科委值班, telegram: 9101, wechat: o-duty}"
    )
    .replace("{name: 管理员, telegram: 9001}", "{name: 管理员, telegram: 9001, wechat: o-admin}")
)
"""The service-desk roster, with WeChat accounts for a member, a supervisor and the admin."""
assert PLAIN_ROSTER.count("wechat: o-") == 3

ENTREPRENEUR = Sender(Channel.WEB, "e1", "小陈")
OTHER = Sender(Channel.WEB, "e2", "小王")
ZHANG = Sender(Channel.TELEGRAM, "2001", "张伟")
ZHANG_PLAIN = Sender(Channel.WECHAT, "o-zhangwei", verified=False)
ZHANG_SAFE = Sender(Channel.WECHAT, "o-zhangwei")
"""The same WeChat account, once in plain mode and once in safe mode."""
DUTY_PLAIN = Sender(Channel.WECHAT, "o-duty", verified=False)
ADMIN_PLAIN = Sender(Channel.WECHAT, "o-admin", verified=False)
VISITOR_PLAIN = Sender(Channel.WECHAT, "o-visitor", verified=False)
"""An entrepreneur on the plain-mode account: nobody the roster lists."""
WANG = Sender(Channel.TELEGRAM, "2003", "王芳")
"""A member of g2 (服务二组), which holds baodi-pku's requests."""
G1_CHAT = "-1002000000001"
PLAIN_MODE = (
    "抱歉，这里不能用服务专员或管理员的身份操作：公众号目前是明文模式，"
    "我无法确认消息确实是您发的。请管理员把公众号切换到安全模式（并设置 BOT_WECHAT_AES_KEY）。"
)

_keys = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def desk(request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path) -> AsyncIterator[Bot]:
    async with bot_for(request, tmp_path, faq_dir, PLAIN_ROSTER, ManualClock(MONDAY)) as running:
        yield running[0]


async def say(
    bot: Bot,
    sender: Sender,
    text: str = "",
    *,
    choice: str | None = None,
    chat_id: str | None = None,
    quoted: str | None = None,
) -> list[OutgoingMessage]:
    message = IncomingMessage(
        sender,
        chat_id or sender.user_id,
        text,
        f"test:{next(_keys)}",
        bot.clock.now(),
        choice=choice,
        reply_to="4242" if quoted else None,
        quoted=quoted,
    )
    return await bot.dispatcher.handle(message, inline=InlinePolicy())


async def open_in(
    bot: Bot, who: Sender, space: str, text: str = "想咨询公司注册需要哪些材料"
) -> str:
    await say(bot, who, choice=f"space:{space}")
    replies = await say(bot, who, f"/new {text}")
    confirmation = next(r for r in replies if r.chat_id == who.user_id)
    found = re.search(r"\d{4}-\d{4}", confirmation.text)
    assert found, confirmation.text
    return found.group(0)


async def story(bot: Bot) -> tuple[list[tuple[str, str, str | None]], list[str], int]:
    """Every request (number, status, assignee), every event kind, and the outbox's size."""
    async with bot.database.sessions() as session:
        stored = (await session.scalars(select(Request).order_by(Request.id))).all()
        events = (await session.scalars(select(RequestEvent.kind).order_by(RequestEvent.id))).all()
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return [(r.number, r.status, r.assignee) for r in stored], list(events), int(outbox or 0)


async def to_entrepreneur(bot: Bot) -> list[str]:
    async with bot.database.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == ENTREPRENEUR.user_id)
        )
        return [str(row.payload["text"]) for row in rows]


@contextmanager
def statements(bot: Bot) -> Iterator[list[str]]:
    """The SQL the bot sends while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = bot.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def touching_requests(sql: list[str]) -> list[str]:
    return [s for s in sql if re.search(r"\brequests\b", s)]


# --- audit #2: no commissioner by an unverified channel ---------------------------------------


async def test_a_plain_mode_member_cannot_act_on_any_path(desk: Bot) -> None:
    number = await open_in(desk, ENTREPRENEUR, "baodi-eco")
    card = f"📋 工单 {number}｜政策咨询\n众创空间：节能环保工业园区众创空间"
    before = await story(desk)
    told = await to_entrepreneur(desk)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (f"/claim {number}", {}),
        (f"/reply {number} 请把身份证照片发到 evil@example.com", {}),
        (f"/resolve {number} 已办", {}),
        (f"/transfer {number} g2", {}),
        (f"#{number} 请把身份证照片发到 evil@example.com", {}),
        ("", {"choice": f"act:claim:{number}"}),
        ("", {"choice": f"act:resolve:{number}"}),
        ("", {"choice": f"act:transfer:{number}:g2"}),
        ("请把身份证照片发到 evil@example.com", {"chat_id": G1_CHAT, "quoted": card}),
        ("/open", {}),
    ]
    for text, extra in attempts:
        replies = await say(desk, ZHANG_PLAIN, text, **extra)
        assert [r.text for r in replies] == [PLAIN_MODE], (text, extra)
    assert (await story(desk))[:2] == before[:2]  # no request moved, no event written
    assert await to_entrepreneur(desk) == told  # nothing relayed
    # The same account, with a channel that vouches for it, is 张伟 again.
    done = await say(desk, ZHANG_SAFE, f"/claim {number}")
    assert "已认领" in done[0].text
    assert (await story(desk))[0] == [(number, "claimed", "wechat:o-zhangwei")]


async def test_plain_mode_supervisors_and_admins_hold_no_role(desk: Bot, faq_dir: Path) -> None:
    write_faq(faq_dir, "b.yaml", "- id: x\n  question: 有新条目吗\n  answer: 有\n  source: s\n")
    for sender, command in [
        (DUTY_PLAIN, "/stats"),
        (DUTY_PLAIN, "/report 2026Q4"),
        (ADMIN_PLAIN, "/stats"),
        (ADMIN_PLAIN, "/report"),
        (ADMIN_PLAIN, "/reload"),
    ]:
        replies = await say(desk, sender, command)
        assert [r.text for r in replies] == [PLAIN_MODE], (sender.user_id, command)
    assert len(desk.knowledge.current.entries) == 2  # the reload never ran
    helped = await say(desk, ADMIN_PLAIN, "/help")
    assert "/reload" not in helped[0].text
    assert PLAIN_MODE in helped[0].text


async def test_the_plain_mode_refusal_speaks_english_to_english_speakers(desk: Bot) -> None:
    english = Sender(Channel.WECHAT, "o-zhangwei", language=Language.EN, verified=False)
    replies = await say(desk, english, "/claim 2026-0001")
    assert replies[0].text.startswith("Sorry, I can't act on your commissioner or admin role")
    assert "BOT_WECHAT_AES_KEY" in replies[0].text


async def test_plain_mode_entrepreneurs_go_on_as_before(desk: Bot) -> None:
    answered = await say(desk, VISITOR_PLAIN, "服务专员多久给我反馈结果？")
    assert "10个工作日" in answered[0].text
    number = await open_in(desk, VISITOR_PLAIN, "baodi-eco")
    added = await say(desk, VISITOR_PLAIN, "补充：是有限责任公司")
    assert f"已把这条消息补充到工单 {number}" in added[0].text
    await say(desk, ZHANG, f"/resolve {number} 已协助完成注册。")
    reopened = await say(desk, VISITOR_PLAIN, choice=f"req:reopen:{number}")
    assert "已重新打开" in reopened[0].text
    await say(desk, ZHANG, f"/resolve {number} 这次办好了")
    closed = await say(desk, VISITOR_PLAIN, choice=f"req:confirm:{number}")
    assert "已关闭" in closed[0].text
    rated = await say(desk, VISITOR_PLAIN, choice=f"req:rate:{number}:5")
    assert "5 星" in rated[0].text
    # Not listed, so nothing to withhold: a stranger's refusal, not the plain-mode one.
    probe = await say(desk, VISITOR_PLAIN, f"/claim {number}")
    assert probe[0].text != PLAIN_MODE


# --- audit #11: request numbers are no oracle -------------------------------------------------


async def test_a_strangers_probe_gets_one_answer_and_no_lookup(desk: Bot) -> None:
    real = await open_in(desk, ENTREPRENEUR, "baodi-eco")
    fake = "2026-0999"
    probes = [
        (f"/claim {real}", None),
        (f"/claim {fake}", None),
        (f"/reply {real} 我来答", None),
        (f"#{real} 我来答", None),
        (f"#{fake} 我来答", None),
        ("", f"act:claim:{real}"),
        ("", f"act:claim:{fake}"),
        ("", f"act:resolve:{real}"),
        ("", f"act:transfer:{real}"),
    ]
    answers = set()
    for text, choice in probes:
        with statements(desk) as sql:
            replies = await say(desk, OTHER, text, choice=choice)
        assert touching_requests(sql) == [], (text, choice)
        assert len(replies) == 1
        answers.add(replies[0].text)
    assert answers == {"抱歉，只有服务小组的成员可以处理工单。"}
    assert (await story(desk))[0] == [(real, "open", None)]


async def test_a_member_cannot_tell_another_groups_request_from_none(
    desk: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await open_in(desk, ENTREPRENEUR, "baodi-eco")  # 2026-0001, 服务一组's
    number = "2026-0002"
    probes = [
        (f"/claim {number}", None),
        (f"#{number} 我来答", None),
        ("", f"act:resolve:{number}"),
    ]
    before = [(await say(desk, ZHANG, text, choice=choice))[0].text for text, choice in probes]
    assert await open_in(desk, OTHER, "baodi-pku") == number  # now 服务二组 holds it
    caplog.set_level("INFO")
    after = [(await say(desk, ZHANG, text, choice=choice))[0].text for text, choice in probes]
    assert after == before
    assert set(after) == {f"您所在的服务小组没有工单 {number}，请检查编号。"}
    # The log, which admins read, still says what happened.
    assert any("not in group g2" in r.getMessage() for r in caplog.records)
    # Its own group's members act on it as before.
    assert "已认领" in (await say(desk, WANG, f"/claim {number}"))[0].text
