"""PostgreSQL's writer: questions kept in batches, a bad one alone failing, outages and recovery.

The writer is driven directly with questions as the quick lane prepares them; its rows are read
back through the ORM, which must find them as it stores them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from storage.answers import AnswerRow
from storage.database import SERVING, Database, Unavailable
from storage.models import (
    AnsweredQuestion,
    Conversation,
    InboundKey,
    OutboxMessage,
    OutboxStatus,
    UnansweredQuestion,
)
from storage.pg_writer import PgWriter, Question, Queued, SpokenFor
from storage.questions import GapRow
from storage.quick import StoredReply
from tests.support.databases import scratch_postgres
from tests.support.tcp_proxy import FaultProxy

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 23, 9, 30, 1, 250, tzinfo=timezone(timedelta(hours=8)))
BRIEF = replace(SERVING, connect=2, statement=1, command=1.5)
"""Limits short enough for a stalled server to be found out within the test."""


@pytest.fixture
async def url(postgres_server: str) -> AsyncIterator[str]:
    async with scratch_postgres(postgres_server, migrated=True) as scratch:
        yield scratch


@contextlib.asynccontextmanager
async def _writing(url: str) -> AsyncIterator[tuple[Database, PgWriter]]:
    database = Database(url, BRIEF)
    writer = PgWriter(database)
    try:
        yield database, writer
    finally:
        await writer.close()
        await database.close()


def _question(
    key: str,
    *,
    user: str | None = None,
    chat_id: str | None = None,
    answered: bool = True,
    fails: bool = False,
) -> Question[int | None]:
    """``key``'s question: answered (or kept as a gap), one reply naming the kept row."""
    chat = chat_id or f"chat-{key}"

    def replies(kept: int | None) -> tuple[Sequence[Queued], int | None]:
        if fails:
            raise LookupError(key)
        payload: dict[str, object] = {"text": f"{key} → {kept}"}
        return [Queued("telegram", chat, payload, True), Queued("telegram", chat, {}, False)], kept

    answer: AnswerRow = {
        "answered_at": T0,
        "channel": "telegram",
        "chat_id": chat,
        "text": f"question {key}",
        "faq_id": "reply-deadline",
        "score": 0.9,
    }
    gap: GapRow = {
        "asked_at": T0,
        "channel": "telegram",
        "chat_id": chat,
        "text": f"question {key}",
        "band": "none",
        "best_faq_id": None,
        "best_score": 0.0,
    }
    return Question(
        key,
        T0,
        "telegram",
        user or f"user-{key}",
        answer if answered else None,
        None if answered else gap,
        replies,
    )


async def _rows(database: Database, *columns: Any) -> list[tuple[Any, ...]]:
    async with database.sessions() as session:
        return [tuple(row) for row in await session.execute(select(*columns).order_by(columns[0]))]


async def test_questions_queued_together_are_kept_in_few_transactions(url: str) -> None:
    async with _writing(url) as (database, writer):
        keys = [f"k{n:03}" for n in range(200)]
        questions = [_question(key, answered=n % 4 != 0) for n, key in enumerate(keys)]
        kept = await asyncio.gather(*(writer.run(q) for q in questions))
        assert writer.units == 200
        assert writer.batches < 10  # the first alone, then whatever queued while it committed
        answers = dict(await _rows(database, AnsweredQuestion.id, AnsweredQuestion.text))
        gaps = dict(await _rows(database, UnansweredQuestion.id, UnansweredQuestion.text))
        # Each question got the id of its own row: ids come back in the batch's order.
        for n, (key, row) in enumerate(zip(keys, kept, strict=True)):
            assert (gaps if n % 4 == 0 else answers)[row] == f"question {key}"
        assert len(answers) == 150
        assert len(gaps) == 50
        # Stored as the ORM stores a time: it reads them back as the same instant, in UTC.
        claimed = await _rows(database, InboundKey.key, InboundKey.received_at)
        assert claimed == [(key, T0.astimezone(UTC)) for key in keys]
        (answered_at,) = {at for (at,) in await _rows(database, AnsweredQuestion.answered_at)}
        assert answered_at == T0
        outbox = await _rows(
            database,
            OutboxMessage.id,
            OutboxMessage.inbound_key,
            OutboxMessage.chat_id,
            OutboxMessage.payload,
            OutboxMessage.status,
            OutboxMessage.created_at,
            OutboxMessage.next_attempt_at,
            OutboxMessage.sent_at,
            OutboxMessage.attempts,
        )
        expected = []
        for key, row in zip(keys, kept, strict=True):
            chat = f"chat-{key}"
            back = {"text": f"{key} → {row}"}
            expected += [
                (key, chat, back, OutboxStatus.HANDED_BACK, T0, T0, T0, 0),
                (key, chat, {}, OutboxStatus.PENDING, T0, T0, None, 0),
            ]
        assert [r[1:] for r in outbox] == expected


