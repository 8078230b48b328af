"""The outbox sender's bookkeeping, written a round at a time rather than a message at a time.

What a round delivered is marked together, with its cards and confirmations; a chat that fails
costs the others nothing; a sender stopped between delivery and bookkeeping leaves its messages
to go again after the lease; and a slow chat does not keep the others' marks unwritten until
the round ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from bot.app import Bot
from bot.clock import ManualClock
from bot.delivery import Delivered, DeliveryError
from bot.messages import Channel, OutgoingMessage
from bot.sender import LEASE, OutboxSender
from bot.sender_bookkeeping import FLUSH_AFTER
from storage import Database, outbox, requests
from storage.models import Card, OutboxStatus
from tests.support.desk import GROUP_CHAT, Platform, open_one, rows, the_request

LONG = 3600.0
"""A flush delay no round here outlasts: everything is written when the round's chats are done."""


def sender_for(bot: Bot, platform: Platform, *, flush_after: float = LONG) -> OutboxSender:
    return OutboxSender(
        bot.database,
        bot.clock,
        {Channel.TELEGRAM: platform},
        bot.services.roster,
        flush_after=flush_after,
    )


async def queue(bot: Bot, chat_id: str, payload: dict[str, object]) -> int:
    """A message for ``chat_id`` on Telegram, due now; its outbox id."""
    async with bot.database.transaction() as session:
        row = outbox.enqueue(
            session, channel="telegram", chat_id=chat_id, payload=payload, now=bot.clock.now()
        )
        await session.flush()
        return row.id


@contextlib.contextmanager
def counted(database: Database) -> Iterator[dict[str, list[str]]]:
    """The commits and the outbox UPDATEs run on ``database`` inside the block."""
    seen: dict[str, list[str]] = {"commits": [], "updates": []}

    def committed(_connection: Connection) -> None:
        seen["commits"].append("commit")

    def executed(_conn: Connection, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            seen["updates"].append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "commit", committed)
    event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", committed)
        event.remove(engine, "before_cursor_execute", executed)


async def test_a_rounds_bookkeeping_is_one_transaction_its_sent_marks_one_statement(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)  # the card, for the duty group's chat
    plain = [await queue(running, str(7000 + n), {"text": f"答复{n}"}) for n in range(3)]
    relayed = await queue(
        running, "7100", {"text": "专员的回复", "confirm": ["telegram", "7200", "55"]}
    )
    failing = await queue(running, "7300", {"text": "暂时发不出"})
    platform = Platform()
    platform.failures["7300"] = [DeliveryError("HTTP 502")]
    with counted(running.database) as seen:
        assert await sender_for(running, platform).deliver_due() == 6
    # The claim, then the round's bookkeeping: five messages sent, a card recorded, a
    # confirmation queued and a retry, in one transaction; the sent marks in one statement.
    assert len(seen["commits"]) == 2
    assert len(seen["updates"]) == 3  # the claim, the five sent, the retry
    by_id = {row.id: row for row in await rows(running)}
    assert {by_id[n].status for n in [*plain, relayed]} == {OutboxStatus.SENT}
    assert (by_id[failing].status, by_id[failing].last_error) == (
        OutboxStatus.PENDING,
        "HTTP 502",
    )
    card = next(row for row in by_id.values() if row.chat_id == GROUP_CHAT)
    assert card.status == OutboxStatus.SENT
    async with running.database.sessions() as session:
        recorded = await requests.request_for_card(session, "telegram", GROUP_CHAT, "101")
    assert recorded is not None
    assert recorded.number == number
    (confirmation,) = [row for row in by_id.values() if row.chat_id == "7200"]
    assert confirmation.status == OutboxStatus.PENDING
    assert confirmation.payload["reply_to"] == "55"


