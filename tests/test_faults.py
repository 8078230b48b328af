"""The load and fault harness (``bench/faults.py``) and its oracle.

Every platform call that delivers an outbox row names the row (``X-MakerDesk-Outbox``), so the
oracle matches each delivery to its row by id: a row delivered twice is told apart from two rows
that say the same thing ("✓ 已送达"…). The oracle itself is shown to fail on records made up to
be wrong. Then the real thing, at a small size: two ``python -m bot run`` processes share a
scratch PostgreSQL database behind the harness's balancer; entrepreneurs on Telegram and WeChat
ask, open requests and get their commissioners' answers, while one process or the other is
killed with ``SIGKILL`` twice and started again. ``make bench`` runs the same phase over 10,000
inbound messages with 5 kills.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.faults import (
    Arrival,
    Kill,
    Outcome,
    Plan,
    Written,
    count_copies,
    inbound_of,
    judge,
    run_phase,
)
from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.settings import load_settings
from storage import outbox
from storage.models import OutboxMessage, OutboxStatus
from tests.support.desk import MONDAY, ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import CUSTOM_SEND, STABLE_TOKEN, FakeWeChat

TOKEN = "4242:oracle"
OPENID = "o-oracle-user-000000000000001"


# ---------------------------------------------------------------- each delivery names its row


@pytest.fixture
async def platforms_bot(
    tmp_path: Path, faq_dir: Path
) -> AsyncIterator[tuple[Bot, FakeTelegram, FakeWeChat]]:
    """The bot in-process on SQLite, pushing to a fake Telegram and a fake WeChat."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    async with FakeTelegram(token=TOKEN) as telegram, FakeWeChat(app_id="wxoracle") as wechat:
        settings = load_settings(
            knowledge_dir=faq_dir,
            roster=roster,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            telegram_token=TOKEN,
            telegram_api_url=telegram.root,
            wechat_token="oracle",
            wechat_app_id="wxoracle",
            wechat_app_secret=wechat.app_secret,
            wechat_api_url=wechat.root,
            web_chat=False,
        )
        bot = await create_bot(settings, ManualClock(MONDAY))
        assert bot.telegram is not None
        assert bot.wechat is not None
        await bot.telegram.start()
        try:
            yield bot, telegram, wechat
        finally:
            await bot.telegram.stop()
            await bot.wechat.stop()
            await bot.close()


async def _enqueue(bot: Bot, channel: str, chat_id: str, text: str) -> int:
    async with bot.services.database.transaction() as session:
        row = outbox.enqueue(
            session, channel=channel, chat_id=chat_id, payload={"text": text}, now=MONDAY
        )
        await session.flush()
        return row.id


async def test_every_platform_call_of_a_delivery_names_its_outbox_row(
    platforms_bot: tuple[Bot, FakeTelegram, FakeWeChat],
) -> None:
    bot, telegram, wechat = platforms_bot
    # Three chats delivered side by side in one round: each call names its own row.
    first = await _enqueue(bot, "telegram", "1001", "第一条")
    second = await _enqueue(bot, "telegram", "1002", "第二条")
    # Over WeChat's 2,000 bytes: two customer-service messages, both naming the row.
    long = await _enqueue(bot, "wechat", OPENID, "长" * 500 + "\n" + "文" * 500)

    assert await bot.sender.deliver_due() == 3

    sent = {call.params["chat_id"]: call.outbox_id for call in telegram.calls_of("sendMessage")}
    assert sent == {1001: first, 1002: second}
    pushed = [call for call in wechat.calls if call.path == CUSTOM_SEND]
    assert [call.outbox_id for call in pushed] == [long, long]
    # Calls that deliver no row name none: introductions, the access token.
    assert {call.outbox_id for call in telegram.calls_of("getMe")} == {None}
    assert {call.outbox_id for call in wechat.calls if call.path == STABLE_TOKEN} == {None}


# ---------------------------------------------------------------- the oracle on made-up records

PLAN = Plan(
    entrepreneurs=150, processes=2, kills=2, concurrency=24, overdue=6, lease_s=5.0, drain_s=60.0,
    seed=11,
)  # fmt: skip


def _rows(*ids: int, status: str = OutboxStatus.SENT) -> list[Written]:
    return [Written(i, f"chat{i}", status, f"✓ 已送达 {i}") for i in ids]


def _judged(rows: list[Written], copies: dict[int, int], *in_flight: set[int]) -> Outcome:
    outcome = Outcome(PLAN)
    outcome.kills = [Kill(float(k), 0, frozenset(ids)) for k, ids in enumerate(in_flight)]
    judge(outcome, rows, copies)
    return outcome


