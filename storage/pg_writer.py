"""PostgreSQL's writer: the quick lane's questions kept in batches over one asyncpg connection.

The SQLite writer (:mod:`storage.writer`) runs a unit of plain SQL per message in a savepoint.
On PostgreSQL each statement is a round trip to the server, so this writer works on the whole
batch at once instead (:mod:`storage.pg_quick`): messages queued while a batch runs form the
next batch, and in one transaction it

1. finds which askers are spoken for (a conversation in progress, a request being worked on):
   those messages step aside to the full path, claiming nothing;
2. claims the others' dedup keys; a key found claimed already is a redelivery, answered with
   the replies stored for it;
3. keeps the answers and the questions not answered, and with their ids (the 👍/👎 buttons
   name them) has each message's replies made (:attr:`Question.replies`);
4. adds the replies to the outbox, and commits.

Every caller is answered after the commit that holds its message. A batch whose transaction
fails (a value the database refuses, a reply that cannot go this way) is run again one message
per transaction, so only the bad message fails. A lost connection or a server that does not
answer fails the batch with :class:`~storage.database.Unavailable`, as the ORM path says "try
again later"; the next batch connects afresh.

A key twice in one batch (a redelivery that arrives while its first delivery waits) goes in the
next batch, where it is a redelivery like any other.

There is no process-wide write lock on PostgreSQL, here or on the ORM path: a ``/new`` (full
path) and a plain question of the same account in flight at once may be ordered either way,
and the question may be answered as if the request did not exist yet. The same holds between
two processes, and held before this writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy import make_url

from storage import pg_quick
from storage.answers import AnswerRow
from storage.database import CLOSE_LIMIT, UNAVAILABLE, Database, Unavailable, connect_options
from storage.pg_quick import Queued
from storage.questions import GapRow
from storage.quick import StoredReply
from storage.writer import tell

__all__ = ["PgWriter", "Question", "Queued", "SpokenFor"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_TROUBLE: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.InterfaceError)
"""What means the connection or the server failed, not the batch's statements: the connection
is dropped and the batch's callers told to try again later."""


class SpokenFor(Exception):
    """The asker is in a conversation or has a request being worked on: the full path's."""


@dataclass(frozen=True, slots=True)
class Question(Generic[T]):
    """A plain question prepared on the event loop, for the writer to keep and answer."""

    key: str
    """The message's dedup key."""
    now: datetime
    """When it is handled: the key's time and its replies'."""
    channel: str
    user_id: str
    """The asker's account, checked for being spoken for."""
    answer: AnswerRow | None
    """The answer to keep, if an entry answered the question."""
    gap: GapRow | None
    """The question to keep as not answered, if so."""
    replies: Callable[[int | None], tuple[Sequence[Queued], T]]
    """Given the kept row's id (``None``: nothing was kept), the replies to add to the outbox
    and the caller's result. Runs inside the batch and may run twice (a failed batch is run
    again one by one): it reads and writes nothing else; what it raises goes to the caller."""


