"""Ratings, confirmations, follow-ups and 👍/👎 through SQLite's writer, exactly as the full path.

Two bots on two databases get the same messages, one with the quick lane and one whose
dispatcher has none; every reply and every row (requests with their status, due date and
rating, events, pauses, outbox rows to the entrepreneur and the duty group, people, accounts,
conversations, answers and their ratings, inbound keys) must be the same. Each message is also
checked to have taken the path it should: the lane (the writer alone), or the full path after
the unit found it not quick, or the full path at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from bot.app import Bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Language, Sender
from bot.routing import InlinePolicy
from storage.models import Pause
from tests.support.desk import ENTREPRENEUR, OTHER, ROSTER, ZHANG
from tests.support.twins import Twins, stored, twin_bots

RENAMED = Sender(Channel.WEB, ENTREPRENEUR.user_id, "陈总")
IN_ENGLISH = Sender(Channel.WEB, ENTREPRENEUR.user_id, "陈总", Language.EN)
ASKER = Sender(Channel.TELEGRAM, "5001", "Sam")

LANE = "lane"
"""Handled in its writer unit alone: no ORM statement."""
FELL_BACK = "fell back"
"""Its unit found it not quick: the full path handled it."""
FULL = "full"
"""Never offered to the lane."""

Step = tuple[Sender, str, str | None, str]

OPENING: list[Step] = [
    (ENTREPRENEUR, "", "space:baodi-eco", FELL_BACK),  # a newcomer: the intake lane hands it on
    (ENTREPRENEUR, "/new 想咨询公司注册需要哪些材料", None, LANE),  # 2026-0001, open
    (ENTREPRENEUR, "补充：是有限责任公司", None, LANE),  # a detail joins the open request
    (ENTREPRENEUR, "服务专员多久给我反馈结果？", None, FELL_BACK),  # the FAQ answers it
    (ENTREPRENEUR, "怎么申请专利？", None, FELL_BACK),  # another matter: held for a choice
    (ENTREPRENEUR, "补充：注册资本五十万", None, FELL_BACK),  # the choice is pending
    (ENTREPRENEUR, "", "held:add", FULL),
    (ZHANG, "/claim 2026-0001", None, FULL),
    (ZHANG, "/ask 2026-0001 请发一下营业执照照片", None, FULL),  # waits on the entrepreneur
]
"""A request opened, followed up, and asked about: it waits on its entrepreneur."""

ANSWERED: list[Step] = [
    (RENAMED, "照片已经发到邮箱了", None, LANE),  # the wait ends: re-dated, cards edited
    (ENTREPRENEUR, "还有营业执照副本", None, LANE),  # claimed now: joins as it stands
    (ZHANG, "/resolve 2026-0001 已办理完毕", None, FULL),
    (OTHER, "", "req:rate:2026-0001:1", FELL_BACK),  # another's request: theirs to refuse
    (OTHER, "", "space:baodi-pku", LANE),  # known by now: the intake lane keeps the space
    (OTHER, "", "req:rate:2026-0001:1", FELL_BACK),
    (ENTREPRENEUR, "", "req:rate:2026-0001:5", LANE),
    (ENTREPRENEUR, "", "req:rate:2026-0001:3", LANE),  # rated already: 5 stands
    (ENTREPRENEUR, "", "req:rate:2026-0009:3", FELL_BACK),  # no such request
    (ENTREPRENEUR, "", "req:rate:2026-0001:9", FULL),  # no such stars: never offered
    (IN_ENGLISH, "", "req:confirm:2026-0001", LANE),  # closed; told in English
    (ENTREPRENEUR, "", "req:confirm:2026-0001", FELL_BACK),  # closed already: refused
    (ENTREPRENEUR, "", "req:rate:2026-0001:2", LANE),  # still 5
    (ENTREPRENEUR, "", "req:reopen:2026-0001", FULL),  # refused, on the full path
    (ENTREPRENEUR, "", "req:", FULL),
    (ENTREPRENEUR, "谢谢，还有一个事情", None, LANE),  # no request being worked on: the FAQ's
]
"""The wait answered, the result given, rated and confirmed."""

ASKER_STEPS: list[Step] = [
    (ASKER, "服务专员多久给我反馈结果？", None, LANE),  # answer 2 (1 was the entrepreneur's)
    (ASKER, "", "rate:2:down", LANE),
    (ASKER, "", "rate:2:up", LANE),  # the last press wins
    (OTHER, "", "rate:2:down", FELL_BACK),  # given in another chat
    (ASKER, "", "rate:1:down", FELL_BACK),
    (ASKER, "", "rate:99:up", FELL_BACK),  # no such answer
    (ASKER, "", "rate:2:sideways", FULL),
]
"""👍/👎 under an answer."""


@pytest.fixture
async def twins(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Twins]:
    """A bot with the quick lane, and a bot on its own database whose dispatcher has none."""
    async with twin_bots(tmp_path, faq_dir, ROSTER) as both:
        yield both


async def _path_taken(twins: Twins, step: Step, key: str) -> str:
    sender, text, choice, _ = step
    units, statements = twins.lane_units, len(twins.orm_statements)
    await twins.both(sender, text, key, choice=choice)
    if twins.lane_units == units:
        return FULL
    assert twins.lane_units == units + 1
    return LANE if len(twins.orm_statements) == statements else FELL_BACK


async def _script(twins: Twins, steps: list[Step], prefix: str) -> None:
    for number, step in enumerate(steps):
        taken = await _path_taken(twins, step, f"{prefix}{number}")
        assert taken == step[3], step


def _later(twins: Twins, days: int) -> None:
    for bot in (twins.quick, twins.full):
        assert isinstance(bot.clock, ManualClock)
        bot.clock.advance(timedelta(days=days))


async def _pauses(bot: Bot) -> list[Row[Any]]:
    async with bot.database.sessions() as session:
        columns = Pause.__table__.columns
        return list(await session.execute(select(*columns).order_by(Pause.id)))


async def _same_rows(twins: Twins) -> dict[str, list[Row[Any]]]:
    quick, full = await stored(twins.quick), await stored(twins.full)
    for table, rows in quick.items():
        assert rows == full[table], table
    quick["request_pauses"] = await _pauses(twins.quick)
    assert quick["request_pauses"] == await _pauses(twins.full)
    return quick


async def test_each_move_gets_the_same_replies_and_rows_with_or_without_the_lane(
    twins: Twins,
) -> None:
    await _script(twins, OPENING, "o")
    _later(twins, 3)  # the wait lasts into Thursday: the due date moves
    await _script(twins, ANSWERED, "a")
    await _script(twins, ASKER_STEPS, "f")
    rows = await _same_rows(twins)
    request = rows["requests"][0]
    assert (request.status, request.satisfaction) == ("closed", 5)
    assert request.closed_at is not None
    kinds = [(row.kind, row.actor) for row in rows["request_events"]]
    assert kinds[3:] == [
        ("follow_up", "entrepreneur"),
        ("claim", "telegram:2001"),
        ("ask", "telegram:2001"),
        ("follow_up", "entrepreneur"),
        ("due_changed", "system"),
        ("follow_up", "entrepreneur"),
        ("resolve", "telegram:2001"),
        ("rated", "entrepreneur"),
        ("confirmed", "entrepreneur"),
    ]
    assert [pause.ended_at is not None for pause in rows["request_pauses"]] == [True]
    told = [str(row.payload) for row in rows["outbox"] if row.chat_id == "e1"]
    assert any("的答复期限调整为" in text for text in told)  # the due moved
    assert any("Request 2026-0001 is closed" in text for text in told)  # in English
    cards = [str(row.payload) for row in rows["outbox"] if row.chat_id.startswith("-100")]
    assert any("陈总" in card and "照片已经发到邮箱了" not in card for card in cards)
    assert [(row.chat_id, row.rating) for row in rows["answered_questions"]] == [
        ("e1", None),
        ("5001", "up"),
    ]
    assert [row.display_name for row in rows["people"]][:1] == ["小陈"]


async def test_a_redelivered_press_is_answered_as_before_and_counts_once(twins: Twins) -> None:
    await _script(twins, OPENING, "o")
    await _script(twins, ANSWERED[:3], "a")
    quick = twins.quick
    press = IncomingMessage(
        ENTREPRENEUR, "e1", "", "again", quick.clock.now(), choice="req:rate:2026-0001:4"
    )
    first = await quick.dispatcher.handle(press, inline=InlinePolicy())
    units = twins.lane_units
    again = await quick.dispatcher.handle(press, inline=InlinePolicy())
    assert [r.to_payload() for r in again] == [r.to_payload() for r in first]
    assert "4" in first[0].text
    assert twins.lane_units == units + 1  # the redelivery found its key in the writer
    rows = await stored(quick)
    assert [row.kind for row in rows["request_events"]].count("rated") == 1
    assert len([row for row in rows["outbox"] if row.inbound_key == "again"]) == 1


async def test_a_follow_up_the_database_refuses_costs_only_itself(twins: Twins) -> None:
    quick = twins.quick
    senders = [Sender(Channel.WEB, f"u{n}", f"创业者{n}") for n in range(4)]
    for sender in senders:
        await quick.dispatcher.handle(
            IncomingMessage(
                sender,
                sender.user_id,
                "",
                f"s-{sender.user_id}",
                quick.clock.now(),
                choice="space:baodi-eco",
            ),
            inline=InlinePolicy(),
        )
        await quick.dispatcher.handle(
            IncomingMessage(
                sender,
                sender.user_id,
                "/new 想咨询公司注册",
                f"n-{sender.user_id}",
                quick.clock.now(),
            ),
            inline=InlinePolicy(),
        )
    assert quick.database.file is not None
    with sqlite3.connect(quick.database.file) as database:
        database.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON request_events WHEN NEW.text = '失败'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    texts = ["补充一", "失败", "补充三", "补充四"]
    messages = [
        IncomingMessage(s, s.user_id, text, f"f-{s.user_id}", quick.clock.now())
        for s, text in zip(senders, texts, strict=True)
    ]
    batches = quick.services.writer.batches if quick.services.writer else 0
    outcomes = await asyncio.gather(
        *(quick.dispatcher.handle(m, inline=InlinePolicy()) for m in messages),
        return_exceptions=True,
    )
    assert quick.services.writer is not None
    assert quick.services.writer.batches - batches < 4  # they were written together
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    rows = await stored(quick)
    followed = [
        (row.request_id, row.text) for row in rows["request_events"] if row.kind == "follow_up"
    ]
    assert followed == [(1, "补充一"), (3, "补充三"), (4, "补充四")]
    assert "f-u1" not in {row.key for row in rows["inbound_keys"]}
    assert not [row for row in rows["outbox"] if row.inbound_key == "f-u1"]
    with sqlite3.connect(quick.database.file) as database:
        database.execute("DROP TRIGGER refuse")
    again = await quick.dispatcher.handle(messages[1], inline=InlinePolicy())
    assert "2026-0002" in again[0].text
