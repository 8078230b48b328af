"""The quick lane: plain questions answered through the writer, exactly as the full path would.

Two bots on two databases get the same conversation, one with the quick lane and one whose
dispatcher has none; every reply and every row they keep must be the same. On SQLite the lane
goes through SQLite's writer (:mod:`storage.writer`), on PostgreSQL through PostgreSQL's
(:mod:`storage.pg_writer`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Sender
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import load_settings
from handlers import ROUTERS
from handlers.basics import unknown
from storage.models import (
    AnsweredQuestion,
    Conversation,
    InboundKey,
    OutboxMessage,
    Request,
    UnansweredQuestion,
)
from storage.pg_writer import PgWriter
from storage.writer import Writer
from tests.support.databases import scratch_postgres
from tests.support.desk import ENTREPRENEUR, MONDAY, OTHER, ROSTER, ZHANG

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
) -> AsyncIterator[tuple[Bot, Dispatcher, Bot]]:
    """A bot with the quick lane, and a bot on its own database whose dispatcher has none."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    async with contextlib.AsyncExitStack() as stack:
        bots = []
        for name in ("quick", "full"):
            if request.param == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
            else:
                server = request.getfixturevalue("postgres_server")
                url = await stack.enter_async_context(scratch_postgres(server, migrated=True))
            settings = load_settings(knowledge_dir=faq_dir, roster=roster, database_url=url)
            bot = await create_bot(settings, ManualClock(MONDAY))
            stack.push_async_callback(bot.close)
            bots.append(bot)
        quick, full = bots
        plain = Dispatcher(full.services, fallback=unknown)
        plain.include(*ROUTERS)
        yield quick, plain, full


def _writer(bot: Bot) -> Writer | PgWriter:
    """The bot's writer: SQLite's or PostgreSQL's, whichever its database has."""
    writer = bot.services.writer or bot.services.pg_writer
    assert writer is not None
    return writer


async def _rows(bot: Bot) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, Any] = {
        "inbound_keys": (InboundKey.key, InboundKey.received_at),
        "answered": (
            AnsweredQuestion.id,
            AnsweredQuestion.answered_at,
            AnsweredQuestion.channel,
            AnsweredQuestion.chat_id,
            AnsweredQuestion.text,
            AnsweredQuestion.faq_id,
            AnsweredQuestion.score,
            AnsweredQuestion.picked,
        ),
        "unanswered": (
            UnansweredQuestion.id,
            UnansweredQuestion.asked_at,
            UnansweredQuestion.text,
            UnansweredQuestion.band,
            UnansweredQuestion.best_faq_id,
            UnansweredQuestion.best_score,
        ),
        "outbox": (
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.chat_id,
            OutboxMessage.payload,
            OutboxMessage.created_at,
            OutboxMessage.inbound_key,
            OutboxMessage.request_id,
            OutboxMessage.status,
            OutboxMessage.attempts,
            OutboxMessage.next_attempt_at,
            OutboxMessage.sent_at,
        ),
        "requests": (Request.number, Request.text, Request.status),
        "conversations": (Conversation.channel, Conversation.user_id, Conversation.step),
    }
    async with bot.database.sessions() as session:
        return {
            name: [
                tuple(row) for row in await session.execute(select(*columns).order_by(*columns[:1]))
            ]
            for name, columns in tables.items()
        }


async def test_every_message_gets_the_same_replies_and_rows_with_or_without_the_lane(
    twins: tuple[Bot, Dispatcher, Bot],
) -> None:
    quick, plain, full = twins
    for number, (sender, text, choice) in enumerate(CONVERSATION):
        for bot, dispatcher in ((quick, quick.dispatcher), (full, plain)):
            assert isinstance(bot.clock, ManualClock)
            bot.clock.advance(timedelta(seconds=1))
            message = IncomingMessage(
                sender, sender.user_id, text, f"m{number}", bot.clock.now(), choice=choice
            )
            handed = await dispatcher.handle(message, inline=InlinePolicy())
            if bot is quick:
                expected = [reply.to_payload() for reply in handed]
            else:
                assert [reply.to_payload() for reply in handed] == expected, (sender, text)
    quick_rows, full_rows = await _rows(quick), await _rows(full)
    for table, rows in quick_rows.items():
        assert rows == full_rows[table], table
    assert [row[4] for row in quick_rows["answered"]] == [
        "服务专员多久给我反馈结果？",
        "How long does a commissioner take to reply?",
        "服务专员多久给我反馈结果？",  # by the full path: its asker has a request open
    ]
    assert [row[2] for row in quick_rows["unanswered"]] == [
        "孵化器的食堂几点开饭",
        "创业担保贷款的额度是多少？",
    ]
    # Ten plain questions went to the writer: six answered there, and four found spoken for
    # (mid-intake, a request being worked on) were handed to the full path.
    assert _writer(quick).units == 10
    assert _writer(full).units == 0


async def test_a_redelivered_question_is_answered_as_before_and_kept_once(
    twins: tuple[Bot, Dispatcher, Bot],
) -> None:
    quick, _, _ = twins
    message = IncomingMessage(
        OTHER, OTHER.user_id, "服务专员多久给我反馈结果？", "again", quick.clock.now()
    )
    first = await quick.dispatcher.handle(message, inline=InlinePolicy())
    again = await quick.dispatcher.handle(message, inline=InlinePolicy())
    assert [r.to_payload() for r in again] == [r.to_payload() for r in first]
    assert "rate:1:up" in str(first[0].to_payload())
    rows = await _rows(quick)
    assert len(rows["answered"]) == len(rows["outbox"]) == len(rows["inbound_keys"]) == 1
    # Pushed later rather than handed back: a redelivery to an adapter that hands back
    # nothing gets the replies to push, as on the full path.
    assert await quick.dispatcher.handle(message) == first
