"""SQLite's one writer: a thread that owns a write connection and commits what is queued together.

The hot paths (a policy question answered, for now) hand their database work here as a *unit*:
a plain function of a :class:`sqlite3.Connection` that runs its statements and returns what the
caller needs. Units queued while a batch runs form the next batch, committed as one transaction:

- ``BEGIN IMMEDIATE``, then for each unit ``SAVEPOINT`` … ``RELEASE``; a unit that raises is
  rolled back to its savepoint alone and its caller gets the error, the others go on;
- one ``COMMIT`` for the batch, and one wake-up of the event loop for all its callers, each
  answered only after the ``COMMIT`` that holds its work.

One commit per batch instead of one per message, and one thread hop per batch instead of four
per statement (aiosqlite), is what makes a message cheap: the ORM path costs about 2.5 ms of
CPU per answered question, a unit here about 0.1 ms.

The ORM's write transactions in this process take :attr:`storage.database.Database.write_lock`
and so does each batch, so the two take turns as before and SQLite never sees two writers.
Statements are plain SQL in SQLite's dialect; the values are stored exactly as the ORM stores
them (:func:`stored_time`, JSON text), so either side reads what the other wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from storage.database import Unavailable, sqlite_pragmas

__all__ = ["Unit", "Writer", "stored_time", "tell"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], T]
"""Database work for the writer: runs its statements on the connection, returns a result."""

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def stored_time(moment: datetime) -> str:
    """``moment`` as the ORM stores a :class:`storage.models.UtcDateTime` on SQLite (UTC)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


class Writer:
    """The process's one SQLite writer, committing queued units in batches."""

    def __init__(self, path: Path, lock: contextlib.AbstractAsyncContextManager[object]) -> None:
        """Write to the database file ``path``, taking turns with the ORM through ``lock``.

        The connection opens on the writer's thread at the first unit.
        """
        self._path = path
        self._lock = lock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: sqlite3.Connection | None = None
        self._queued: list[tuple[Unit[Any], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.batches = 0
        """Batches committed so far (for the benchmarks' batch-size figure)."""
        self.units = 0
        """Units run so far."""

    async def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next batch; its result once the batch is committed.

        Raises:
            Exception: Whatever ``unit`` raised (its work rolled back, the batch's kept).
            storage.database.Unavailable: The batch could not be committed (the disk is full,
                another process holds the database past the busy timeout); nothing of it
                was stored.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queued.append((unit, future))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush(), name="sqlite-writer")
        return await future

    async def close(self) -> None:
        """Finish what is queued, then close the connection and the thread."""
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                units = [unit for unit, _ in batch]
                try:
                    async with self._lock:
                        outcomes = await loop.run_in_executor(self._thread, self._commit, units)
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                tell([future for _, future in batch], outcomes)
        finally:
            self._flushing = None

    def _commit(self, units: Sequence[Unit[Any]]) -> list[tuple[bool, Any]]:
        """On the writer's thread: one transaction, a savepoint per unit, one commit."""
        connection = self._connect()
        outcomes: list[tuple[bool, Any]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise _unavailable(error) from error
        try:
            for unit in units:
                connection.execute("SAVEPOINT unit")
                try:
                    outcomes.append((True, unit(connection)))
                except Exception as error:
                    connection.execute("ROLLBACK TO unit")
                    outcomes.append((False, error))
                connection.execute("RELEASE unit")
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise _unavailable(error) from error
        self.batches += 1
        self.units += len(units)
        return outcomes

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: the batch's BEGIN and COMMIT are this module's own.
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            sqlite_pragmas(connection)
            self._connection = connection
            log.debug("writer connected on %s", threading.current_thread().name)
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def tell(waiting: Sequence[asyncio.Future[Any]], outcomes: Sequence[tuple[bool, Any]]) -> None:
    """Give each caller waiting on a batch its outcome: ``(True, result)`` or ``(False, error)``."""
    for future, (ok, value) in zip(waiting, outcomes, strict=True):
        if future.done():  # its caller gave up waiting; the work is stored anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _unavailable(error: sqlite3.Error) -> Unavailable:
    """The batch failed as a whole: "try again later", as the ORM path says it."""
    return Unavailable("COMMIT", None, error)
