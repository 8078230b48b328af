"""The response codes of the request cards sent to WeCom members, one update each.

WeCom changes a member's copy of a template card (``update_template_card``) only with a
``response_code`` it handed out: in the answer that sent the card, and in every press of one of
its buttons. A code serves one update, within :data:`CODE_LIFE` of its issue. The freshest one
is taken for an update (it is the card the member last saw or touched); taking deletes it, so
two processes never spend one code twice. Stale codes of the member go as new ones come.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Request, WeComCardCode
from storage.upsert import insert_for

__all__ = ["CODE_LIFE", "keep", "take"]

CODE_LIFE = timedelta(hours=72)
"""How long WeCom honours a response code."""


async def keep(
    session: AsyncSession, code: str, *, userid: str, request_id: int, at: datetime
) -> None:
    """Remember ``code`` for ``userid``'s card of request ``request_id``, issued ``at``.

    The same code again (WeCom's retry of a press) changes nothing; one for a request that is
    not there (a card the bot never made) is not kept.
    """
    if await session.get(Request, request_id) is None:
        return
    await session.execute(
        delete(WeComCardCode).where(
            WeComCardCode.userid == userid, WeComCardCode.issued_at < at - CODE_LIFE
        )
    )
    await session.execute(
        insert_for(session, WeComCardCode)
        .values(code=code, userid=userid, request_id=request_id, issued_at=at)
        .on_conflict_do_nothing()
    )


async def take(session: AsyncSession, *, userid: str, request_id: int, now: datetime) -> str | None:
    """The freshest code still valid for ``userid``'s card of the request, now spent; or ``None``.

    Deleted by its key, and only the caller whose delete removed it has it: another process
    that read the same row takes the next one.
    """
    fresh = now - CODE_LIFE
    while True:
        code = await session.scalar(
            select(WeComCardCode.code)
            .where(
                WeComCardCode.userid == userid,
                WeComCardCode.request_id == request_id,
                WeComCardCode.issued_at > fresh,
            )
            .order_by(WeComCardCode.issued_at.desc())
            .limit(1)
        )
        if code is None:
            return None
        removed = await session.execute(delete(WeComCardCode).where(WeComCardCode.code == code))
        if getattr(removed, "rowcount", 0) == 1:
            return code
