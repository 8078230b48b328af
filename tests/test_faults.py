"""The load and fault harness (``bench/faults.py``) at a small size, asserted.

Two real ``python -m bot run`` processes share a scratch PostgreSQL database behind the
harness's balancer; entrepreneurs on Telegram and WeChat ask, open requests and get their
commissioners' answers, while one process or the other is killed with ``SIGKILL`` twice and
started again. ``make bench`` runs the same phase over 10,000 inbound messages with 5 kills.
"""

from __future__ import annotations

import pytest

from bench.faults import Plan, inbound_of, run_phase

pytestmark = pytest.mark.postgres

PLAN = Plan(
    entrepreneurs=150, processes=2, kills=2, concurrency=24, overdue=6, lease_s=5.0, drain_s=60.0,
    seed=11,
)  # fmt: skip
SENDER_BATCH = 50
"""Rows one sender round takes (``OutboxSender``'s default): the most a kill can leave in doubt."""


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
    # Every message the bot wrote reached its chat, and nothing reached a chat unwritten.
    assert outcome.lost == []
    assert outcome.unexplained == []
    assert outcome.delivered_once == outcome.rows > outcome.inbound
    assert outcome.notices > 0  # the overdue requests' notices went out meanwhile
    # Doubled only where a kill fell between the platform accepting and the record.
    assert outcome.doubled_otherwise == 0
    assert outcome.in_doubt <= PLAN.kills * SENDER_BATCH
    assert outcome.sound
    assert outcome.logged_errors == []
