"""Unanswered questions are kept for the admins, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import Database
from storage.models import Base

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=8)))


async def test_unanswered_questions_are_counted(database: Database) -> None:
    for minutes, text in [(0, "能报销路费吗"), (5, "能报销路费吗"), (9, "食堂在哪")]:
        await database.unanswered.record(
            asked_at=T0 + timedelta(minutes=minutes),
            channel="web",
            text=text,
            band="none",
            best_faq_id=None,
            best_score=0.0,
        )
    rows = await database.unanswered.summary()
    assert [(r.text, r.count) for r in rows] == [("能报销路费吗", 2), ("食堂在哪", 1)]
    assert rows[0].last_asked_at == datetime(2026, 11, 23, 1, 35, tzinfo=UTC)
    assert rows[0].last_asked_at.tzinfo is not None
    later = await database.unanswered.summary(since=T0 + timedelta(minutes=6))
    assert [r.text for r in later] == ["食堂在哪"]


async def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await database.unanswered.record(
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
