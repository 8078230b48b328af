"""SQLite's writer: units committed together, each on its own savepoint, in turn with the ORM."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import outbox
from storage.database import Database
from storage.models import InboundKey
from storage.writer import Writer, stored_time

T0 = datetime(2026, 11, 23, 9, 30, 1, 250, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    migrated = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrated.migrate()
    try:
        yield migrated
    finally:
        await migrated.close()


@pytest.fixture
async def writer(database: Database) -> AsyncIterator[Writer]:
    assert database.file is not None
    running = Writer(database.file, database.write_lock)
    try:
        yield running
    finally:
        await running.close()


def _key(key: str, at: datetime = T0) -> Callable[[sqlite3.Connection], str]:
    def unit(connection: sqlite3.Connection) -> str:
        connection.execute(
            "INSERT INTO inbound_keys (key, received_at) VALUES (?, ?)", (key, stored_time(at))
        )
        return key

    return unit


async def _keys(database: Database) -> list[tuple[str, datetime]]:
    async with database.sessions() as session:
        found = await session.execute(
            select(InboundKey.key, InboundKey.received_at).order_by(InboundKey.key)
        )
        return [(key, at) for key, at in found]


async def test_units_queued_together_commit_together(database: Database, writer: Writer) -> None:
    keys = [f"k{n:03}" for n in range(200)]
    done = await asyncio.gather(*(writer.run(_key(key)) for key in keys))
    assert done == keys
    assert writer.units == 200
    assert writer.batches < 10  # the first alone, then whatever queued while it committed
    # Stored as the ORM stores a time: it reads them back as the same instant, in UTC.
    assert await _keys(database) == [(key, T0.astimezone(UTC)) for key in keys]


async def test_a_failing_unit_is_undone_alone_and_its_caller_told(
    database: Database, writer: Writer
) -> None:
    def twice(connection: sqlite3.Connection) -> None:
        _key("b")(connection)
        _key("a")(connection)  # "a" is taken: this unit fails

    results = await asyncio.gather(
        writer.run(_key("a")),
        writer.run(twice),
        writer.run(_key("c")),
        return_exceptions=True,
    )
    assert results[0] == "a"
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert results[2] == "c"
    assert [key for key, _ in await _keys(database)] == ["a", "c"]  # "b" went with its unit


async def test_the_writer_and_the_orm_take_turns(database: Database, writer: Writer) -> None:
    async def orm(key: str) -> None:
        async with database.transaction() as session:
            assert await outbox.claim_inbound(session, key, T0)
            await asyncio.sleep(0)  # hold the transaction while the writer's units queue

    await asyncio.gather(
        *(orm(f"orm{n}") for n in range(20)),
        *(writer.run(_key(f"unit{n}")) for n in range(20)),
    )
    assert len(await _keys(database)) == 40


async def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        stored_time(datetime(2026, 11, 23, 9, 30))  # noqa: DTZ001
