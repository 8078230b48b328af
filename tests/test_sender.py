"""The outbox sender on a real database: delivery, retries with backoff, failure reports, cards,
and two senders sharing one outbox.

The deliverer here stands in for a channel adapter (Telegram and WeChat come with their own
issues): it records what it was handed and fails when told to, as a platform would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.delivery import MAX_ATTEMPTS, Delivered, DeliveryError, backoff
from bot.messages import Channel, IncomingMessage, OutgoingMessage, Sender
from bot.routing import InlinePolicy
from bot.sender import LEASE, OutboxSender
from bot.settings import load_settings
from storage import Database, outbox, requests
from storage.models import OutboxStatus
from tests.support.databases import scratch_postgres
from tests.support.desk import GROUP_CHAT, MONDAY, ROSTER, ZHANG, Platform, open_one, rows, say

NOW = MONDAY  # the `bot` fixture's clock starts here


def sender_for(bot: Bot, platform: Platform, database: Database | None = None) -> OutboxSender:
    return OutboxSender(
        database or bot.database,
        bot.clock,
        {Channel.TELEGRAM: platform},
        bot.services.roster,
    )


async def test_a_reply_handed_back_is_never_pushed_and_answers_a_redelivery(
    bot: tuple[Bot, ManualClock],
) -> None:
    # Telegram's webhook answer carries one message: of the press's two answers the first goes
    # back in the response, the confirmation and the group's card wait for the sender.
    running, clock = bot
    asker = Sender(Channel.TELEGRAM, "9001", "小李")
    await say(running, asker, "/new 想咨询公司注册需要哪些材料")
    press = IncomingMessage(asker, "9001", "", "test:press", clock.now(), choice="space:baodi-eco")
    one = InlinePolicy(limit=1)
    (noted,) = await running.dispatcher.handle(press, inline=one)
    assert noted.text.startswith("好的，已记下")
    again = await running.dispatcher.handle(press, inline=one)
    assert [reply.text for reply in again] == [noted.text]
    answered = [row for row in await rows(running) if row.inbound_key == "test:press"]
    assert [(row.chat_id, row.status, row.attempts) for row in answered] == [
        ("9001", OutboxStatus.HANDED_BACK, 0),
        ("9001", OutboxStatus.PENDING, 0),
        (GROUP_CHAT, OutboxStatus.PENDING, 0),
    ]
    platform = Platform()
    assert await sender_for(running, platform).deliver_due() == 2
    assert [chat for chat, _ in platform.delivered] == ["9001", GROUP_CHAT]
    assert platform.delivered[0][1].startswith("✅ 工单已提交")


async def test_delivers_pushed_channels_records_the_card_and_leaves_the_web_chat_alone(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)  # the confirmation to the web chat, the card to the group
    platform = Platform()
    assert await sender_for(running, platform).deliver_due() == 1
    assert [chat for chat, _ in platform.delivered] == [GROUP_CHAT]
    assert platform.delivered[0][1].startswith(f"📋 工单 {number}")
    by_channel = {row.channel: row for row in await rows(running)}
    assert by_channel["telegram"].status == OutboxStatus.SENT
    assert by_channel["telegram"].attempts == 1
    assert by_channel["web"].status == OutboxStatus.HANDED_BACK  # in the HTTP response
    async with running.database.sessions() as session:
        card = await requests.request_for_card(session, "telegram", GROUP_CHAT, "101")
    assert card is not None
    assert card.number == number
    # A reply to the card now reaches the request, even from a fresh process.
    in_group = IncomingMessage(
        ZHANG, GROUP_CHAT, "材料清单：营业执照申请书、章程、身份证明", "tg:1", NOW, reply_to="101"
    )
    await running.dispatcher.handle(in_group)
    assert any("服务专员张伟回复" in text for _, text in await _web_texts(running))
    await sender_for(running, platform).deliver_due()  # the "replied" note, the card edited
    texts = [text for _, text in platform.delivered]
    assert len(texts) == 3
    assert texts[0].startswith(f"📋 工单 {number}")  # the card went once…
    assert "已回复创业者" in texts[1]
    assert texts[2].startswith(f"📋 工单 {number}")  # …and was brought up to date in place
    assert "状态：办理中｜承办：张伟" in texts[2]
    assert platform.edits[2] == (GROUP_CHAT, "101")


async def _web_texts(bot: Bot) -> list[tuple[str, str]]:
    return [(r.chat_id, str(r.payload["text"])) for r in await rows(bot) if r.channel == "web"]


async def test_a_failure_for_now_is_retried_with_backoff_then_delivered(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await open_one(running)
    platform = Platform()
    platform.failures[GROUP_CHAT] = [DeliveryError("timeout"), DeliveryError("HTTP 502")]
    sender = sender_for(running, platform)
    assert await sender.deliver_due() == 1
    clock.advance(backoff(1) - timedelta(seconds=1))
    assert await sender.deliver_due() == 0  # not yet
    clock.advance(timedelta(seconds=1))
    assert await sender.deliver_due() == 1  # fails again: now waits twice as long
    clock.advance(backoff(2) - timedelta(seconds=1))
    assert await sender.deliver_due() == 0
    clock.advance(timedelta(seconds=1))
    assert await sender.deliver_due() == 1
    card = next(row for row in await rows(running) if row.channel == "telegram")
    assert (card.status, card.attempts, card.last_error) == (OutboxStatus.SENT, 3, None)
    assert len(platform.delivered) == 1


async def test_the_platforms_retry_after_is_honoured(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    await open_one(running)
    platform = Platform()
    platform.failures[GROUP_CHAT] = [DeliveryError("429", retry_after=timedelta(seconds=30))]
    sender = sender_for(running, platform)
    await sender.deliver_due()
    clock.advance(timedelta(seconds=29))
    assert await sender.deliver_due() == 0
    clock.advance(timedelta(seconds=1))
    assert await sender.deliver_due() == 1
    assert len(platform.delivered) == 1


async def test_an_undeliverable_reply_is_reported_to_the_group_not_dropped(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    # The entrepreneur is on Telegram this time, and has blocked the bot.
    async with running.database.sessions.begin() as session:
        request = await requests.by_number(session, number)
        assert request is not None
        request.channel, request.chat_id = "telegram", "5555"
    await say(running, ZHANG, f"/reply {number} 请带营业执照原件来现场")
    platform = Platform()
    platform.failures["5555"] = [DeliveryError("bot was blocked by the user", final=True)]
    sender = sender_for(running, platform)
    await sender.deliver_due()  # the card and the reply; the reply fails for good
    await sender.deliver_due()  # the report it caused
    failed = next(row for row in await rows(running) if row.chat_id == "5555")
    assert (failed.status, failed.last_error) == (
        OutboxStatus.FAILED,
        "bot was blocked by the user",
    )
    to_group = [text for chat, text in platform.delivered if chat == GROUP_CHAT]
    assert to_group[-1] == (
        f"⚠ 工单 {number} 的一条消息没能送达创业者（bot was blocked by the user），请换个方式联系。"
    )
    assert len(to_group) == 3  # the card, the card brought up to date, one report
    assert platform.edits[-1] == (GROUP_CHAT, "101")  # the report answers under the card


async def test_a_message_that_outlasts_every_retry_fails_and_its_report_is_not_reported(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await open_one(running)
    platform = Platform()
    platform.failures[GROUP_CHAT] = [DeliveryError("HTTP 502")] * (MAX_ATTEMPTS + 5)
    sender = sender_for(running, platform)
    for _ in range(MAX_ATTEMPTS + 3):
        await sender.deliver_due()
        clock.advance(timedelta(hours=3))
    card = next(row for row in await rows(running) if row.channel == "telegram")
    assert (card.status, card.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    # The card went to the group's own chat: a report there would fail the same way.
    assert [row.channel for row in await rows(running)].count("telegram") == 1


async def test_a_message_the_platform_will_take_later_is_held(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    await open_one(running)
    platform = Platform()
    platform.failures[GROUP_CHAT] = [DeliveryError("45015 out of the 48 h window", hold=True)]
    await sender_for(running, platform).deliver_due()
    card = next(row for row in await rows(running) if row.channel == "telegram")
    assert (card.status, card.last_error) == (OutboxStatus.HELD, "45015 out of the 48 h window")
    assert await sender_for(running, platform).deliver_due() == 0


async def test_a_sender_that_died_mid_delivery_leaves_rows_that_fall_due_after_the_lease(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await open_one(running)
    # A sender took the card and died before it could deliver or book anything.
    claimed = await outbox.claim_due(
        running.database.sessions, ["telegram"], now=clock.now(), lease=LEASE
    )
    assert len(claimed) == 1
    platform = Platform()
    sender = sender_for(running, platform)
    assert await sender.deliver_due() == 0
    clock.advance(LEASE)
    assert await sender.deliver_due() == 1
    assert len(platform.delivered) == 1


async def test_a_chat_the_platform_makes_wait_holds_up_only_itself(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await open_one(running)  # the card waits for the group's chat
    async with running.database.transaction() as session:
        outbox.enqueue(
            session, channel="telegram", chat_id="9001", payload={"text": "另一位的答复"},
            now=clock.now(),
        )  # fmt: skip
    gate, other = asyncio.Event(), asyncio.Event()

    class Throttled(Platform):
        """Telegram makes the bot wait before it posts in the group again."""

        async def deliver(self, message: OutgoingMessage) -> Delivered:
            if message.chat_id == GROUP_CHAT:
                await gate.wait()
            delivered = await super().deliver(message)
            if message.chat_id == "9001":
                other.set()
            return delivered

    platform = Throttled()
    round_ = asyncio.create_task(sender_for(running, platform).deliver_due())
    async with asyncio.timeout(10):
        await other.wait()
    assert [chat for chat, _ in platform.delivered] == ["9001"]
    gate.set()
    assert await round_ == 2
    assert [chat for chat, _ in platform.delivered] == ["9001", GROUP_CHAT]


async def test_a_slow_platform_gives_back_what_the_lease_would_not_cover(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    for text in ("场地租金能减免吗", "创业补贴怎么申请", "专利申请有补助吗"):
        await open_one(running, text)

    class Slow(Platform):
        """Each delivery takes a third of the lease."""

        async def deliver(self, message: OutgoingMessage) -> Delivered:
            clock.advance(LEASE / 3)
            return await super().deliver(message)

    platform = Slow()
    sender = sender_for(running, platform)
    assert await sender.deliver_due() == 3
    # Two deliveries took two thirds of the lease: the third card was given back, not sent
    # after the point where another process could already have taken it.
    assert len(platform.delivered) == 2
    pending = [row for row in await rows(running) if row.status == OutboxStatus.PENDING]
    assert [(row.attempts, row.next_attempt_at) for row in pending] == [(0, clock.now())]
    assert await sender.deliver_due() == 1
    assert len(platform.delivered) == 3
    cards = [row for row in await rows(running) if row.channel == "telegram"]
    assert [row.status for row in cards] == [OutboxStatus.SENT] * 3


@pytest.mark.postgres
async def test_two_senders_on_one_postgresql_deliver_each_message_once(
    postgres_server: str, tmp_path: Path, faq_dir: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    clock = ManualClock(NOW)
    async with scratch_postgres(postgres_server, migrated=True) as url:
        settings = load_settings(knowledge_dir=faq_dir, roster=roster, database_url=url)
        running = await create_bot(settings, clock)
        other = Database(url)
        try:
            async with running.database.sessions.begin() as session:
                for n in range(300):
                    outbox.enqueue(
                        session,
                        channel="telegram",
                        chat_id=str(1000 + n % 7),
                        payload={"text": f"m{n}"},
                        now=NOW,
                    )
            platform = Platform()
            first = sender_for(running, platform)
            second = sender_for(running, platform, other)

            async def drain(sender: OutboxSender) -> None:
                while await sender.deliver_due():
                    pass

            await asyncio.gather(drain(first), drain(second))
        finally:
            await other.close()
            await running.close()
    texts = [text for _, text in platform.delivered]
    assert sorted(texts) == sorted(f"m{n}" for n in range(300))


async def test_a_sender_waiting_for_work_stops_when_told_not_at_its_next_round(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    await open_one(running)
    delivered = asyncio.Event()

    class Watched(Platform):
        async def deliver(self, message: OutgoingMessage) -> Delivered:
            sent = await super().deliver(message)
            delivered.set()
            return sent

    # An hour between idle rounds: a sender that only looked at `stop` between rounds would
    # outlive the deadline below by far.
    sender = OutboxSender(
        running.database,
        running.clock,
        {Channel.TELEGRAM: Watched()},
        running.services.roster,
        idle=3600,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    async with asyncio.timeout(10):
        await delivered.wait()
    stop.set()
    async with asyncio.timeout(10):
        await task


async def test_a_row_this_release_cannot_read_fails_at_once_and_holds_up_nothing(
    bot: tuple[Bot, ManualClock], caplog: pytest.LogCaptureFixture
) -> None:
    running, clock = bot
    async with running.database.transaction() as session:
        # Written by a newer release (a language this one does not know), or edited by hand.
        payloads: list[tuple[str, dict[str, object]]] = [
            ("9001", {"text": "Bonjour", "language": "fr"}),
            ("9002", {"text": "你好"}),
        ]
        for chat_id, payload in payloads:
            outbox.enqueue(session, channel="telegram", chat_id=chat_id, payload=payload, now=NOW)
    platform = Platform()
    sender = sender_for(running, platform)
    assert await sender.deliver_due() == 2
    assert platform.delivered == [("9002", "你好")]
    unreadable, readable = await rows(running)
    assert (unreadable.status, readable.status) == (OutboxStatus.FAILED, OutboxStatus.SENT)
    assert unreadable.last_error == "unreadable: ValueError"
    assert "outbox 1 to telegram cannot be read (ValueError); marked failed" in caplog.text
    assert "Bonjour" not in caplog.text
    clock.advance(LEASE * 2)
    assert await sender.deliver_due() == 0  # never taken again
