"""Retention on a real database with a manual clock: what the hourly job forgets, what it keeps.

Requests and their events are never deleted, nor anything still waiting to be delivered; the
rest goes after its age, in batches, by one process of several.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from bot.app import Bot, create_bot
from bot.channels.wechat.inbound import MAX_SKEW
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Sender
from bot.routing import InlinePolicy
from bot.settings import SettingsError, load_settings
from storage import console, nonces, outbox, transcript
from storage.models import (
    AnsweredQuestion,
    Card,
    ConsoleSession,
    ConsoleToken,
    Conversation,
    Identity,
    InboundKey,
    MadeFile,
    MadeFileStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Request,
    RequestEvent,
    TranscriptLine,
    UnansweredQuestion,
    WeChatNonce,
)
from storage.retention import BATCH, RetentionJob, standard_prunes
from tests.support.desk import ENTREPRENEUR, MONDAY, OTHER, PLATFORMS, ROSTER, open_one, say
from tests.support.reports import ADMIN

Start = Callable[..., Awaitable[Bot]]
DAY = timedelta(days=1)
MORE_THAN_TWO_BATCHES = 2 * BATCH + 7


@pytest.fixture
async def start(tmp_path: Path, faq_dir: Path, database_url: str) -> AsyncIterator[Start]:
    """Starts bots (as ``python -m bot run`` builds them) on one database, all closed after."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    started: list[Bot] = []

    async def starter(clock: ManualClock, **settings: Any) -> Bot:
        loaded = load_settings(
            knowledge_dir=faq_dir, roster=roster, database_url=database_url, **PLATFORMS, **settings
        )
        bot = await create_bot(loaded, clock)
        started.append(bot)
        return bot

    try:
        yield starter
    finally:
        for bot in started:
            await bot.close()


async def ids(bot: Bot, column: Any, *where: Any) -> set[Any]:
    async with bot.database.sessions() as session:
        return set((await session.scalars(select(column).where(*where))).all())


