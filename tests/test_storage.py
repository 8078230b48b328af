"""Unanswered questions and rated answers are kept for the admins, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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
from storage.models import Base
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
