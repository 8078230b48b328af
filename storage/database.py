"""The database connection, its sessions, and migrations at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.answers import AnsweredQuestions
from storage.questions import UnansweredQuestions

__all__ = ["UNAVAILABLE", "Database"]

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
)
"""What the database raises when it cannot be reached (down, restarting, the network): the
caller may say "try again later", since nothing was stored."""

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x4D616B65  # pg_advisory_lock key: one process migrates at a time


class Database:
    """One engine per process, and the repositories built on it."""

    def __init__(self, url: str) -> None:
        """Connect lazily to ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``)."""
        self.url = url
        sqlite = url.startswith("sqlite")
        # A pooled connection to a local SQLite file cannot go stale; pinging it on every
        # checkout only costs round trips to aiosqlite's thread. PostgreSQL keeps the ping.
        options: dict[str, Any] = {"pool_pre_ping": not sqlite}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self.write_lock: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if sqlite else contextlib.nullcontext()
        )
        """Held around a write transaction that may take a while (a message being handled).

        SQLite lets one connection write at a time and makes the others retry with growing
        sleeps (``busy_timeout``), so sixteen messages at once wait far longer than needed and
        can give up with "database is locked". Queuing them here first makes them take turns
        as soon as the writer is done. PostgreSQL locks rows, not the database: no lock.
        """
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.unanswered = UnansweredQuestions(self.sessions)
        self.answered = AnsweredQuestions(self.sessions)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction, committed on success, taking turns on SQLite."""
        async with self.write_lock, self.sessions.begin() as session:
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (safe with several processes)."""
        async with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade)

    async def ping(self, seconds: float = 2.0) -> bool:
        """Whether the database answers within ``seconds``."""
        try:
            async with asyncio.timeout(seconds), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; the busy timeout waits out a writer.
    # synchronous=NORMAL is the usual setting with WAL: a commit no longer waits for fsync, the
    # WAL is synced at checkpoints. The database stays consistent after any crash; only a power
    # loss or OS crash can undo the last few commits (an application crash cannot).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