async def count(bot: Bot, table: Any) -> int:
    async with bot.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_old_rows_go_after_their_age_and_the_archive_and_waiting_messages_stay(
    start: Start,
) -> None:
    clock = ManualClock(MONDAY)
    bot = await start(clock)
    number = await open_one(bot)  # a request, its events, a card queued for the group
    await say(bot, OTHER, "服务专员多久给我反馈结果？")  # answered from the FAQ
    await say(bot, OTHER, "孵化器的食堂几点开饭")  # not answered
    await say(bot, Sender(Channel.WEB, "e3", "小刘"), "/new")  # left at the first step
    async with bot.database.transaction() as session:
        await console.issue_token(session, "web:zhangwei", clock.now(), timedelta(minutes=15))
        await console.open_session(session, "web:zhangwei", clock.now())
    # Messages about the request: the confirmation went back in the HTTP response; the card is
    # posted now. Two more end otherwise: one failed, one waits for its user to write.
    about = OutboxMessage.request_id.is_not(None)
    handed_back = OutboxMessage.status == OutboxStatus.HANDED_BACK
    confirmation = min(await ids(bot, OutboxMessage.id, about, handed_back))
    card = min(
        await ids(bot, OutboxMessage.id, about, OutboxMessage.status == OutboxStatus.PENDING)
    )
    async with bot.database.transaction() as session:
        failed_row = outbox.enqueue(
            session, channel="telegram", chat_id="9", payload={"text": "x"}, now=clock.now()
        )
        held_row = outbox.enqueue(
            session, channel="wechat", chat_id="o1", payload={"text": "y"}, now=clock.now()
        )
        await session.flush()
        await outbox.mark_sent(session, card, clock.now())
        await outbox.mark_failed(session, failed_row.id, "blocked by the user")
        await outbox.mark_held(session, held_row.id, "outside the 48-hour window")
    ended = (OutboxStatus.SENT, OutboxStatus.HANDED_BACK, OutboxStatus.FAILED)
    finished = await ids(bot, OutboxMessage.id, OutboxMessage.status.in_(ended))
    waiting = await ids(
        bot, OutboxMessage.id, OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.HELD))
    )
    assert {card, confirmation, failed_row.id} <= finished
    assert held_row.id in waiting
    events = await ids(bot, RequestEvent.id)
    people, identities = await count(bot, Person), await count(bot, Identity)
    assert await count(bot, InboundKey) >= 5
    assert await count(bot, AnsweredQuestion) == 1
    assert await count(bot, UnansweredQuestion) == 1
    assert await count(bot, Conversation) == 1
    assert await count(bot, ConsoleSession) == await count(bot, ConsoleToken) == 1

    # A week and a day on: the keys are past every platform's redelivery; the rest stays.
    clock.advance(8 * DAY)
    done = await bot.scheduler.tick()
    assert await count(bot, InboundKey) == 0
    assert done.pruned is not None
    assert done.pruned["inbound_keys"] == 5  # the five messages above
    assert finished <= await ids(bot, OutboxMessage.id)
    assert await count(bot, Conversation) == 1
    assert await count(bot, AnsweredQuestion) == await count(bot, UnansweredQuestion) == 1
    # The session lasts 7 days, the token 15 minutes and then a day to say "expired".
    assert await count(bot, ConsoleSession) == await count(bot, ConsoleToken) == 0

    # Two weeks and a day: the request half told is forgotten.
    clock.advance(7 * DAY)
    done = await bot.scheduler.tick()
    assert await count(bot, Conversation) == 0
    assert done.pruned is not None
    assert done.pruned["conversations"] == 1

    # 181 days: finished messages and the questions go; the archive and what waits stay.
    clock.set(MONDAY + 181 * DAY)
    done = await bot.scheduler.tick()
    assert await ids(bot, OutboxMessage.id) & finished == set()
    assert done.pruned is not None
    assert done.pruned["answered_questions"] == done.pruned["unanswered_questions"] == 1
    assert done.pruned["outbox"] == len(finished)
    assert waiting <= await ids(bot, OutboxMessage.id)
    assert await count(bot, AnsweredQuestion) == await count(bot, UnansweredQuestion) == 0
    assert events <= await ids(bot, RequestEvent.id)
    assert await ids(bot, Request.number) == {number}
    assert (await count(bot, Person), await count(bot, Identity)) == (people, identities)
    assert await count(bot, Card) == 0  # never posted here: no sender runs in this test


async def test_a_redelivery_within_the_week_is_answered_as_before_even_with_one_day_kept(
    start: Start,
) -> None:
    clock = ManualClock(MONDAY)
    bot = await start(clock, retention_days=1)

    async def deliver() -> list[str]:
        message = IncomingMessage(
            ENTREPRENEUR, "e1", "服务专员多久给我反馈结果？", "web:e1:late-1", clock.now()
        )
        return [reply.text for reply in await bot.dispatcher.handle(message, inline=InlinePolicy())]

    first = await deliver()
    assert "10个工作日" in first[0]
    clock.advance(6 * DAY)
    done = await bot.scheduler.tick()
    assert await count(bot, AnsweredQuestion) == 0  # one day kept: the question went
    assert await deliver() == first  # the same answer, and nothing handled twice
    assert done.pruned is not None
    assert done.pruned["answered_questions"] == 1
    assert done.pruned["outbox"] == done.pruned["inbound_keys"] == 0

    clock.advance(2 * DAY)
    done = await bot.scheduler.tick()
    assert await count(bot, InboundKey) == await count(bot, OutboxMessage) == 0
    assert done.pruned is not None
    assert (done.pruned["inbound_keys"], done.pruned["outbox"]) == (1, 1)