class PgWriter:
    """One process's writer for the quick lane on PostgreSQL, committing questions in batches."""

    def __init__(self, database: Database) -> None:
        """Write to ``database`` (PostgreSQL), with its limits, on a connection of its own.

        The connection opens at the first batch; :meth:`Database.interrupt` cuts it too.
        """
        self._database = database
        self._dsn = make_url(database.url).set(drivername="postgresql")
        self._connection: Any = None
        self._queued: list[tuple[Question[Any], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Transactions committed so far (a batch, or one message of a failed batch)."""
        self.units = 0
        """Questions settled so far: kept, redelivered, stepped aside or failed."""

    async def run(self, question: Question[T]) -> T | list[StoredReply]:
        """Keep ``question`` in the next batch; its result once committed.

        For a redelivered message, the result is the replies stored for its first delivery.

        Raises:
            SpokenFor: The message is the full path's; nothing was kept of it.
            storage.database.Unavailable: The database cannot serve now; nothing was kept.
            Exception: Whatever ``question.replies`` raised, or the database's refusal of its
                values; nothing was kept of it, the batch's other messages were.
        """
        if self._closed:
            raise Unavailable("BEGIN", None, ConnectionError("the writer is closed"))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T | list[StoredReply]] = loop.create_future()
        self._queued.append((question, future))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush(), name="postgresql-writer")
        return await future

    async def close(self, within: float = CLOSE_LIMIT) -> None:
        """Finish what is queued, then close the connection; past ``within`` seconds, cut it.

        A stalled server answers neither the batch nor the goodbye: what waits is told to try
        again later rather than keep the shutdown waiting.
        """
        self._closed = True
        if self._flushing is not None:
            try:
                async with asyncio.timeout(within):
                    await asyncio.shield(self._flushing)
            except TimeoutError:
                self._cut()
                await asyncio.shield(self._flushing)
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                async with asyncio.timeout(within):
                    await connection.close()
            except TimeoutError:
                connection.terminate()

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch: list[tuple[Question[Any], asyncio.Future[Any]]] = []
                later: list[tuple[Question[Any], asyncio.Future[Any]]] = []
                keys: set[str] = set()
                for queued in self._queued:
                    (later if queued[0].key in keys else batch).append(queued)
                    keys.add(queued[0].key)
                self._queued = later
                outcomes = await self._settle([question for question, _ in batch])
                self.units += len(batch)
                tell([future for _, future in batch], outcomes)
        finally:
            self._flushing = None

    async def _settle(self, batch: Sequence[Question[Any]]) -> list[tuple[bool, Any]]:
        """Each question's outcome: ``(True, result)`` or ``(False, error)``."""
        try:
            return await self._commit(batch)
        except Unavailable as error:
            return [(False, error)] * len(batch)
        except Exception as error:
            if len(batch) == 1:
                return [(False, error)]
            # The error's class only: its text may quote what someone wrote.
            log.info(
                "a batch of %d failed (%s); again one by one", len(batch), type(error).__name__
            )
        outcomes = []
        for question in batch:
            try:
                outcomes += await self._commit([question])
            except Exception as error:
                outcomes.append((False, error))
        return outcomes

    async def _commit(self, batch: Sequence[Question[Any]]) -> list[tuple[bool, Any]]:
        """One transaction for ``batch``; each question's outcome once it is committed."""
        connection = await self._connect()
        try:
            async with connection.transaction():
                outcomes = await _keep(connection, batch)
        except _TROUBLE as error:
            self._cut()
            raise Unavailable("COMMIT", None, error) from error
        self.batches += 1
        return outcomes

    async def _connect(self) -> Any:
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        if self._closed:
            raise Unavailable("CONNECT", None, ConnectionError("the writer is closed"))
        dsn = self._dsn.render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(dsn, **connect_options(self._database.limits))
        except _TROUBLE as error:
            raise Unavailable("CONNECT", None, error) from error
        self._database.track(connection)
        self._connection = connection
        return connection

    def _cut(self) -> None:
        """Drop the connection at once (a batch on it fails); the next batch connects afresh."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()


async def _keep(connection: Any, batch: Sequence[Question[Any]]) -> list[tuple[bool, Any]]:
    """The batch's statements, in its transaction; each question's outcome."""
    outcomes: list[tuple[bool, Any]] = [(False, SpokenFor()) for _ in batch]
    spoken = await pg_quick.spoken_for(connection, [(q.channel, q.user_id) for q in batch])
    free = [n for n in range(len(batch)) if n not in spoken]
    claimed = await pg_quick.claim_keys(connection, [(batch[n].key, batch[n].now) for n in free])
    again = [n for n in free if batch[n].key not in claimed]
    if again:
        stored = await pg_quick.replies_to(connection, [batch[n].key for n in again])
        for n in again:
            outcomes[n] = (True, stored[batch[n].key])
    fresh = [n for n in free if batch[n].key in claimed]
    answers = {n: answer for n in fresh if (answer := batch[n].answer) is not None}
    gaps = {n: gap for n in fresh if n not in answers and (gap := batch[n].gap) is not None}
    kept: dict[int, int] = {}
    if answers:
        ids = await pg_quick.keep_answers(connection, list(answers.values()))
        kept.update(zip(answers, ids, strict=True))
    if gaps:
        ids = await pg_quick.keep_gaps(connection, list(gaps.values()))
        kept.update(zip(gaps, ids, strict=True))
    queued: list[tuple[str, datetime, Queued]] = []
    for n in fresh:
        question = batch[n]
        replies, result = question.replies(kept.get(n))
        queued += [(question.key, question.now, reply) for reply in replies]
        outcomes[n] = (True, result)
    if queued:
        await pg_quick.enqueue(connection, queued)
    return outcomes
