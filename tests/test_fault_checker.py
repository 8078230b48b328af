"""The faults harness's checker (``bench.faults.checker``), on records made up to be right or wrong.

The oracle the load and faults benchmark relies on: every outbox row the bot wrote reached its
chat exactly once, a second copy only of a row in flight at a kill, nothing unwritten. Each test
feeds it hand-made rows and deliveries, without processes or a database.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bench.faults.checker import (
    Arrival,
    Kill,
    Outcome,
    Written,
    check_deliveries,
    count_copies,
    judge,
)
from bench.faults.scenario import Plan
from storage.models import OutboxMessage, OutboxStatus

PLAN = Plan(
    entrepreneurs=150, processes=2, kills=2, concurrency=24, overdue=6, lease_s=5.0, drain_s=60.0,
    seed=11,
)  # fmt: skip


# ---------------------------------------------------------------- from arrivals to a verdict


def _row(row_id: int, chat: str, text: str, **fields: object) -> OutboxMessage:
    values: dict[str, object] = {"status": OutboxStatus.SENT, "attempts": 1, "inbound_key": None}
    return OutboxMessage(
        id=row_id, channel="telegram", chat_id=chat, payload={"text": text}, **(values | fields)
    )


def _checked(rows: list[OutboxMessage], arrivals: list[Arrival], *in_flight: set[int]) -> Outcome:
    outcome = Outcome(PLAN)
    outcome.kills = [Kill(float(k), 0, frozenset(ids)) for k, ids in enumerate(in_flight)]
    check_deliveries(outcome, rows, arrivals)
    return outcome


AT = datetime.now(UTC).timestamp()


def _clean_run() -> tuple[list[OutboxMessage], list[Arrival]]:
    """A sent card, a sent confirmation, and an answer handed back in a webhook's response."""
    rows = [
        _row(1, "10", "工单 2611-0001"),
        _row(2, "20", "✓ 已送达"),
        _row(
            3, "30", "您好", inbound_key="telegram:7", attempts=0, status=OutboxStatus.HANDED_BACK
        ),
    ]
    arrivals = [
        Arrival("10", "工单 2611-0001", AT, message_id=5, outbox_id=1),
        Arrival("20", "✓ 已送达", AT, outbox_id=2),
        Arrival("30", "您好", AT, inbound="telegram:7"),
    ]
    return rows, arrivals


def test_the_checker_passes_a_run_in_which_every_row_reached_its_chat_once() -> None:
    outcome = _checked(*_clean_run())

    assert (outcome.rows, outcome.delivered) == (3, 3)
    assert (outcome.lost, outcome.doubled, outcome.unexplained) == ([], [], [])
    assert outcome.sound


def test_the_checker_reports_a_row_that_never_reached_its_chat_as_lost() -> None:
    rows, arrivals = _clean_run()

    outcome = _checked(rows, [a for a in arrivals if a.outbox_id != 2])

    assert outcome.lost == ["never reached its chat: outbox 2 to 20: '✓ 已送达'"]
    assert (outcome.rows, outcome.delivered) == (3, 2)
    assert not outcome.sound


def test_the_checker_reports_a_second_copy_as_doubled_unless_a_kill_had_the_row_in_flight() -> None:
    rows, arrivals = _clean_run()
    twice = [*arrivals, Arrival("20", "✓ 已送达", AT + 1, outbox_id=2)]

    outcome = _checked(rows, twice)

    assert [(d.outbox_id, d.copies, d.kills, d.otherwise) for d in outcome.doubled] == [
        (2, 2, [], 1)
    ]
    assert (outcome.lost, outcome.delivered, outcome.doubled_otherwise) == ([], 3, 1)
    assert not outcome.sound
    # The same copy of a row in flight at a kill is in doubt, not a defect.
    killed = _checked(rows, twice, {2})
    assert (killed.in_doubt, killed.doubled_otherwise) == (1, 0)
    assert killed.sound


# ---------------------------------------------------------------- each step on its own


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
