"""The database connection, its sessions, and migrations at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.answers import AnsweredQuestions
from storage.questions import UnansweredQuestions

__all__ = ["UNAVAILABLE", "Database", "Lease"]

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
LOCK_RETRY = 2.0
"""Seconds between tries for a lock another process holds (:meth:`Database.leadership`)."""
LOCK_CHECK = 5.0
"""Seconds a check that a lock is still held may take before it counts as lost."""
_HELD = text(
    "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid::bigint = :high AND objid::bigint = :low"
    " AND objsubid = 1)"
)


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

    @contextlib.asynccontextmanager
    async def leadership(
        self,
        name: str,
        *,
        retry: float = LOCK_RETRY,
        on_wait: Callable[[], object] | None = None,
    ) -> AsyncIterator[Lease]:
        """Wait until this process holds the lock ``name`` among all processes, and hold it.

        On PostgreSQL the lock is a session-level advisory lock taken on a connection of its
        own, kept out of the pool while held: if the process dies, its connection closes and
        PostgreSQL releases the lock, so another process's next try gets it. On SQLite the
        database lives on one host for one process: the lock is granted at once.

        Waiting is cancellable (cancel the task to give up). The holder should ask
        :meth:`Lease.held` before each piece of work it must not share: a database restart
        ends the lock's connection, and with it the lock, while the holder goes on.

        Args:
            name: What the lock guards, e.g. ``"telegram poller"``; every process must use
                the same name.
            retry: Seconds between tries while another process holds the lock.
            on_wait: Called once if the first try finds the lock taken (to say so in the log).

        Yields:
            The lease, released when the block exits.
        """
        if self.engine.dialect.name != "postgresql":
            yield Lease(None, 0, asyncio.Event())
            return
        key = _lock_key(name)
        told = failing = False
        while True:
            try:
                connection = await self._try_lock(key)
            except UNAVAILABLE:
                if not failing:
                    log.warning("database unreachable; cannot try the lock %r yet", name)
                failing = True
            else:
                failing = False
                if connection is not None:
                    break
                if on_wait is not None and not told:
                    on_wait()
                told = True
            await asyncio.sleep(retry)
        ended = asyncio.Event()
        try:
            await _when_closed(connection, ended.set)
            yield Lease(connection, key, ended)
        finally:
            await _discard(connection)

    async def _try_lock(self, key: int) -> AsyncConnection | None:
        """A connection holding the advisory lock ``key``, or ``None`` if another holds it."""
        connection = await self.engine.connect()
        try:
            # Autocommit: a session lock needs no transaction, and a transaction left open for
            # hours would be ended by idle_in_transaction_session_timeout, taking the lock along.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
        except BaseException:
            # Cancelled or failed mid-call: the lock may have been granted all the same. Closing
            # the session is the one way to be sure no pooled connection keeps it.
            await _discard(connection)
            raise
        if got:
            return connection
        await connection.close()
        return None

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class Lease:
    """A lock held by :meth:`Database.leadership`, for as long as its block runs."""

    def __init__(self, connection: AsyncConnection | None, key: int, ended: asyncio.Event) -> None:
        """A lease on the lock ``key`` held by ``connection``, whose closing sets ``ended``.

        ``connection`` is ``None`` for a lock nobody else can contend for (SQLite).
        """
        self._connection = connection
        self._key = key
        self._ended = ended

    async def held(self) -> bool:
        """Whether the lock is still ours: its session is alive and PostgreSQL lists the lock.

        Asking PostgreSQL, rather than merely whether the connection answers, also catches a
        connection that was silently replaced by a new session, which holds nothing.
        """
        if self._connection is None:
            return True
        if self._ended.is_set():
            return False
        try:
            async with asyncio.timeout(LOCK_CHECK):
                found = await self._connection.scalar(
                    _HELD, {"high": (self._key >> 32) & 0xFFFFFFFF, "low": self._key & 0xFFFFFFFF}
                )
        except Exception:
            log.warning("lost a lock: its database connection failed", exc_info=True)
            self._ended.set()
            return False
        if not found:
            self._ended.set()
        return bool(found)

    async def lost(self) -> None:
        """Return once the lock is known to be lost (never, on SQLite).

        That is when its connection closes, or when :meth:`held` found it gone. Cheap to wait
        on beside other work: it sends no query.
        """
        await self._ended.wait()


def _lock_key(name: str) -> int:
    """The advisory lock key for ``name``: the same in every process and every release."""
    return int.from_bytes(hashlib.sha256(f"makerdesk:{name}".encode()).digest()[:8], signed=True)


async def _when_closed(connection: AsyncConnection, callback: Callable[[], object]) -> None:
    """Call ``callback`` as soon as the server ends ``connection``'s session.

    asyncpg notices at once when a restart or an administrator's ``pg_terminate_backend``
    closes the socket, long before a query of ours would. Other drivers go without: the
    holder's :meth:`Lease.held` still finds out before its next piece of work.
    """
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is not None and hasattr(driver, "add_termination_listener"):
        driver.add_termination_listener(lambda _driver: callback())


async def _discard(connection: AsyncConnection) -> None:
    """Close ``connection``'s session for good, which releases every lock it holds.

    The connection is not returned to the pool: a pooled session still holding the lock would
    keep every other process waiting while this one no longer does the work.
    """
    try:
        await connection.invalidate()
        await connection.close()
    except Exception:
        log.warning("closing a lock's connection failed", exc_info=True)


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
