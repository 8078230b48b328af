"""PostgreSQL's writer: the quick lane's messages kept in batches over one asyncpg connection.

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

``/new text`` (an :class:`Opening`) goes through the same steps: before its key is claimed, its
account is read (the person, their maker space, a conversation in progress) and the desk decides
from it whether to open the request here (:attr:`Opening.plan`) or leave it to the full path;
the requests opened in a batch take their numbers from one update of the year's counter, whose
row stays locked until the batch commits (:mod:`storage.pg_requests`).

Every caller is answered after the commit that holds its message. A batch whose transaction
fails (a value the database refuses, a reply that cannot go this way) is run again one message
per transaction, so only the bad message fails. A lost connection or a server that does not
answer fails the batch with :class:`~storage.database.Unavailable`, as the ORM path says "try
again later"; the next batch connects afresh.

A key twice in one batch (a redelivery that arrives while its first delivery waits) goes in the
next batch, where it is a redelivery like any other; so does an account's second opening, which
must find the first one's person as the first one left it.

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

from storage import pg_quick, pg_requests
from storage.answers import AnswerRow
from storage.database import CLOSE_LIMIT, UNAVAILABLE, Database, Unavailable, connect_options
from storage.pg_quick import Queued
from storage.pg_requests import Account, Event, Planned, Touch
from storage.questions import GapRow
from storage.quick import StoredReply
from storage.writer import tell

__all__ = ["Account", "Opening", "PgWriter", "Planned", "Question", "Queued", "SpokenFor", "Work"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_TROUBLE: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.InterfaceError)
"""What means the connection or the server failed, not the batch's statements: the connection
is dropped and the batch's callers told to try again later."""


class SpokenFor(Exception):
    """The message is the full path's; nothing was kept of it.

    Its asker is in a conversation or has a request being worked on, or (``/new text``) the
    desk leaves it to the full path.
    """


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


@dataclass(frozen=True, slots=True)
class Opening(Generic[T]):
    """``/new text`` prepared on the event loop, for the writer to open the request."""

    key: str
    """The message's dedup key."""
    now: datetime
    """When it is handled: the key's time, the request's and its replies'."""
    channel: str
    user_id: str
    chat_id: str
    """The chat that reaches the sender, remembered for their account."""
    display_name: str | None
    """The name the sender goes by, if the channel tells it."""
    language: str
    """The sender's language, remembered for their person."""
    plan: Callable[[Account], Planned[tuple[Sequence[Queued], T]] | None]
    """Given the account as stored (it wrote before), the request to open, its replies and
    the caller's result; ``None``: the full path decides (nothing was kept). Runs inside the
    batch and may run twice: it reads and writes nothing else."""


Work = Question[T] | Opening[T]
"""What the writer keeps: a plain question or an opening."""


class PgWriter:
    """One process's writer for the quick lane on PostgreSQL, committing questions in batches."""

    def __init__(self, database: Database) -> None:
        """Write to ``database`` (PostgreSQL), with its limits, on a connection of its own.

        The connection opens at the first batch; :meth:`Database.interrupt` cuts it too.
        """
        self._database = database
        self._dsn = make_url(database.url).set(drivername="postgresql")
        self._connection: Any = None
        self._queued: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Transactions committed so far (a batch, or one message of a failed batch)."""
        self.units = 0
        """Messages settled so far: kept, redelivered, stepped aside or failed."""

    async def run(self, question: Work[T]) -> T | list[StoredReply]:
        """Keep ``question`` (or open its request) in the next batch; its result once committed.

        For a redelivered message, the result is the replies stored for its first delivery.

        Raises:
            SpokenFor: The message is the full path's; nothing was kept of it.
            storage.database.Unavailable: The database cannot serve now; nothing was kept.
            Exception: Whatever ``question.replies`` (or ``plan``) raised, or the database's
                refusal of its values; nothing was kept of it, the batch's other messages were.
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
                batch: list[tuple[Work[Any], asyncio.Future[Any]]] = []
                later: list[tuple[Work[Any], asyncio.Future[Any]]] = []
                taken: set[tuple[str, ...]] = set()
                for queued in self._queued:
                    marks = _marks(queued[0])
                    (later if taken & marks else batch).append(queued)
                    taken |= marks
                self._queued = later
                outcomes = await self._settle([question for question, _ in batch])
                self.units += len(batch)
                tell([future for _, future in batch], outcomes)
        finally:
            self._flushing = None

    async def _settle(self, batch: Sequence[Work[Any]]) -> list[tuple[bool, Any]]:
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

    async def _commit(self, batch: Sequence[Work[Any]]) -> list[tuple[bool, Any]]:
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