def test_the_oracle_passes_one_copy_each_and_a_second_copy_of_a_row_in_flight_at_a_kill() -> None:
    outcome = _judged(_rows(1, 2, 3), {1: 1, 2: 2, 3: 1}, {2, 3}, set())

    assert (outcome.rows, outcome.delivered, outcome.lost) == (3, 3, [])
    assert (outcome.in_flight, outcome.in_doubt, outcome.doubled_otherwise) == (2, 1, 0)
    assert [kill.in_doubt for kill in outcome.kills] == [1, 0]
    assert outcome.sound


def test_the_oracle_fails_a_second_copy_of_a_row_no_kill_had_in_flight() -> None:
    # Row 2 in flight at a kill does not excuse row 1, though they say the same thing.
    outcome = _judged(_rows(1, 2), {1: 2, 2: 1}, {2})

    assert (outcome.in_doubt, outcome.doubled_otherwise) == (0, 1)
    assert [(d.outbox_id, d.copies, d.kills, d.otherwise) for d in outcome.doubled] == [
        (1, 2, [], 1)
    ]
    assert not outcome.sound


def test_the_oracle_lets_a_kill_explain_one_extra_copy_of_a_row_and_no_more() -> None:
    outcome = _judged(_rows(1), {1: 3}, {1})

    assert (outcome.in_doubt, outcome.doubled_otherwise) == (1, 1)
    assert not outcome.sound
    # In flight at two kills (sent by the dead process, again by the next, which died too).
    assert _judged(_rows(1), {1: 3}, {1}, {1}).sound


def test_the_oracle_fails_a_row_that_never_arrived_or_was_not_sent() -> None:
    never = _judged(_rows(1, 2), {1: 1})
    pending = _judged(_rows(1) + _rows(2, status=OutboxStatus.PENDING), {1: 1, 2: 1})

    assert never.lost == ["never reached its chat: outbox 2 to chat2: '✓ 已送达 2'"]
    assert pending.lost == ["pending after the run (1 copies): outbox 2 to chat2"]
    assert not never.sound
    assert not pending.sound


def _row(row_id: int, chat: str, text: str, **fields: object) -> OutboxMessage:
    values: dict[str, object] = {"status": OutboxStatus.SENT, "attempts": 1, "inbound_key": None}
    return OutboxMessage(
        id=row_id, channel="telegram", chat_id=chat, payload={"text": text}, **(values | fields)
    )


def test_copies_are_counted_by_the_row_each_call_names_and_strays_are_unexplained() -> None:
    at = datetime.now(UTC).timestamp()
    rows = [
        _row(1, "10", "✓ 已送达"),
        _row(2, "10", "✓ 已送达"),
        _row(
            3, "20", "您好", inbound_key="telegram:7", attempts=0, status=OutboxStatus.HANDED_BACK
        ),
    ]
    arrivals = [
        Arrival("10", "✓ 已送达", at, outbox_id=1),
        Arrival("10", "✓ 已送达", at, outbox_id=1),  # row 1 again, not row 2
        Arrival("20", "您好", at, inbound="telegram:7"),  # handed back in the webhook's answer
        Arrival("10", "✓ 已送达", at),  # named no row
        Arrival("30", "✓ 已送达", at, outbox_id=2),  # row 2 is to chat 10
        Arrival("10", "别的话", at, outbox_id=2),  # row 2 says something else
        Arrival("20", "您好", at, inbound="telegram:8"),  # answers a message that got no reply
    ]

    copies, unexplained = count_copies(rows, arrivals)

    assert copies == Counter({1: 2, 3: 1})
    assert len(unexplained) == 4, unexplained


# ---------------------------------------------------------------- the real thing


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_processes_killed_twice_lose_nothing_and_open_every_request_once(
    postgres_server: str,
) -> None:
    outcome = await run_phase(PLAN, postgres_server)

    assert len(outcome.kills) == PLAN.kills
    # Every message posted was answered: the kills were survived, not avoided.
    assert outcome.unanswered == []
    assert outcome.inbound == sum(inbound_of(i) for i in range(PLAN.entrepreneurs))
    assert len(outcome.latencies) == outcome.inbound
    assert outcome.retried_posts > 0  # some posts did meet a dead process
    # Every request once.
    assert outcome.asked == PLAN.entrepreneurs // 5
    assert outcome.created == outcome.asked
    assert (outcome.duplicate_requests, outcome.missing_requests) == (0, 0)
    # Every row the bot wrote reached its chat, and nothing reached a chat unwritten.
    assert outcome.lost == []
    assert outcome.unexplained == []
    assert outcome.delivered == outcome.rows > outcome.inbound
    assert outcome.notices > 0  # the overdue requests' notices went out meanwhile
    # A second copy only of a row in flight at a kill, at most one per row and kill.
    assert outcome.doubled_otherwise == 0
    for kill in outcome.kills:
        assert kill.in_doubt <= len(kill.in_flight)
    assert outcome.in_doubt <= outcome.in_flight
    assert outcome.sound
    assert outcome.logged_errors == []
