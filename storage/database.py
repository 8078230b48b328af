"""The database connection, its sessions, and migrations at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

__all__ = [
    "MIGRATING",
    "SERVING",
    "UNAVAILABLE",
    "UNHURRIED",
    "Database",
    "Lease",
    "Limits",
    "Unavailable",
    "connect_options",
    "sqlite_pragmas",
]


class Unavailable(OperationalError):
    """The database cannot do it for now: stalled, restarting, cut off, or out of room.

    Raised in place of a driver error that means "try again later" rather than "this statement
    is wrong", which SQLAlchemy would otherwise raise as a plain ``DBAPIError``: a statement
    PostgreSQL cancelled at ``statement_timeout`` (a stall, or a lock held too long), a session
    the server ended or lost, too many connections, a full disk. The driver's error is ``orig``.
    """


_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08: the connection failed, or was lost under us
    asyncpg.InsufficientResourcesError,  # 53: disk full, out of memory, too many connections
    asyncpg.OperatorInterventionError,  # 57: statement_timeout, shutting down, starting up
    asyncpg.PostgresSystemError,  # 58: the server's own I/O failed
    asyncpg.exceptions.LockNotAvailableError,  # 55P03: lock_timeout
    asyncpg.exceptions.DeadlockDetectedError,  # 40P01: the other transaction went ahead
    asyncpg.exceptions.SerializationError,  # 40001: likewise
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,  # 25P03: the session was ended
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006: a standby, during a failover
)
"""asyncpg's errors that mean the database cannot serve now, whatever the statement."""

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,  # SQLite's "database is locked" and "disk is full"; Unavailable
    InterfaceError,
    PoolTimeout,  # every pooled connection stayed busy past Limits.checkout
    OSError,  # refused, reset, unreachable: the network
    TimeoutError,  # no answer within Limits.connect or Limits.command, or a caller's own limit
    *_OUTAGES,  # read with asyncpg directly (the quarterly report), not through SQLAlchemy
)
"""What the database raises when it cannot serve now (down, restarting, stalled, full, the
network): the caller may say "try again later", since nothing was stored."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """How long the bot waits on PostgreSQL before it counts the database as unavailable.

    Seconds; ``None`` waits as long as it takes. SQLite has none of these: it waits out another
    writer for ``busy_timeout`` (5 s) and otherwise answers from the local disk.

    Attributes:
        connect: To open a connection (TCP, TLS, authentication): asyncpg's ``timeout``.
        checkout: For a pooled connection when every one is in use (``pool_timeout``).
        statement: PostgreSQL's ``statement_timeout``, lock waits included: the server
            cancels the statement and the caller gets :class:`Unavailable`.
        command: How long asyncpg waits for any answer from the server (``command_timeout``).
            Longer than ``statement``, so that a server that is merely slow cancels the
            statement itself and the connection stays usable; reached only when the server or
            the network is stalled.
        idle_in_transaction: PostgreSQL's ``idle_in_transaction_session_timeout``: a client
            cut off in the middle of a transaction must not hold its row locks for long.
    """

    connect: float | None
    checkout: float | None
    statement: float | None
    command: float | None
    idle_in_transaction: float | None


SERVING = Limits(connect=5, checkout=5, statement=10, command=15, idle_in_transaction=60)
"""For the bot serving people: every statement of a message or a page takes milliseconds, so
ten seconds means the database is stalled or a lock is stuck, and the person is better told to
try again (the web chat, the console) or asked again by the platform (Telegram, WeChat)."""
UNHURRIED = Limits(connect=5, checkout=30, statement=600, command=610, idle_in_transaction=600)
"""For the quarterly report and the admins' tools, whose queries read whole tables: ten
minutes, still a bound for a stall."""
MIGRATING = Limits(connect=5, checkout=None, statement=None, command=None, idle_in_transaction=None)
"""For migrations: a schema change may rewrite a table, and waiting for another process's
migration to finish is the point of the migration lock."""
CLOSE_LIMIT = 1.5
"""Seconds :meth:`Database.close` gives connections to close politely before cutting them."""

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

    def __init__(self, url: str, limits: Limits = SERVING) -> None:
        """Connect lazily to ``url`` (``sqlite+aiosqlite://…`` or ``postgresql+asyncpg://…``).

        Args:
            url: The database.
            limits: How long to wait on PostgreSQL (see :class:`Limits`).
        """
        self.url = url
        self.limits = limits
        sqlite = url.startswith("sqlite")
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        """The driver's connections open now (PostgreSQL), for :meth:`interrupt`."""
        self.engine: AsyncEngine = self._engine(limits)
        self._unhurried: AsyncEngine | None = None
        self.write_lock: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if sqlite else contextlib.nullcontext()
        )
        """Held around a write transaction that may take a while (a message being handled).

        SQLite lets one connection write at a time and makes the others retry with growing
        sleeps (``busy_timeout``), so sixteen messages at once wait far longer than needed and
        can give up with "database is locked". Queuing them here first makes them take turns
        as soon as the writer is done. PostgreSQL locks rows, not the database: no lock.
        """
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction, committed on success, taking turns on SQLite."""
        async with self.write_lock, self.sessions.begin() as session:
            yield session

    @property
    def file(self) -> Path | None:
        """The SQLite database's file; ``None`` for PostgreSQL or an in-memory database."""
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    @contextlib.asynccontextmanager
    async def unhurried(self) -> AsyncIterator[AsyncSession]:
        """A session for long reads (the quarterly report), under :data:`UNHURRIED` limits.

        On PostgreSQL it runs on a connection of its own, opened for it and closed after:
        reports are rare, and the serving pool's connections keep their short limits.
        """
        if self.engine.dialect.name != "postgresql":
            async with self.sessions() as session:
                yield session
            return
        if self._unhurried is None:
            self._unhurried = self._engine(UNHURRIED, pooled=False)
        async with AsyncSession(self._unhurried, expire_on_commit=False) as session:
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (safe with several processes).

        On PostgreSQL the migration runs on a connection of its own without the serving
        limits (:data:`MIGRATING`): it may wait for another process's migration, and a
        migration may rewrite a large table.
        """
        postgresql = self.engine.dialect.name == "postgresql"
        engine = _engine(self.url, MIGRATING, pooled=False) if postgresql else self.engine
        try:
            async with engine.begin() as connection:
                if postgresql:
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK}
                    )
                await connection.run_sync(_upgrade)
        finally:
            if engine is not self.engine:
                await engine.dispose()

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

    def track(self, connection: Any) -> None:
        """Count an asyncpg ``connection`` of its own (a writer's) among those to cut."""
        self._connections.add(connection)

    def interrupt(self) -> int:
        """Cut every connection to PostgreSQL now, in use or not; how many were cut.

        For a shutdown that cannot wait any longer for a stalled server: whatever waits on a
        connection fails at once, as if the network had gone (:data:`UNAVAILABLE`), rather
        than wait for an answer or a polite goodbye. A transaction cut short is rolled back by
        the server. SQLite's connections are to a local file: nothing to cut.
        """
        cut = 0
        for driver in list(self._connections):
            if not driver.is_closed():
                driver.terminate()
                cut += 1
        return cut

    async def close(self, within: float = CLOSE_LIMIT) -> None:
        """Close every pooled connection; if that takes longer than ``within``, cut them all.

        A stalled server never acknowledges the goodbye, and a process shutting down must not
        wait for it.
        """
        engines = [self.engine] if self._unhurried is None else [self.engine, self._unhurried]
        for engine in engines:
            try:
                async with asyncio.timeout(within):
                    await engine.dispose()
            except TimeoutError:
                log.warning("database connections did not close within %s s; cut", within)
                self.interrupt()
                await engine.dispose(close=False)

    def _engine(self, limits: Limits, *, pooled: bool = True) -> AsyncEngine:
        """An engine on this database whose PostgreSQL connections :meth:`interrupt` can cut."""
        engine = _engine(self.url, limits, pooled=pooled)
        if engine.dialect.name == "postgresql":
            event.listen(engine.sync_engine, "connect", self._opened)
        return engine

    def _opened(self, dbapi_connection: Any, _record: Any) -> None:
        self.track(dbapi_connection.driver_connection)


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


def _engine(url: str, limits: Limits, *, pooled: bool = True) -> AsyncEngine:
    """An engine on ``url``; on PostgreSQL, with ``limits`` on every wait.

    Args:
        url: The database.
        limits: How long to wait on PostgreSQL.
        pooled: Keep connections for reuse; otherwise each session opens its own.
    """
    options: dict[str, Any] = {}
    if not pooled:
        options["poolclass"] = NullPool
    if make_url(url).get_backend_name() == "postgresql":
        options["connect_args"] = connect_options(limits)
        # A restart or a stall ends PostgreSQL's connections: each is pinged at checkout. A
        # local SQLite file's cannot go stale; pinging it would only cost round trips to
        # aiosqlite's thread.
        options["pool_pre_ping"] = True
        if pooled and limits.checkout is not None:
            options["pool_timeout"] = limits.checkout
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    event.listen(engine.sync_engine, "handle_error", _unavailable)
    return engine


def connect_options(limits: Limits) -> dict[str, Any]:
    """The options of ``asyncpg.connect`` that hold a connection to ``limits``."""
    settings = {
        "statement_timeout": _milliseconds(limits.statement),
        "idle_in_transaction_session_timeout": _milliseconds(limits.idle_in_transaction),
    }
    return {
        "timeout": limits.connect,
        "command_timeout": limits.command,
        "server_settings": settings,
    }


def _milliseconds(seconds: float | None) -> str:
    """A PostgreSQL duration setting: ``0`` turns the limit off."""
    return str(round(seconds * 1000)) if seconds is not None else "0"


def _unavailable(context: ExceptionContext) -> BaseException | None:
    """Raise a driver error that means "try again later" as :class:`Unavailable`.

    SQLAlchemy raises asyncpg's errors as a plain ``DBAPIError`` unless it knows them as
    operational, so a cancelled statement or a lost session would look like a bug in ours.
    """
    error = context.sqlalchemy_exception
    if not isinstance(error, DBAPIError) or isinstance(error, OperationalError | InterfaceError):
        return None
    original = context.original_exception
    if not (context.is_disconnect or isinstance(original.__cause__, _OUTAGES)):
        return None
    return Unavailable(
        error.statement,
        error.params,
        original,
        hide_parameters=error.hide_parameters,
        connection_invalidated=context.is_disconnect,
        ismulti=error.ismulti,
    )


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(config, "head")
    after = MigrationContext.configure(connection).get_current_revision()
    # Alembic's own lines are kept quiet (bot.logs.QUIET): this one says what changed, if anything.
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "empty", after)


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """Set up a new SQLite connection: WAL, ``synchronous=NORMAL``, foreign keys, 5 s busy wait."""
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
