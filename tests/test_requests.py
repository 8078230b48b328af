"""The request lifecycle through the real dispatcher and a real database (SQLite and PostgreSQL).

Each test opens the bot as ``python -m bot run`` would build it, with a manual clock, and talks
to it with the messages a channel adapter produces.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Bot
from bot.clock import ManualClock
from bot.domain.lifecycle import Status
from bot.messages import Channel, IncomingMessage, Language, OutgoingMessage, Sender
from bot.routing import InlinePolicy
from storage.models import OutboxMessage, Request, RequestEvent
from tests.support.desk import ENTREPRENEUR, OTHER, ZHANG, message_key, open_one, say, the_request

WANG = Sender(Channel.TELEGRAM, "2003", "王芳")


async def outbox_for(bot: Bot, chat_id: str) -> list[str]:
    async with bot.database.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        )
        return [str(r.payload["text"]) for r in rows]


async def test_intake_conversation_opens_a_routed_dated_request(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    asked = await say(running, ENTREPRENEUR, "/new")
    assert "属于哪一类" in asked[0].text
    assert any(b.payload == "intake:cat:registration" for b in asked[0].buttons)
    assert (
        "简要说明" in (await say(running, ENTREPRENEUR, choice="intake:cat:registration"))[0].text
    )
    assert "电话" in (await say(running, ENTREPRENEUR, "办营业执照需要什么材料"))[0].text
    wrong = await say(running, ENTREPRENEUR, "12")
    assert "号码好像不对" in wrong[0].text
    space = await say(running, ENTREPRENEUR, "138 0000 1234")
    assert "哪个众创空间" in space[0].text
    summary = await say(running, ENTREPRENEUR, choice="space:baodi-eco")
    assert "请确认工单内容" in summary[-1].text
    done = await say(running, ENTREPRENEUR, choice="intake:submit")
    confirmation = done[-1].text
    # Monday 2026-11-23: ten working days later is Monday 2026-12-07.
    assert "工单已提交：2026-0001" in confirmation
    assert "服务一组" in confirmation
    assert "答复期限：2026-12-07" in confirmation
    stored = await the_request(running, "2026-0001")
    assert (stored.category, stored.phone, stored.group_id) == (
        "registration",
        "138 0000 1234",
        "g1",
    )
    assert stored.due_date == date(2026, 12, 7)
    assert stored.deadline == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    card = await outbox_for(running, "-1002000000001")
    assert len(card) == 1
    assert "工单 2026-0001" in card[0]
    assert "办营业执照需要什么材料" in card[0]


async def test_new_with_text_asks_only_what_is_missing(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    first = await say(running, ENTREPRENEUR, "/new 申请专利需要多久")
    assert "哪个众创空间" in first[0].text
    done = await say(running, ENTREPRENEUR, choice="space:baodi-pku")
    assert "服务二组" in done[-1].text
    assert (await the_request(running, "2026-0001")).category == "ip"
    # The space is remembered: the next request opens at once.
    again = await say(running, ENTREPRENEUR, "/new 想找天使投资")
    assert "2026-0002" in again[0].text


async def test_cancel_at_any_step_opens_nothing(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    await say(running, ENTREPRENEUR, "/new")
    await say(running, ENTREPRENEUR, choice="intake:cat:ip")
    assert "已取消" in (await say(running, ENTREPRENEUR, "/cancel"))[0].text
    assert "没有进行中" in (await say(running, ENTREPRENEUR, "取消"))[0].text
    async with running.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 0


async def test_commissioner_reply_reaches_the_entrepreneur(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    number = await open_one(running)
    clock.advance(timedelta(hours=1))
    done = await say(running, ZHANG, f"/reply {number} 带身份证和租房合同到政务中心即可。")
    assert "已回复创业者" in done[0].text
    assert any("带身份证和租房合同" in t for t in await outbox_for(running, "e1"))
    stored = await the_request(running, number)
    assert (stored.status, stored.assignee, stored.assignee_name) == (
        "claimed",
        "telegram:2001",
        "张伟",
    )
    assert stored.first_reply_at == clock.now()


async def test_a_reply_to_a_card_the_bot_never_recorded_still_answers_its_request(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    # The card went out, but the process died before it wrote down the card's message id.
    card = f"📋 工单 {number}｜政策咨询\n众创空间：节能环保工业园区众创空间"

    async def reply(sender: Sender, text: str) -> list[OutgoingMessage]:
        message = IncomingMessage(
            sender, "-1002000000001", text, message_key(), running.clock.now(),
            reply_to="4242", quoted=card,
        )  # fmt: skip
        return await running.dispatcher.handle(message, inline=InlinePolicy())

    refused = await reply(WANG, "我来答")
    assert refused[0].text == f"您所在的服务小组没有工单 {number}，请检查编号。"
    await reply(ZHANG, "请带营业执照原件到服务站")
    assert any("请带营业执照原件到服务站" in t for t in await outbox_for(running, "e1"))
    assert not any("我来答" in t for t in await outbox_for(running, "e1"))
    # A quote that is not a card answers no request.
    chatter = IncomingMessage(
        ZHANG, "-1002000000001", "收到", "test:quoted-chatter", running.clock.now(),
        reply_to="4243", quoted="好的，已记下您在“节能环保工业园区众创空间”。",
    )  # fmt: skip
    await running.dispatcher.handle(chatter, inline=InlinePolicy())
    assert not any("收到" in t for t in await outbox_for(running, "e1"))


async def test_only_the_duty_group_acts_on_its_request(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    number = await open_one(running)
    refused = await say(running, WANG, f"/resolve {number} 已办")
    assert refused[0].text == f"您所在的服务小组没有工单 {number}，请检查编号。"
    stranger = await say(running, OTHER, f"/claim {number}")
    assert stranger[0].text == "抱歉，只有服务小组的成员可以处理工单。"
    stored = await the_request(running, number)
    assert (stored.status, stored.assignee) == (Status.OPEN, None)
    async with running.database.sessions() as session:
        kinds = (await session.scalars(select(RequestEvent.kind))).all()
    assert kinds == ["opened"]


async def test_an_entrepreneur_sees_only_their_own_requests(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    number = await open_one(running)
    mine = await say(running, ENTREPRENEUR, "/tickets")
    assert number in mine[0].text
    assert "待受理" in mine[0].text
    theirs = await say(running, OTHER, "/tickets")
    assert number not in theirs[0].text
    poke = await say(running, OTHER, choice=f"req:confirm:{number}")
    assert "没有找到您的工单" in poke[0].text


async def test_asking_for_information_pauses_the_clock(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    number = await open_one(running)
    await say(running, ZHANG, f"/ask {number} 请问公司类型是有限责任公司吗？")
    assert (await the_request(running, number)).status == Status.WAITING
    assert any("需要您补充" in t for t in await outbox_for(running, "e1"))
    # Answered on Wednesday: Tuesday was spent waiting (Monday, the opening day, never counts).
    clock.advance(timedelta(days=2))
    answer = await say(running, ENTREPRENEUR, "是的，有限责任公司")
    assert "补充到工单" in answer[0].text
    moved = [t for t in await outbox_for(running, "e1") if "答复期限调整" in t]
    assert moved
    assert "2026-12-08" in moved[0]
    assert "2026-12-07" in moved[0]
    stored = await the_request(running, number)
    assert (stored.status, stored.due_date) == (Status.CLAIMED, date(2026, 12, 8))
    assert any("有限责任公司" in t for t in await outbox_for(running, "-1002000000001"))


async def test_resolve_confirm_rate(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    number = await open_one(running)
    await say(running, ZHANG, f"/resolve {number} 已协助完成注册。")
    resolution = [t for t in await outbox_for(running, "e1") if "已办结" in t]
    assert resolution
    closed = await say(running, ENTREPRENEUR, choice=f"req:confirm:{number}")
    assert "已关闭" in closed[0].text
    rated = await say(running, ENTREPRENEUR, choice=f"req:rate:{number}:5")
    assert "5 星" in rated[0].text
    stored = await the_request(running, number)
    assert (stored.status, stored.satisfaction, stored.result) == ("closed", 5, "已协助完成注册。")
    late = await say(running, ZHANG, f"/reply {number} 还有一件事")
    assert "不能进行这个操作" in late[0].text


async def test_reopen_within_five_working_days_only(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    number = await open_one(running)
    await say(running, ZHANG, f"/resolve {number} 已办")
    clock.advance(timedelta(days=2))
    again = await say(running, ENTREPRENEUR, choice=f"req:reopen:{number}")
    assert "重新打开" in again[0].text
    assert (await the_request(running, number)).status == Status.CLAIMED
    await say(running, ZHANG, f"/resolve {number} 这次真的办好了")
    clock.advance(timedelta(days=10))
    late = await say(running, ENTREPRENEUR, choice=f"req:reopen:{number}")
    assert "不能重新打开" in late[0].text
    assert (await the_request(running, number)).status == Status.RESOLVED


async def test_transfer_moves_the_request_and_tells_everyone(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    unknown = await say(running, ZHANG, f"/transfer {number} g9")
    assert "没有找到服务小组 g9" in unknown[0].text
    await say(running, ZHANG, f"/transfer {number} g2")
    stored = await the_request(running, number)
    assert (stored.group_id, stored.status) == ("g2", Status.OPEN)
    assert any(number in t for t in await outbox_for(running, "-1002000000002"))
    assert any("已转给服务二组" in t for t in await outbox_for(running, "e1"))
    refused = await say(running, ZHANG, f"/claim {number}")
    assert "您所在的服务小组没有工单" in refused[0].text


async def test_a_transfer_reason_is_logged_and_told_to_both_groups(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    too_long = await say(running, ZHANG, f"/transfer {number} g2 {'长' * 201}")
    assert too_long[0].text == "转交原因请控制在 200 字以内。"
    assert (await the_request(running, number)).group_id == "g1"
    await say(running, ZHANG, f"/transfer {number} g2 涉及北大科技园，二组负责")
    async with running.database.sessions() as session:
        event = await session.scalar(select(RequestEvent).where(RequestEvent.kind == "transferred"))
    assert event is not None
    assert (event.text, event.data) == ("涉及北大科技园，二组负责", {"from": "g1", "to": "g2"})
    old = await outbox_for(running, "-1002000000001")
    new = await outbox_for(running, "-1002000000002")
    assert f"↪ 工单 {number} 已转交给服务二组。\n转交原因：涉及北大科技园，二组负责" in old
    assert f"↪ 工单 {number} 由服务一组转来。\n转交原因：涉及北大科技园，二组负责" in new
    # The entrepreneur hears where it went, not the groups' reasons.
    assert not any("北大科技园，二组" in t for t in await outbox_for(running, "e1"))


async def test_a_card_says_where_the_entrepreneur_writes_and_in_which_language(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    english = Sender(Channel.TELEGRAM, "e2", "Alice", Language.EN)
    await say(running, english, choice="space:baodi-eco")
    await say(running, english, "/new How do I register a company?")
    cards = await outbox_for(running, "-1002000000001")
    assert f"📋 工单 {number}｜" in cards[0]
    assert "创业者：小陈（网页）\n" in cards[0]
    assert "创业者：Alice（Telegram，说英文）\n" in cards[1]


async def test_unknown_number_and_bad_commands(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    assert "没有工单 2026-9999" in (await say(running, ZHANG, "/claim 2026-9999"))[0].text
    assert "服务专员命令" in (await say(running, ZHANG, "/reply"))[0].text


async def test_a_redelivered_message_opens_one_request(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    await say(running, ENTREPRENEUR, choice="space:baodi-eco")
    message = IncomingMessage(
        ENTREPRENEUR, "e1", "/new 营业执照怎么办", "test:same-key", running.clock.now()
    )
    first = await running.dispatcher.handle(message, inline=InlinePolicy())
    second = await running.dispatcher.handle(message, inline=InlinePolicy())
    assert [m.text for m in first] == [m.text for m in second]
    async with running.database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 1
        cards = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == "-1002000000001")
        )
    assert cards == 1


async def test_english_user_gets_english(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    english = Sender(Channel.TELEGRAM, "777", "Ann", Language.EN)
    await say(running, english, choice="space:baodi-eco")
    replies = await say(running, english, "/new I need help registering a company")
    assert replies[0].text.startswith("✅ Request 2026-0001 opened")
    await say(running, ZHANG, "/resolve 2026-0001 营业执照已办好")  # a Chinese-speaking member
    async with running.database.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "777"))
        resolution = rows.all()[-1].payload
    assert str(resolution["text"]).startswith("✅ Request 2026-0001 is resolved.")
    labels = [label for label, _ in resolution["buttons"]]  # type: ignore[union-attr]
    assert labels[:2] == ["Yes, solved", "Not solved, reopen"]


async def _snapshot(bot: Bot) -> tuple[list[tuple[str, str, str | None]], int]:
    async with bot.database.sessions() as session:
        stored = (await session.scalars(select(Request).order_by(Request.id))).all()
        events = await session.scalar(select(func.count()).select_from(RequestEvent))
    return [(r.number, r.status, r.assignee) for r in stored], int(events or 0)


async def test_bad_input_is_refused_clearly_logged_and_changes_nothing(
    bot: tuple[Bot, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    running, _ = bot
    number = await open_one(running)
    closed = await open_one(running, "第二件事：场地租金")
    await say(running, ZHANG, f"/resolve {closed} 已答复")
    await say(running, ENTREPRENEUR, choice=f"req:confirm:{closed}")
    before = await _snapshot(running)
    caplog.set_level("INFO")

    cases = [
        (OTHER, None, "space:baodi-nowhere", "没有找到这个众创空间", "unknown maker space"),
        (WANG, f"/claim {number}", None, "没有工单", "is not in group g1"),
        (OTHER, None, f"req:reopen:{number}", f"没有找到您的工单 {number}", "not theirs"),
        (ZHANG, f"/reply {closed} 还有一件事", None, "不能进行这个操作", "may not reply"),
    ]
    for sender, text, choice, shown, logged in cases:
        caplog.clear()
        replies = await say(running, sender, text or "", choice=choice)
        assert shown in replies[0].text, (text, choice)
        assert any(logged in record.getMessage() for record in caplog.records), (text, choice)
    assert await _snapshot(running) == before
