"""Unanswered questions and rated answers are kept for the admins, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from storage import Database
from storage.answers import (
    Rating,
    RatingOutcome,
    RatingSummary,
    rate_answer,
    ratings,
    record_answer,
)
from storage.database import MIGRATIONS
from storage.models import Base, MadeFile, MadeFileStatus, OutboxMessage, OutboxStatus
from storage.questions import UnansweredSummary, record_unanswered, unanswered_summary

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=8)))


async def _record(database: Database, **question: Any) -> None:
    """Keep one unanswered question, in a transaction of its own, as the FAQ handler does."""
    async with database.transaction() as session:
        await record_unanswered(session, **question)


async def _summary(database: Database, **wanted: Any) -> list[UnansweredSummary]:
    async with database.sessions() as session:
        return await unanswered_summary(session, **wanted)


async def _ratings(database: Database, **wanted: Any) -> list[RatingSummary]:
    async with database.sessions() as session:
        return await ratings(session, **wanted)


async def test_unanswered_questions_are_counted(database: Database) -> None:
    for minutes, text in [(0, "能报销路费吗"), (5, "能报销路费吗"), (9, "食堂在哪")]:
        await _record(
            database,
            asked_at=T0 + timedelta(minutes=minutes),
            channel="web",
            text=text,
            band="none",
            best_faq_id=None,
            best_score=0.0,
        )
    rows = await _summary(database)
    assert [(r.text, r.count) for r in rows] == [("能报销路费吗", 2), ("食堂在哪", 1)]
    assert rows[0].last_asked_at == datetime(2026, 11, 23, 1, 35, tzinfo=UTC)
    assert rows[0].last_asked_at.tzinfo is not None
    later = await _summary(database, since=T0 + timedelta(minutes=6))
    assert [r.text for r in later] == ["食堂在哪"]


async def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await _record(
            database,
            asked_at=datetime(2026, 11, 23),  # noqa: DTZ001 - the point of the test
            channel="web",
            text="x",
            band="none",
            best_faq_id=None,
            best_score=0.0,
        )


async def test_migrating_twice_is_harmless(database: Database) -> None:
    await database.migrate()
    assert await database.ping()


async def test_the_migrations_build_exactly_the_tables_the_models_describe(
    database: Database,
) -> None:
    """A model changed without a migration (or the reverse) fails here, not in production."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []


async def test_ratings_are_summed_per_question_and_entry_most_thumbs_down_first(
    database: Database,
) -> None:
    pressed = [
        ("服务专员多久回复", "reply-deadline", [Rating.DOWN, Rating.UP, Rating.DOWN]),
        ("服务小组几个人", "group-size", [Rating.UP, Rating.UP, None]),
        ("服务专员多久回复", "onsite-days", [Rating.DOWN]),
    ]
    async with database.transaction() as session:
        for n, (text, faq_id, ratings) in enumerate(pressed):
            for rating in ratings:
                at = T0 + timedelta(minutes=n)
                answer = await record_answer(
                    session,
                    answered_at=at,
                    channel="web",
                    chat_id="c1",
                    text=text,
                    faq_id=faq_id,
                    score=80.0,
                )
                if rating is not None:
                    rated = await rate_answer(
                        session, answer, channel="web", chat_id="c1", rating=rating, at=at
                    )
                    assert rated is RatingOutcome.RATED
    rows = await _ratings(database)
    assert [(r.text, r.faq_id, r.down, r.up) for r in rows] == [
        ("服务专员多久回复", "reply-deadline", 2, 1),
        ("服务专员多久回复", "onsite-days", 1, 0),
        ("服务小组几个人", "group-size", 0, 2),
    ]
    assert rows[0].last_answered_at == T0.astimezone(UTC)
    later = await _ratings(database, since=T0 + timedelta(minutes=1))
    assert [(r.faq_id, r.down, r.up) for r in later] == [
        ("onsite-days", 1, 0),
        ("group-size", 0, 2),
    ]
    assert [r.faq_id for r in await _ratings(database, limit=1)] == ["reply-deadline"]


async def test_a_rating_needs_the_answers_own_chat_and_a_known_answer(database: Database) -> None:
    async with database.transaction() as session:
        answer = await record_answer(
            session,
            answered_at=T0,
            channel="wechat",
            chat_id="oA",
            text="服务专员多久回复",
            faq_id="reply-deadline",
            score=None,
            picked=True,
        )
    async with database.transaction() as session:
        assert (
            await rate_answer(
                session, answer, channel="wechat", chat_id="oB", rating=Rating.DOWN, at=T0
            )
            is RatingOutcome.NOT_YOURS
        )
        assert (
            await rate_answer(
                session, answer, channel="web", chat_id="oA", rating=Rating.DOWN, at=T0
            )
            is RatingOutcome.NOT_YOURS
        )
        for unknown in (answer + 1, 0, 2**31, 10**12):
            assert (
                await rate_answer(
                    session, unknown, channel="wechat", chat_id="oA", rating=Rating.UP, at=T0
                )
                is RatingOutcome.UNKNOWN
            )
    assert await _ratings(database) == []


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


