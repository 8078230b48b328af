"""The guided intake through SQLite's writer: each step exactly as the full path takes it.

Two bots on two databases get the same intake conversations of several people, one with the
quick lane and one whose dispatcher has none; every reply (byte for byte) and every row
(conversations, people and their accounts, requests, events, outbox rows, counters, inbound
keys) must be the same. Each message is also checked to have taken the path it should: the
lane (the writer alone), or the full path after its unit found it not quick.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.messages import Channel, IncomingMessage, Language, Sender
from bot.routing import InlinePolicy
from tests.support.desk import ENTREPRENEUR, OTHER, ROSTER
from tests.support.twins import Twins, stored, twin_bots

SAM = Sender(Channel.TELEGRAM, "5001", "Sam", Language.EN)
NEWCOMER = Sender(Channel.WECHAT, "oNEWCOMER", None)

LANE = "lane"
"""Handled in its writer unit alone: no ORM statement."""
FELL_BACK = "fell back"
"""Its unit found it not quick: the full path handled it."""

SCRIPT: list[tuple[Sender, str, str | None, str]] = [
    (ENTREPRENEUR, "/new", None, FELL_BACK),  # never wrote: the full path meets them
    (ENTREPRENEUR, "", "intake:cat:registration", LANE),
    (ENTREPRENEUR, "办营业执照需要什么材料", None, LANE),  # the text step
    (ENTREPRENEUR, "12345", None, LANE),  # not a phone number: asked again
    (ENTREPRENEUR, "138 0000 1234", None, LANE),  # no maker space yet: asked for
    (ENTREPRENEUR, "", "space:baodi-eco", LANE),  # remembered, and the summary
    (ENTREPRENEUR, "好的", None, LANE),  # the summary wants a button: shown again
    (ENTREPRENEUR, "", "intake:submit", LANE),  # 2026-0001, with the phone
    (ENTREPRENEUR, "", "intake:submit", LANE),  # a second press: the button has gone stale
    (SAM, "/new", None, FELL_BACK),
    (SAM, "", "intake:cat:ip", LANE),
    (SAM, "I need help with a patent application", None, LANE),
    (SAM, "", "intake:skip", LANE),  # the maker space asked
    (SAM, "北京的众创空间", None, LANE),  # not one of the roster's: asked again
    (SAM, "baodi-pku", None, LANE),  # typed, by its id
    (SAM, "", "intake:edit", LANE),  # the step picker
    (SAM, "", "intake:edit:text", LANE),  # the text as it stands, to keep or rewrite
    (SAM, "", "intake:keep", LANE),  # kept: the summary again
    (SAM, "", "intake:cat:finance", LANE),  # a button the step no longer offers
    (SAM, "", "intake:submit", LANE),  # 2026-0002, group g2, in English
    (OTHER, "", "space:baodi-pku", FELL_BACK),  # never wrote
    (OTHER, "/new", None, LANE),
    (OTHER, "7", None, LANE),  # the category by its number
    (OTHER, "", "intake:cancel", LANE),
    (OTHER, "/cancel", None, LANE),  # nothing left to cancel
    (OTHER, "/new", None, LANE),
    (OTHER, "", "intake:cat:policy", LANE),
    (OTHER, "想了解场地补贴怎么申请", None, LANE),
    (OTHER, "跳过", None, LANE),  # no phone: the summary, the space known
    (OTHER, "/new", None, LANE),  # starts afresh over the summary
    (OTHER, "/cancel", None, LANE),
    (NEWCOMER, "服务专员多久给我反馈结果？", None, LANE),  # no intake: the FAQ's unit takes it
    (NEWCOMER, "", "intake:cat:other", LANE),  # no intake: a stale button
    (NEWCOMER, "#2026-0001 补充材料", None, FELL_BACK),  # not the FAQ's: the full path's
]


@pytest.fixture
async def twins(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Twins]:
    """A bot with the quick lane, and a bot on its own database whose dispatcher has none."""
    async with twin_bots(tmp_path, faq_dir, ROSTER) as both:
        yield both


async def _path_taken(twins: Twins, sender: Sender, text: str, key: str, choice: str | None) -> str:
    units, statements = twins.lane_units, len(twins.orm_statements)
    await twins.both(sender, text, key, choice=choice)
    assert twins.lane_units == units + 1, "never offered to the lane"
    return LANE if len(twins.orm_statements) == statements else FELL_BACK


async def test_each_step_gets_the_same_replies_and_rows_with_or_without_the_lane(
    twins: Twins,
) -> None:
    for number, (sender, text, choice, path) in enumerate(SCRIPT):
        assert await _path_taken(twins, sender, text, f"m{number}", choice) == path, (
            number,
            text or choice,
        )
    quick, full = await stored(twins.quick), await stored(twins.full)
    for table, rows in quick.items():
        assert rows == full[table], table
    requests = quick["requests"]
    assert [(r.number, r.chat_id, r.category, r.phone, r.group_id) for r in requests] == [
        ("2026-0001", "e1", "registration", "138 0000 1234", "g1"),
        ("2026-0002", "5001", "ip", None, "g2"),
    ]
    assert [r.text for r in requests] == [
        "办营业执照需要什么材料",
        "I need help with a patent application",
    ]
    assert len(quick["request_events"]) == 2
    assert quick["conversations"] == []  # each intake submitted or cancelled
    assert [(p.display_name, p.space_id) for p in quick["people"]] == [
        ("小陈", "baodi-eco"),
        ("Sam", "baodi-pku"),
        ("小王", "baodi-pku"),
    ]
    assert len(quick["answered_questions"]) == 1


async def _at_summary(twins: Twins, sender: Sender) -> None:
    """``sender`` goes through the guided intake up to its summary."""
    for number, (text, choice) in enumerate(
        [
            ("", "space:baodi-eco"),
            ("/new", None),
            ("", "intake:cat:registration"),
            ("办营业执照需要什么材料", None),
            ("", "intake:skip"),
        ]
    ):
        await twins.both(sender, text, f"{sender.user_id}-{number}", choice=choice)


async def test_two_presses_of_submit_in_one_batch_open_one_request(twins: Twins) -> None:
    quick = twins.quick
    await _at_summary(twins, ENTREPRENEUR)
    writer = quick.services.writer
    assert writer is not None
    batches, units = writer.batches, twins.lane_units
    presses = [
        IncomingMessage(
            ENTREPRENEUR, "e1", "", f"press-{n}", quick.clock.now(), choice="intake:submit"
        )
        for n in range(2)
    ]
    first, second = await asyncio.gather(
        *(quick.dispatcher.handle(press, inline=InlinePolicy()) for press in presses)
    )
    assert (writer.batches, twins.lane_units) == (batches + 1, units + 2)  # one batch, the lane
    assert "2026-0001" in first[0].text
    assert [r.text for r in second] == [
        "这个按钮已经失效，没有做任何改动。需要提交工单，请发送 /new。"
    ]
    rows = await stored(quick)
    assert [r.number for r in rows["requests"]] == ["2026-0001"]
    assert len(rows["request_events"]) == 1
    assert rows["conversations"] == []


async def test_a_redelivered_step_is_answered_as_before_and_taken_once(twins: Twins) -> None:
    quick = twins.quick
    await _at_summary(twins, ENTREPRENEUR)
    units, statements = twins.lane_units, len(twins.orm_statements)
    press = IncomingMessage(
        ENTREPRENEUR, "e1", "", "submit", quick.clock.now(), choice="intake:submit"
    )
    first = await quick.dispatcher.handle(press, inline=InlinePolicy())
    again = await quick.dispatcher.handle(press, inline=InlinePolicy())
    assert [r.to_payload() for r in again] == [r.to_payload() for r in first]
    assert "2026-0001" in first[0].text
    # A step the conversation moved on from: redelivered, the same question, not a stale one.
    begun = IncomingMessage(ENTREPRENEUR, "e1", "/new", "begin", quick.clock.now())
    asked = await quick.dispatcher.handle(begun, inline=InlinePolicy())
    chosen = IncomingMessage(
        ENTREPRENEUR, "e1", "", "category", quick.clock.now(), choice="intake:cat:ip"
    )
    told = await quick.dispatcher.handle(chosen, inline=InlinePolicy())
    assert [r.to_payload() for r in await quick.dispatcher.handle(chosen)] == [
        r.to_payload() for r in told
    ]
    assert [r.to_payload() for r in await quick.dispatcher.handle(begun)] == [
        r.to_payload() for r in asked
    ]
    assert (twins.lane_units, len(twins.orm_statements)) == (units + 6, statements)  # the lane
    rows = await stored(quick)
    assert [r.number for r in rows["requests"]] == ["2026-0001"]
    assert [(c.kind, c.step, c.data) for c in rows["conversations"]] == [
        ("intake", "text", {"guided": True, "category": "ip"})
    ]
    assert len([r for r in rows["outbox"] if r.inbound_key == "submit"]) == 2