async def test_one_process_of_two_runs_it_each_hour_in_batches_and_logs_one_line(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(MONDAY)
    first, second = await start(clock), await start(clock)
    old = clock.now() - 30 * DAY
    async with first.database.transaction() as session:
        rows = [{"key": f"telegram:{n}", "received_at": old} for n in range(MORE_THAN_TWO_BATCHES)]
        await session.execute(insert(InboundKey), rows)
    caplog.set_level(logging.INFO, logger="storage.retention")

    one, other = await first.scheduler.tick(), await second.scheduler.tick()
    assert await count(first, InboundKey) == 0
    assert one.pruned is not None
    assert one.pruned["inbound_keys"] == MORE_THAN_TWO_BATCHES
    assert other.pruned is None  # the other process's turn was taken this hour
    lines = [r.getMessage() for r in caplog.records if r.name == "storage.retention"]
    (line,) = lines
    assert f"inbound_keys {MORE_THAN_TWO_BATCHES}," in line

    clock.advance(timedelta(minutes=30))
    assert (await first.scheduler.tick()).pruned is None
    assert (await second.scheduler.tick()).pruned is None
    clock.advance(timedelta(minutes=31))
    turns = [(await first.scheduler.tick()).pruned, (await second.scheduler.tick()).pruned]
    assert sum(turn is not None for turn in turns) == 1

    # Should both run anyway, they delete the same old rows once between them.
    async with first.database.transaction() as session:
        await session.execute(insert(InboundKey), rows)
    retention = RetentionJob(standard_prunes(timedelta(days=180)))
    runs = await asyncio.gather(
        retention.run(first.database, clock.now()), retention.run(second.database, clock.now())
    )
    assert sum(run["inbound_keys"] or 0 for run in runs) == len(rows)
    assert await count(first, InboundKey) == 0


def test_retention_days_must_be_a_day_or_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_RETENTION_DAYS", "0")
    with pytest.raises(SettingsError, match="BOT_RETENTION_DAYS"):
        load_settings()
    monkeypatch.setenv("BOT_RETENTION_DAYS", "30")
    assert load_settings().retention_days == 30


async def test_wechat_signatures_go_once_their_window_has_passed(start: Start) -> None:
    clock = ManualClock(MONDAY)
    bot = await start(clock)
    now = int(clock.now().timestamp())
    async with bot.database.transaction() as session:
        for age, nonce in ((0, "fresh"), (int(MAX_SKEW.total_seconds()) + 1, "stale")):
            assert await nonces.remember(session, now - age, nonce, "digest")
    done = await bot.scheduler.tick()
    assert done.pruned is not None
    assert done.pruned["wechat_nonces"] == 1
    assert await ids(bot, WeChatNonce.nonce) == {"fresh"}


async def test_made_files_go_a_week_on_and_their_messages_stay(start: Start) -> None:
    clock = ManualClock(MONDAY)
    bot = await start(clock)
    await say(bot, ADMIN, "/report csv")
    assert await bot.file_maker.make_due() == 1
    await say(bot, ADMIN, "/report md")  # ordered, not made yet
    messages = await ids(bot, OutboxMessage.id)
    made = MadeFile.status == MadeFileStatus.MADE
    assert len(await ids(bot, MadeFile.id, made)) == 1

    clock.advance(6 * DAY)
    done = await bot.scheduler.tick()
    assert done.pruned is not None
    assert done.pruned["made_files"] == 0
    clock.advance(2 * DAY)
    done = await bot.scheduler.tick()
    assert done.pruned is not None
    assert done.pruned["made_files"] == 1
    assert await ids(bot, MadeFile.status) == {MadeFileStatus.QUEUED}
    assert await ids(bot, OutboxMessage.id) == messages


async def test_what_web_visitors_wrote_goes_with_the_bots_messages(start: Start) -> None:
    clock = ManualClock(MONDAY)
    bot = await start(clock, retention_days=30)
    for key in ("old", "new"):
        await transcript.record(
            bot.database.sessions,
            bot.services.writer,
            channel=Channel.WEB.value,
            chat_id="visitor",
            key=key,
            text="服务专员多久回复？",
            choice=None,
            at=clock.now(),
        )
        clock.advance(20 * DAY)
    done = await bot.scheduler.tick()
    assert done.pruned is not None
    assert done.pruned["transcript_lines"] == 1
    assert await ids(bot, TranscriptLine.key) == {"new"}
