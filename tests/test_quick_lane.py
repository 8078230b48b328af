"""The quick lane: plain questions answered through SQLite's writer, exactly as the full path would.

Two bots on two databases get the same conversation, one with the quick lane and one whose
dispatcher has none; every reply and every row they keep must be the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.messages import Channel, IncomingMessage, Sender
from bot.routing import InlinePolicy
from tests.support.desk import ENTREPRENEUR, OTHER, ROSTER, ZHANG
from tests.support.twins import Twins, stored, twin_bots

ENGLISH = Sender(Channel.TELEGRAM, "5001", "Sam")
VISITOR = Sender(Channel.WECHAT, "oVISITOR", None)

CONVERSATION: list[tuple[Sender, str, str | None]] = [
    (OTHER, "服务专员多久给我反馈结果？", None),  # answered
    (ENGLISH, "How long does a commissioner take to reply?", None),  # answered, in English
    (VISITOR, "孵化器的食堂几点开饭", None),  # not answered: kept as a gap
    (OTHER, "你好", None),  # chatter: nothing kept
    (OTHER, "北京的创业补贴怎么申请", None),  # elsewhere
    (ZHANG, "创业担保贷款的额度是多少？", None),  # a member asks too
    (ENTREPRENEUR, "", "space:baodi-eco"),
    (ENTREPRENEUR, "/new", None),  # an intake begins: its next text is the intake's
    (ENTREPRENEUR, "想咨询公司注册需要哪些材料", None),
    (ENTREPRENEUR, "服务专员多久给我反馈结果？", None),  # mid-intake: not the FAQ's
    (OTHER, "", "space:baodi-pku"),
    (OTHER, "/new 想咨询场地补贴", None),  # opened at once: no conversation left
    (OTHER, "还有一个问题，补贴什么时候到账", None),  # a request is being worked on
    (OTHER, "服务专员多久给我反馈结果？", None),
    (ZHANG, "#2026-0001 收到，我们来处理", None),
    (VISITOR, "x" * 2001, None),  # too long for a question
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def twins(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> AsyncIterator[Twins]:
    """A bot with the quick lane, and a bot on its own database whose dispatcher has none."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    async with twin_bots(tmp_path, faq_dir, ROSTER, server) as both:
        yield both


async def test_every_message_gets_the_same_replies_and_rows_with_or_without_the_lane(
    twins: Twins,
) -> None:
    for number, (sender, text, choice) in enumerate(CONVERSATION):
        await twins.both(sender, text, f"m{number}", choice=choice)
    quick_rows, full_rows = await stored(twins.quick), await stored(twins.full)
    for table, rows in quick_rows.items():
        assert rows == full_rows[table], table
    assert [row.text for row in quick_rows["answered_questions"]] == [
        "服务专员多久给我反馈结果？",
        "How long does a commissioner take to reply?",
        "服务专员多久给我反馈结果？",  # by the full path: its asker has a request open
    ]
    assert [row.text for row in quick_rows["unanswered_questions"]] == [
        "孵化器的食堂几点开饭",
        "创业担保贷款的额度是多少？",
    ]
    # Ten plain questions went to the writer: six answered there, and four found spoken for
    # (mid-intake, a request being worked on) were handed on; and one ``/new``. On SQLite the
    # intake's steps are units too (the two mid-intake texts answered there): ``/new``, the two
    # spaces chosen by newcomers and the numbered reply, offered to the intake first, handed on.
    assert twins.lane_units == (15 if twins.quick.services.writer is not None else 11)
    assert twins.full_units == 0


async def test_a_redelivered_question_is_answered_as_before_and_kept_once(twins: Twins) -> None:
    quick = twins.quick
    message = IncomingMessage(
        OTHER, OTHER.user_id, "服务专员多久给我反馈结果？", "again", quick.clock.now()
    )
    first = await quick.dispatcher.handle(message, inline=InlinePolicy())
    again = await quick.dispatcher.handle(message, inline=InlinePolicy())
    assert [r.to_payload() for r in again] == [r.to_payload() for r in first]
    assert "rate:1:up" in str(first[0].to_payload())
    rows = await stored(quick)
    assert len(rows["answered_questions"]) == len(rows["outbox"]) == len(rows["inbound_keys"]) == 1
    # Pushed later rather than handed back: a redelivery to an adapter that hands back
    # nothing gets the replies to push, as on the full path.
    assert await quick.dispatcher.handle(message) == first
