"""Replay memory for WeChat's signed requests: each ``(timestamp, nonce)`` serves one body.

WeChat signs a request's ``timestamp`` and ``nonce`` (in plain mode nothing else), so a signed
query seen once, in a proxy's access log say, could otherwise carry any body until the
timestamp goes stale. Every process remembers the pairs in the database it shares with the
others, beside a digest of the body each came with; the channel adapter decides what the
digest covers and how long a pair must be kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import WeChatNonce
from storage.upsert import insert_for

__all__ = ["forget_before", "remember"]


async def remember(session: AsyncSession, timestamp: int, nonce: str, digest: str) -> bool:
    """Note that a request signed with ``(timestamp, nonce)`` came with ``digest``.

    One statement, race-free across processes: the pair is the table's key, so of two requests
    arriving at once in two processes one inserts the row and the other finds it (on
    PostgreSQL it waits for the first to commit).

    Args:
        session: The session to write in (committed by the caller).
        timestamp: The signed timestamp, in seconds since the epoch.
        nonce: The signed nonce.
        digest: What came with the pair (a hash of the body).

    Returns:
        Whether the request may be handled: ``True`` the first time the pair is seen, and again
        for the very same ``digest`` (a retry of that request); ``False`` for another digest:
        a replay of the pair.
    """
    insert = insert_for(session, WeChatNonce).values(
        timestamp=timestamp, nonce=nonce, digest=digest
    )
    # On a conflict the row is "updated" to itself only if the digests match, and RETURNING
    # yields a row only for an insert or that update: no row means another body took the pair.
    statement = insert.on_conflict_do_update(
        index_elements=[WeChatNonce.timestamp, WeChatNonce.nonce],
        set_={"digest": insert.excluded.digest},
        where=WeChatNonce.digest == insert.excluded.digest,
    ).returning(WeChatNonce.digest)
    return (await session.execute(statement)).first() is not None


async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
    """Forget the pairs signed before ``cutoff``; how many were forgotten.

    Only pairs whose timestamp the adapter refuses as stale anyway may go: pass a cutoff at
    least the adapter's signature window in the past (``now - bot.channels.wechat.MAX_SKEW``).

    Raises:
        ValueError: ``cutoff`` is naive.
    """
    if cutoff.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    result = await session.execute(
        delete(WeChatNonce).where(WeChatNonce.timestamp < int(cutoff.timestamp()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