async def test_a_chat_that_raises_does_not_lose_the_other_chats_marks(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    others = [await queue(running, str(7000 + n), {"text": f"答复{n}"}) for n in range(3)]
    stuck = await queue(running, "7999", {"text": "?"})
    platform = Platform()
    # An error the sender's own handling cannot catch (task cancellation is one) ends that
    # chat's delivery; the round re-raises it once the other chats' marks are written.
    platform.failures["7999"] = [Escaped("cancelled mid-call")]
    with pytest.raises(Escaped):
        await sender_for(running, platform).deliver_due()
    assert sorted(chat for chat, _ in platform.delivered) == ["7000", "7001", "7002"]
    by_id = {row.id: row for row in await rows(running)}
    assert [by_id[n].status for n in others] == [OutboxStatus.SENT] * 3
    assert (by_id[stuck].status, by_id[stuck].next_attempt_at) == (
        OutboxStatus.PENDING,
        clock.now() + LEASE,
    )


class Escaped(BaseException):
    """What no ``except Exception`` catches."""


async def test_bookkeeping_that_fails_for_one_delivery_costs_only_that_one(
    bot: tuple[Bot, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    running, clock = bot
    number = await open_one(running)  # the card, for the duty group's chat
    request = await the_request(running, number)
    async with running.database.transaction() as session:
        # The platform will say the card is its message 101, which already stands for a card:
        # recording the new one breaks the key.
        session.add(
            Card(
                channel="telegram",
                chat_id=GROUP_CHAT,
                message_id="101",
                request_id=request.id,
                created_at=clock.now(),
            )
        )
    others = [await queue(running, str(7000 + n), {"text": f"答复{n}"}) for n in range(3)]
    platform = Platform()
    with caplog.at_level(logging.ERROR, "bot.sender"):
        assert await sender_for(running, platform).deliver_due() == 4
    assert len(platform.delivered) == 4
    by_id = {row.id: row for row in await rows(running)}
    assert [by_id[n].status for n in others] == [OutboxStatus.SENT] * 3
    card = next(row for row in by_id.values() if row.chat_id == GROUP_CHAT)
    # Not marked: it goes again after the lease, as after a crash.
    assert (card.status, card.next_attempt_at) == (OutboxStatus.PENDING, clock.now() + LEASE)
    lost = [r for r in caplog.records if "recording its delivery failed" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in lost] == [f"outbox {card.id}"]


async def test_a_sender_stopped_between_delivery_and_bookkeeping_sends_again_after_the_lease(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    queued = [await queue(running, str(7000 + n % 2), {"text": f"答复{n}"}) for n in range(4)]
    round_: asyncio.Task[int] | None = None

    class Dying(Platform):
        """The process dies just after the platform took the last message of the round."""

        async def deliver(self, message: OutgoingMessage) -> Delivered:
            delivered = await super().deliver(message)
            if len(self.delivered) == len(queued):
                assert round_ is not None
                round_.cancel()
            return delivered

    platform = Dying()
    round_ = asyncio.create_task(sender_for(running, platform).deliver_due())
    with pytest.raises(asyncio.CancelledError):
        await round_
    assert len(platform.delivered) == 4
    taken = clock.now()
    assert [(r.status, r.attempts, r.next_attempt_at) for r in await rows(running)] == [
        (OutboxStatus.PENDING, 1, taken + LEASE)
    ] * 4
    again = Platform()
    sender = sender_for(running, again)
    assert await sender.deliver_due() == 0  # the dead sender's lease still holds them
    clock.advance(LEASE)
    assert await sender.deliver_due() == 4
    # At least once at the platform: each went twice, in its chat's order both times.
    assert again.delivered == platform.delivered
    assert [r.status for r in await rows(running)] == [OutboxStatus.SENT] * 4
    assert [r.id for r in await rows(running)] == queued


async def test_a_slow_chat_does_not_keep_the_other_chats_marks_unwritten(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    slow = await queue(running, "7000", {"text": "慢"})
    quick = await queue(running, "7001", {"text": "快"})
    gate, taken = asyncio.Event(), asyncio.Event()

    class Throttled(Platform):
        """The platform makes the bot wait before it posts in chat 7000."""

        async def deliver(self, message: OutgoingMessage) -> Delivered:
            if message.chat_id == "7000":
                await gate.wait()
            delivered = await super().deliver(message)
            taken.set()
            return delivered

    marks: list[datetime] = []
    written = asyncio.Event()

    def committed(_connection: Connection) -> None:
        if taken.is_set():  # not the claim's commit
            marks.append(running.clock.now())
            written.set()

    platform = Throttled()
    engine = running.database.engine.sync_engine
    event.listen(engine, "commit", committed)
    try:
        # The shipped delay: the quick chat's mark is written while the slow one still waits.
        round_ = asyncio.create_task(
            sender_for(running, platform, flush_after=FLUSH_AFTER).deliver_due()
        )
        async with asyncio.timeout(10):
            await written.wait()
        by_id = {row.id: row for row in await rows(running)}
        assert (by_id[quick].status, by_id[slow].status) == (
            OutboxStatus.SENT,
            OutboxStatus.PENDING,
        )
        gate.set()
        async with asyncio.timeout(10):
            assert await round_ == 2
    finally:
        event.remove(engine, "commit", committed)
    assert [row.status for row in await rows(running)] == [OutboxStatus.SENT] * 2
    assert len(marks) == 2
