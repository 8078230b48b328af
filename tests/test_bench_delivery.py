"""The outbox-delivery benchmark runs: `make bench` must not stop at its table, nor flatter.

Quick mode, end to end: the fake Bot API in its own process, the real sender on SQLite (and on
PostgreSQL where the server is there), every message counted at the fake.
"""

from __future__ import annotations

import pytest

from bench import delivery


@pytest.mark.slow
def test_the_quick_delivery_benchmark_delivers_every_message_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = delivery.run(quick=True)
    assert [(r.way, r.database) for r in rows] == [
        (way, database) for _, way in delivery.WAYS for database in ("SQLite", "PostgreSQL")
    ]
    measured = [r for r in rows if r.skipped is None]
    assert {r.database for r in measured} >= {"SQLite"}
    for row in measured:
        assert row.problems == []
        assert row.delivered == row.messages > 0
        assert row.per_s > 0
    delivery.print_table(rows, quick=True)
    table = capsys.readouterr().out
    assert "| OutboxSender → bare HTTP deliverer | SQLite | 500 | 100 | 500 |" in table
