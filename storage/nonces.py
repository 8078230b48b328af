"""Replay memory for signed callbacks: each ``(timestamp, nonce)`` serves one body.

WeChat signs a request's ``timestamp`` and ``nonce`` (in plain mode nothing else), so a signed
query seen once, in a proxy's access log say, could otherwise carry any body until the
timestamp goes stale. Every process remembers the pairs in the database it shares with the
others, beside a digest of the body each came with; the channel adapter decides what the
digest covers and how long a pair must be kept. Each channel that signs (WeChat, WeCom) keeps
its pairs in a ``scope`` of its own: a pair is a replay only where it was signed.

Requests that arrive together are noted together (:class:`NonceMemory`): one statement, in one
short transaction, for all the requests that came while the last one was written. A message
then costs no write turn of its own on SQLite, where writers take turns, and under load the
memory costs a statement per batch rather than per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WeChatNonce
from storage.upsert import insert_for

if TYPE_CHECKING:
    from storage.database import Database

__all__ = ["MAX_BATCH", "NonceMemory", "Use", "forget_before", "remember", "remember_many"]

MAX_BATCH = 500
"""Pairs noted by one statement at most (four parameters each; SQLite allows 32,766)."""
WECHAT = "wechat"
"""The scope of WeChat's pairs, the rows that were there before scopes."""


@dataclass(frozen=True, slots=True)
class Use:
    """A request signed with ``(timestamp, nonce)`` that came with ``digest``."""

    timestamp: int
    """The signed timestamp, in seconds since the epoch."""
    nonce: str
    digest: str
    """What came with the pair (a hash of the body)."""
    scope: str = WECHAT
    """The channel that signed it."""

    @property
    def pair(self) -> tuple[str, int, str]:
        """What the signature covers, in its scope: the table's key."""
        return self.scope, self.timestamp, self.nonce


async def remember(
    session: AsyncSession, timestamp: int, nonce: str, digest: str, *, scope: str = WECHAT
) -> bool:
    """Note one request; whether it may be handled (see :func:`remember_many`)."""
    use = Use(timestamp, nonce, digest, scope)
    return use.pair in await remember_many(session, [use])


async def remember_many(session: AsyncSession, uses: Iterable[Use]) -> set[tuple[str, int, str]]:
    """Note requests, each with a pair of its own; the pairs of those that may be handled.

    A request may be handled the first time its pair is seen, and again with the very same
    digest (a retry of that request); with another digest it is a replay. One statement,
    race-free across processes: the pair is the table's key, so of two processes noting it at
    once one inserts the row and the other finds it (on PostgreSQL it waits for the first to
    commit). Rows go in in key order, so that two batches never wait for each other.

    Args:
        session: The session to write in (committed by the caller).
        uses: The requests; no two with the same pair, at most :data:`MAX_BATCH`.

    Raises:
        ValueError: Two requests share a pair.
    """
    given = list(uses)
    keyed = {use.pair: use for use in given}
    if not keyed:
        return set()
    if len(keyed) < len(given):
        raise ValueError("two requests with one (timestamp, nonce) in a batch")
    rows = [
        {"scope": u.scope, "timestamp": u.timestamp, "nonce": u.nonce, "digest": u.digest}
        for _, u in sorted(keyed.items())
    ]
    insert = insert_for(session, WeChatNonce).values(rows)
    # On a conflict the row is "updated" to itself only if the digests match, and RETURNING
    # yields a row only for an insert or that update: no row means another body took the pair.
    statement = insert.on_conflict_do_update(
        index_elements=[WeChatNonce.scope, WeChatNonce.timestamp, WeChatNonce.nonce],
        set_={"digest": insert.excluded.digest},
        where=WeChatNonce.digest == insert.excluded.digest,
    ).returning(WeChatNonce.scope, WeChatNonce.timestamp, WeChatNonce.nonce)
    answer = await session.execute(statement)
    return {(str(scope), int(t), str(n)) for scope, t, n in answer.all()}


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Forget the pairs signed before ``cutoff``; how many were forgotten.

    Only pairs whose timestamp the adapter refuses as stale anyway may go: pass a cutoff at
    least the adapter's signature window in the past
    (``now - bot.channels.wechat.inbound.MAX_SKEW``).

    Raises:
        ValueError: ``cutoff`` is naive.
    """
    if cutoff.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    result = await session.execute(
        delete(WeChatNonce).where(WeChatNonce.timestamp < int(cutoff.timestamp()))
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(eq=False)
class _Asked:
    use: Use
    answer: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class NonceMemory:
    """Notes requests as they come, many in one statement (see the module's docstring)."""

    def __init__(self, database: Database, scope: str = WECHAT) -> None:
        """Write to ``database``, in its write transactions, the pairs of ``scope``'s channel."""
        self._database = database
        self._scope = scope
        self._waiting: list[_Asked] = []
        self._writer: asyncio.Task[None] | None = None

    async def first_use(self, timestamp: int, nonce: str, digest: str) -> bool:
        """Note a request; whether it may be handled (see :func:`remember_many`).

        Answers once the note is committed, together with those of the requests that came
        meanwhile.

        Raises:
            Exception: What the database raised (nothing was noted: the request may come again).
        """
        asked = _Asked(Use(timestamp, nonce, digest, self._scope))
        self._waiting.append(asked)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"{self._scope} nonces")
        return await asked.answer

    async def _write(self) -> None:
        while self._waiting:
            batch: list[_Asked] = []
            try:
                # Taken once the transaction has its turn: what came while waiting goes too.
                async with self._database.transaction() as session:
                    batch, self._waiting = _batch(self._waiting)
                    taken = await remember_many(session, _firsts(batch))
            except BaseException as error:
                cancelled = not isinstance(error, Exception)  # no more batches then
                if not batch or cancelled:  # failed before taking them: all were to go
                    batch, self._waiting = batch + self._waiting, []
                for asked in batch:
                    if asked.answer.done():
                        continue
                    if cancelled:
                        asked.answer.cancel()
                    else:
                        asked.answer.set_exception(error)
                if cancelled:
                    raise
                continue
            for asked in batch:
                if not asked.answer.done():
                    asked.answer.set_result(asked.use.pair in taken)


def _batch(waiting: list[_Asked]) -> tuple[list[_Asked], list[_Asked]]:
    """The requests one statement can note, and those left for the next.

    Requests sharing a pair and digest (WeChat's retries, together) share the first one's
    answer. One sharing a pair with another digest waits for the next batch: it is a replay
    unless the pair's row turns out to hold its digest.
    """
    batch: list[_Asked] = []
    later: list[_Asked] = []
    digests: dict[tuple[str, int, str], str] = {}
    for asked in waiting:
        pair = asked.use.pair
        known = digests.get(pair)
        if (known is None and len(digests) >= MAX_BATCH) or known not in (None, asked.use.digest):
            later.append(asked)
            continue
        digests[pair] = asked.use.digest
        batch.append(asked)
    return batch, later


def _firsts(batch: list[_Asked]) -> list[Use]:
    """One request per pair: the first of each."""
    seen: dict[tuple[str, int, str], Use] = {}
    for asked in batch:
        seen.setdefault(asked.use.pair, asked.use)
    return list(seen.values())