async def test_replies_stored_as_sent_at_once_become_handed_back(database_url: str) -> None:
    """Before ``handed_back`` a reply that went back in the HTTP response was ``sent`` with no
    attempt, at the moment it was written; the migration says so, and only of those rows."""
    later = T0 + timedelta(seconds=3)
    rows = {
        1: ("sent", 0, "web:e1:1", T0),  # handed back in the response
        2: ("sent", 1, "web:e1:1", T0),  # pushed by the sender
        3: ("sent", 0, "web:e2:2", later),  # fetched by the web chat's page
        4: ("sent", 0, None, T0),  # answers no message
        5: ("pending", 0, "telegram:7", None),
        6: ("failed", 0, "telegram:7", None),
    }
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            # From the same place on every database: a PostgreSQL test's comes migrated.
            await connection.run_sync(_migrate, "head")
            await connection.run_sync(_migrate, "0008", down=True)
            await connection.execute(
                OutboxMessage.__table__.insert(),
                [
                    {
                        "id": row_id,
                        "channel": "web",
                        "chat_id": "e1",
                        "payload": {"text": "x"},
                        "created_at": T0,
                        "inbound_key": key,
                        "status": status,
                        "attempts": attempts,
                        "next_attempt_at": T0,
                        "sent_at": sent_at,
                    }
                    for row_id, (status, attempts, key, sent_at) in rows.items()
                ],
            )

        async def statuses() -> dict[int, OutboxStatus]:
            async with database.sessions() as session:
                found = await session.execute(select(OutboxMessage.id, OutboxMessage.status))
                return {row_id: status for row_id, status in found.all()}

        await database.migrate()
        assert await statuses() == {
            1: OutboxStatus.HANDED_BACK,
            2: OutboxStatus.SENT,
            3: OutboxStatus.SENT,
            4: OutboxStatus.SENT,
            5: OutboxStatus.PENDING,
            6: OutboxStatus.FAILED,
        }
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, "0008", down=True)
        assert await statuses() == {row_id: row[0] for row_id, row in rows.items()}
    finally:
        await database.close()


async def test_a_report_queued_before_upgrading_gets_its_job_and_waits(database_url: str) -> None:
    """Before made files were jobs, a pending message named its report and the sender made it;
    the migration orders that file, so the upgraded sender does not find a file missing."""
    report = {"kind": "document", "name": None, "size": None, "channel": None, "ref": None}
    payloads = {
        1: {"text": "📑 2026Q4", "attachments": [{**report, "made": "report:2026Q4:pdf:"}]},
        2: {"text": "好的，正在生成", "made": "no attachment says so"},
        3: {"text": "📑 sent already", "attachments": [{**report, "made": "report:2026Q3:csv:"}]},
    }
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, "head")
            await connection.run_sync(_migrate, "0009", down=True)
            await connection.execute(
                OutboxMessage.__table__.insert(),
                [
                    {
                        "id": row_id,
                        "channel": "telegram",
                        "chat_id": "9001",
                        "payload": payload,
                        "created_at": T0,
                        "status": "sent" if row_id == 3 else "pending",
                        "attempts": 0,
                        "next_attempt_at": T0,
                    }
                    for row_id, payload in payloads.items()
                ],
            )
        await database.migrate()
        async with database.sessions() as session:
            found = await session.execute(select(OutboxMessage.id, OutboxMessage.status))
            assert {row_id: status for row_id, status in found} == {
                1: OutboxStatus.WAITING,
                2: OutboxStatus.PENDING,
                3: OutboxStatus.SENT,
            }
            jobs = (await session.execute(select(MadeFile))).scalars().all()
            assert [
                (j.outbox_id, j.position, j.spec, j.status, j.next_attempt_at) for j in jobs
            ] == [(1, 0, "report:2026Q4:pdf:", MadeFileStatus.QUEUED, T0)]
        async with database.engine.begin() as connection:
            await connection.run_sync(_migrate, "0009", down=True)
        async with database.sessions() as session:
            found = await session.execute(select(OutboxMessage.id, OutboxMessage.status))
            assert {row_id: status for row_id, status in found} == {
                1: OutboxStatus.PENDING,
                2: OutboxStatus.PENDING,
                3: OutboxStatus.SENT,
            }
    finally:
        await database.close()
