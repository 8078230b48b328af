"""What the quarterly report reads: the requests of a period and their logs.

A quarter may hold a million requests and five million events, so each log comes in a compact
form (:class:`History`): the kinds of its events in one string, their times as POSIX
timestamps, and of each event only what the report reads. On PostgreSQL the database puts each
log together (one row per request) and the rows are read with asyncpg directly, bypassing the
ORM's per-row work; elsewhere (SQLite) a portable query builds the same histories.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.domain.events import ACTING, WITH_DATA
from bot.domain.lifecycle import Status
from storage.models import Request, RequestEvent

__all__ = [
    "History",
    "histories",
    "paused_gc",
    "stream_histories",
]


class History(NamedTuple):
    """A request and its log up to the end of the period, oldest event first.

    The log is three parallel columns, one entry per event, ordered by time then id.
    """

    request_id: int
    number: str
    category: str
    space_id: str
    channel: str
    """How it came in (:class:`~bot.messages.Intake`'s values)."""
    opened_at: datetime
    kinds: str
    """The kinds of the events, comma-separated: ``opened,claim,reply,resolve``."""
    times: Sequence[float]
    """When each event happened, as a POSIX timestamp."""
    values: Sequence[str | None]
    """What the report reads of each event: the actor of an :data:`ACTING` kind, the data (as
    JSON text) of a :data:`WITH_DATA` kind, ``None`` for the others."""


_CHUNK = 2000
"""Requests per round trip when streaming: small enough that PostgreSQL can compute the next
chunk into the socket's buffers while Python counts the last one. Over a million requests,
500 to 5,000 measured alike; 20,000 a second slower."""


# Each log is put together by one aggregate over a subquery ordered by (at, id): the aggregate
# has no grouping key, so nothing can reorder its input; the index (request_id, at, id) feeds
# it in that order without a sort. Only the actor or the data of the kinds the report reads is
# sent; the other events carry a NULL.
def _listed(kinds: frozenset[str]) -> str:
    return ", ".join(f"'{kind}'" for kind in sorted(kinds))


_FAST = f"""
SELECT r.id, r.number, r.category, r.space_id, r.channel, r.opened_at, l.kinds, l.times, l.vals
FROM requests r CROSS JOIN LATERAL (
    SELECT string_agg(s.kind, ',') AS kinds, array_agg(s.t) AS times, array_agg(s.v) AS vals
    FROM (
        SELECT e.kind, date_part('epoch', e.at) AS t,
               CASE WHEN e.kind IN ({_listed(ACTING)}) THEN e.actor
                    WHEN e.kind IN ({_listed(WITH_DATA)}) THEN e.data::text END AS v
        FROM request_events e
        WHERE e.request_id = r.id AND e.at < $2
        ORDER BY e.at, e.id
    ) s
) l
WHERE r.opened_at < $2 AND (r.status <> '{Status.CLOSED}' OR r.updated_at >= $1)
  AND l.kinds IS NOT NULL
ORDER BY r.id
"""  # noqa: S608


async def histories(session: AsyncSession, start: datetime, end: datetime) -> list[History]:
    """Every request that may count between ``start`` and ``end``, with its log up to ``end``.

    That is each request opened before ``end`` and not closed before ``start`` (a request's
    ``updated_at`` is the time of its last event), ordered by id. A request without events
    before ``end`` is left out: it counts nowhere.
    """
    found: list[History] = []
    with paused_gc():
        async for chunk in stream_histories(session, start, end):
            found += chunk
    return found


async def stream_histories(
    session: AsyncSession, start: datetime, end: datetime, *, chunk: int = _CHUNK
) -> AsyncIterator[list[History]]:
    """:func:`histories`, a chunk at a time, so the caller can count while the rest is read.

    On PostgreSQL the next chunk is already asked for while the caller works on the last one:
    the database computes it meanwhile, on another core.

    Args:
        session: The session to read in (its transaction, its connection).
        start: The period's first moment.
        end: The first moment after the period.
        chunk: Requests per chunk (PostgreSQL; elsewhere everything comes in one chunk).
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        yield await _portable(session, start, end)
        return
    # Opens the session's transaction on the driver's connection, where cursors live. JIT is
    # off as a precaution: measured over a million requests it did not help (4.7 s against 4.2).
    await connection.exec_driver_sql("SET LOCAL jit = off")
    raw = await _driver_connection(connection)
    new = tuple.__new__  # History._make without its Python-level frame: a million rows
    cursor = await raw.cursor(_FAST, start, end)
    ahead = asyncio.ensure_future(cursor.fetch(chunk))
    try:
        while True:
            rows = await ahead
            if not rows:
                return
            ahead = asyncio.ensure_future(cursor.fetch(chunk))
            await asyncio.sleep(0)  # let it send the request before the caller gets to work
            yield [new(History, row) for row in rows]
    finally:
        # A caller that stops early: the chunk already asked for is let arrive, so the
        # connection is free for the session's next statement.
        with contextlib.suppress(Exception):
            await ahead


async def _driver_connection(connection: AsyncConnection) -> Any:
    """The asyncpg connection under ``connection``, inside its transaction."""
    fairy = await connection.get_raw_connection()
    raw = fairy.driver_connection
    assert raw is not None
    assert raw.is_in_transaction()
    return raw


async def _portable(session: AsyncSession, start: datetime, end: datetime) -> list[History]:
    wanted = (
        select(Request.id)
        .where(Request.opened_at < end)
        .where(or_(Request.status != Status.CLOSED, Request.updated_at >= start))
    )
    requests = (
        await session.execute(
            select(
                Request.id,
                Request.number,
                Request.category,
                Request.space_id,
                Request.channel,
                Request.opened_at,
            )
            .where(Request.id.in_(wanted))
            .order_by(Request.id)
        )
    ).all()
    events = await session.execute(
        select(
            RequestEvent.request_id,
            RequestEvent.at,
            RequestEvent.kind,
            RequestEvent.actor,
            # The JSON as stored, as PostgreSQL's fast path reads it: parsed once per distinct
            # text by the report, not once per event here.
            cast(RequestEvent.data, Text),
        )
        .where(RequestEvent.request_id.in_(wanted), RequestEvent.at < end)
        .order_by(RequestEvent.request_id, RequestEvent.at, RequestEvent.id)
    )
    logs: dict[int, tuple[list[str], list[float], list[str | None]]] = {}
    for request_id, at, kind, actor, data in events:
        kinds, times, values = logs.setdefault(request_id, ([], [], []))
        kinds.append(kind)
        times.append(at.timestamp())
        values.append(actor if kind in ACTING else data if kind in WITH_DATA else None)
    found = []
    for row in requests:
        if row.id in logs:
            kinds, times, values = logs[row.id]
            found.append(
                History(
                    row.id,
                    row.number,
                    row.category,
                    row.space_id,
                    row.channel,
                    row.opened_at,
                    ",".join(kinds),
                    times,
                    values,
                )
            )
    return found


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: building millions of small objects, none in a cycle.

    CPython would scan every tracked object again and again as their number grows, which takes
    longer than the work itself. On the way out the young objects go straight to the oldest
    generation (a freeze and a thaw: two list splices) instead of being scanned there and then;
    the collector sees them again at its next full collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was:
            gc.enable()
