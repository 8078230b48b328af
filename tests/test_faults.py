"""The load and fault harness (``bench/faults/``): what its oracle relies on, and the real thing.

Every platform call that delivers an outbox row names the row (``X-MakerDesk-Outbox``), so the
oracle matches each delivery to its row by id: a row delivered twice is told apart from two rows
that say the same thing ("✓ 已送达"…); the oracle itself is tested in ``test_fault_checker.py``.
Then the real thing, at a small size: two ``python -m bot run`` processes share a scratch
PostgreSQL database behind the harness's balancer; entrepreneurs on Telegram and WeChat ask, open
requests and get their commissioners' answers, while one process or the other is killed with
``SIGKILL`` twice and started again. ``make bench`` runs the same phase over 10,000 inbound
messages with 5 kills.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.faults import Plan, inbound_of, run_phase
from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.settings import load_settings
from storage import outbox
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


# ---------------------------------------------------------------- the real thing

PLAN = Plan(
    entrepreneurs=150, processes=2, kills=2, concurrency=24, overdue=6, lease_s=5.0, drain_s=60.0,
    seed=11,
)  # fmt: skip


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
