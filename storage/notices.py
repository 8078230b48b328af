"""Notices sent on time: which are due and unsent, and the claim that sends each only once.

A notice's row (request, kind, due date) is written in the transaction that queues its
messages, so two processes never both send it. Alerts to the admins (one per subject) work the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.lifecycle import CLOCK_RUNNING
from storage.models import Alert, Notice, Request
from storage.upsert import insert_for

__all__ = ["claim", "claim_alert", "unsent"]


async def unsent(
    session: AsyncSession, kind: str, deadline: datetime, *, or_earlier: bool = False
) -> Sequence[tuple[int, str, date]]:
    """Running requests (id, number, due date) with ``deadline`` and no ``kind`` notice yet.

    Args:
        session: The caller's session.
        kind: The notice's kind.
        deadline: The deadline (24:00 of the due date) the notice is for.
        or_earlier: Also every earlier deadline (an escalation is due once it has passed).

    Conditions on the deadline let the (status, deadline) index find the few candidates among
    however many running requests there are; the earliest deadline comes first.
    """
    sent = exists().where(
        Notice.request_id == Request.id, Notice.kind == kind, Notice.day == Request.due_date
    )
    on_deadline = Request.deadline <= deadline if or_earlier else Request.deadline == deadline
    query = (
        select(Request.id, Request.number, Request.due_date)
        .where(Request.status.in_(CLOCK_RUNNING), on_deadline, ~sent)
        .order_by(Request.deadline)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]


async def claim(
    session: AsyncSession, request_id: int, kind: str, day: date, now: datetime
) -> bool:
    """Record the notice as sent; ``False`` when it already was (by this or another process)."""
    claimed = await session.execute(
        insert_for(session, Notice)
        .values(request_id=request_id, kind=kind, day=day, sent_at=now)
        .on_conflict_do_nothing()
        .returning(Notice.request_id)
    )
    return claimed.scalar_one_or_none() is not None


async def claim_alert(session: AsyncSession, kind: str, subject: str, now: datetime) -> bool:
    """Record an alert to the admins as sent; ``False`` when it already was."""
    claimed = await session.execute(
        insert_for(session, Alert)
        .values(kind=kind, subject=subject, sent_at=now)
        .on_conflict_do_nothing()
        .returning(Alert.kind)
    )
    return claimed.scalar_one_or_none() is not None