async def test_two_writers_at_once_each_get_their_own_rows_ids(url: str) -> None:
    """Two processes' batches draw ids from one sequence, interleaved."""
    async with _writing(url) as (database, one), _writing(url) as (_, two):
        keys = [f"k{n:03}" for n in range(200)]
        writers = [one, two] * 100
        kept = await asyncio.gather(
            *(w.run(_question(k)) for w, k in zip(writers, keys, strict=True))
        )
        answers = dict(await _rows(database, AnsweredQuestion.id, AnsweredQuestion.text))
        assert [answers[row] for row in kept] == [f"question {key}" for key in keys]


async def test_a_failing_question_fails_alone_and_its_caller_is_told(url: str) -> None:
    async with _writing(url) as (database, writer):
        outcomes = await asyncio.gather(
            writer.run(_question("a")),
            writer.run(_question("long", chat_id="x" * 129)),  # the column holds 128
            writer.run(_question("b")),
            writer.run(_question("raises", fails=True)),
            writer.run(_question("c", answered=False)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], Exception)
        assert "too long" in str(outcomes[1])
        assert isinstance(outcomes[3], LookupError)
        assert [isinstance(outcome, int) for outcome in outcomes] == [1, 0, 1, 0, 1]
        # Nothing of the failed ones: their keys stay free for a redelivery.
        assert await _rows(database, InboundKey.key) == [("a",), ("b",), ("c",)]
        assert [t for (t,) in await _rows(database, AnsweredQuestion.text)] == [
            "question a",
            "question b",
        ]
        assert len(await _rows(database, OutboxMessage.id)) == 6
        assert writer.batches == 3  # the batch failed: its five again one by one, three kept
        # And the writer goes on as before.
        assert isinstance(await writer.run(_question("d")), int)


async def test_the_same_key_twice_in_a_batch_is_answered_once(url: str) -> None:
    async with _writing(url) as (database, writer):
        first, again, other = await asyncio.gather(
            writer.run(_question("k")), writer.run(_question("k")), writer.run(_question("m"))
        )
        assert isinstance(first, int)
        assert again == [
            StoredReply("telegram", "chat-k", {"text": f"k → {first}"}, OutboxStatus.HANDED_BACK),
            StoredReply("telegram", "chat-k", {}, OutboxStatus.PENDING),
        ]
        assert isinstance(other, int)
        assert len(await _rows(database, AnsweredQuestion.id)) == 2
        assert len(await _rows(database, OutboxMessage.id)) == 4
        # A later redelivery gets the same.
        assert await writer.run(_question("k")) == again


async def test_a_spoken_for_asker_is_left_to_the_full_path(url: str) -> None:
    async with _writing(url) as (database, writer):
        async with database.transaction() as session:
            session.add(
                Conversation(
                    channel="telegram",
                    user_id="busy",
                    kind="intake",
                    step="category",
                    data={},
                    updated_at=T0,
                )
            )
        outcomes = await asyncio.gather(
            writer.run(_question("a")),
            writer.run(_question("b", user="busy")),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], int)
        assert isinstance(outcomes[1], SpokenFor)
        assert await _rows(database, InboundKey.key) == [("a",)]  # "b" is not claimed


@pytest.mark.parametrize(
    ("fault", "heal"),
    [(FaultProxy.refuse, FaultProxy.forward), (FaultProxy.blackhole, FaultProxy.forward)],
    ids=["refused", "stalled"],
)
async def test_a_database_gone_is_unavailable_and_the_writer_recovers(
    url: str, fault: Callable[[FaultProxy], None], heal: Callable[[FaultProxy], None]
) -> None:
    host, name = url.rsplit("/", 1)
    port = int(host.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        through = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}"
        async with _writing(through) as (database, writer):
            assert isinstance(await writer.run(_question("before")), int)
            fault(proxy)
            outcomes = await asyncio.gather(
                *(writer.run(_question(f"during{n}")) for n in range(5)),
                return_exceptions=True,
            )
            assert all(isinstance(outcome, Unavailable) for outcome in outcomes), outcomes
            heal(proxy)
            assert isinstance(await writer.run(_question("after")), int)
            keys = [key for (key,) in await _rows(database, InboundKey.key)]
            assert keys == ["after", "before"]  # nothing of those told to try again


async def test_closing_a_writer_on_a_stalled_server_tells_its_callers_to_try_again(
    url: str,
) -> None:
    host, name = url.rsplit("/", 1)
    port = int(host.rsplit(":", 1)[1])
    with FaultProxy(port) as proxy:
        through = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}"
        database = Database(through)  # the serving limits: a stall outlasts the close
        writer = PgWriter(database)
        try:
            await writer.run(_question("before"))
            proxy.blackhole()
            waiting = asyncio.ensure_future(writer.run(_question("stalled")))
            held = proxy.held
            while proxy.held == held:  # noqa: ASYNC110 - the proxy's thread counts
                await asyncio.sleep(0.01)
            started = asyncio.get_running_loop().time()
            await writer.close(within=0.2)
            assert asyncio.get_running_loop().time() - started < 2
            with pytest.raises(Unavailable):
                await waiting
            with pytest.raises(Unavailable):
                await writer.run(_question("after"))
        finally:
            proxy.forward()
            await database.close()