def _marks(work: Work[Any]) -> set[tuple[str, ...]]:
    """What no two messages of one batch may share: the key, an opening's account."""
    if isinstance(work, Opening):
        return {("key", work.key), ("opens", work.channel, work.user_id)}
    return {("key", work.key)}


async def _keep(connection: Any, batch: Sequence[Work[Any]]) -> list[tuple[bool, Any]]:
    """The batch's statements, in its transaction; each message's outcome."""
    outcomes: list[tuple[bool, Any]] = [(False, SpokenFor()) for _ in batch]
    asks = {n: work for n, work in enumerate(batch) if isinstance(work, Question)}
    opens = {n: work for n, work in enumerate(batch) if isinstance(work, Opening)}
    free = set(asks)
    if asks:
        spoken = await pg_quick.spoken_for(
            connection, [(q.channel, q.user_id) for q in asks.values()]
        )
        free -= {n for i, n in enumerate(asks) if i in spoken}
    plans = await _plans(connection, opens) if opens else {}
    free |= plans.keys()
    ordered = sorted(free)
    claimed = await pg_quick.claim_keys(connection, [(batch[n].key, batch[n].now) for n in ordered])
    again = [n for n in ordered if batch[n].key not in claimed]
    if again:
        stored = await pg_quick.replies_to(connection, [batch[n].key for n in again])
        for n in again:
            outcomes[n] = (True, stored[batch[n].key])
    fresh = [n for n in ordered if batch[n].key in claimed]
    made = await _answered(connection, {n: asks[n] for n in fresh if n in asks})
    made |= await _opened(connection, {n: (opens[n], plans[n]) for n in fresh if n in plans})
    queued: list[tuple[str, datetime, Queued]] = []
    for n in fresh:
        replies, result = made[n]
        queued += [(batch[n].key, batch[n].now, reply) for reply in replies]
        outcomes[n] = (True, result)
    if queued:
        await pg_quick.enqueue(connection, queued)
    return outcomes


async def _answered(
    connection: Any, fresh: dict[int, Question[Any]]
) -> dict[int, tuple[Sequence[Queued], Any]]:
    """Keep the fresh questions' answers and gaps; each one's replies and result."""
    answers = {n: answer for n, q in fresh.items() if (answer := q.answer) is not None}
    gaps = {n: gap for n, q in fresh.items() if n not in answers and (gap := q.gap) is not None}
    kept: dict[int, int] = {}
    if answers:
        ids = await pg_quick.keep_answers(connection, list(answers.values()))
        kept.update(zip(answers, ids, strict=True))
    if gaps:
        ids = await pg_quick.keep_gaps(connection, list(gaps.values()))
        kept.update(zip(gaps, ids, strict=True))
    return {n: question.replies(kept.get(n)) for n, question in fresh.items()}


_Plan = tuple[Account, Planned[tuple[Sequence[Queued], Any]]]


async def _plans(connection: Any, opens: dict[int, Opening[Any]]) -> dict[int, _Plan]:
    """The openings the desk takes here, with their accounts as stored and its plans."""
    found = await pg_requests.accounts(connection, [(o.channel, o.user_id) for o in opens.values()])
    plans: dict[int, _Plan] = {}
    for i, (n, opening) in enumerate(opens.items()):
        account = found.get(i)
        planned = None if account is None else opening.plan(account)
        if account is not None and planned is not None:
            plans[n] = (account, planned)
    return plans


async def _opened(
    connection: Any, fresh: dict[int, tuple[Opening[Any], _Plan]]
) -> dict[int, tuple[Sequence[Queued], Any]]:
    """Open the fresh openings' requests, in the batch's order; each one's replies and result."""
    if not fresh:
        return {}
    await pg_requests.touch(
        connection,
        [
            Touch(
                o.channel,
                o.user_id,
                o.chat_id,
                planned.at,
                account.person_id,
                o.display_name or account.display_name,
                o.language,
            )
            for o, (account, planned) in fresh.values()
        ],
    )
    numbers: dict[int, str] = {}
    for year in sorted({planned.year for _, (_, planned) in fresh.values()}):
        those = [n for n, (_, (_, planned)) in fresh.items() if planned.year == year]
        numbers.update(
            zip(those, await pg_requests.next_numbers(connection, year, len(those)), strict=True)
        )
    rows = [planned.columns(numbers[n]) for n, (_, (_, planned)) in fresh.items()]
    ids = dict(zip(fresh, await pg_requests.insert_requests(connection, rows), strict=True))
    await pg_requests.add_events(
        connection,
        [
            Event(ids[n], planned.at, planned.kind, planned.actor, planned.text, planned.data)
            for n, (_, (_, planned)) in fresh.items()
        ],
    )
    return {n: planned.replies(ids[n], numbers[n]) for n, (_, (_, planned)) in fresh.items()}
