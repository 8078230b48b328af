"""Questions the bot could not answer, for the admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MAX_INTEGER, UnansweredQuestion

__all__ = [
    "GapRow",
    "UnansweredSummary",
    "asked_in",
    "asked_text",
    "record_unanswered",
    "unanswered_summary",
]


class GapRow(TypedDict):
    """What is kept of a question not answered (the arguments of :func:`record_unanswered`)."""

    asked_at: datetime
    channel: str
    chat_id: str
    text: str
    band: str
    best_faq_id: str | None
    best_score: float


@dataclass(frozen=True, slots=True)
class UnansweredSummary:
    """One question text, how often it was asked, and when last."""

    text: str
    count: int
    last_asked_at: datetime
    best_faq_id: str | None
    best_score: float


async def record_unanswered(
    session: AsyncSession,
    *,
    asked_at: datetime,
    channel: str,
    text: str,
    band: str,
    best_faq_id: str | None,
    best_score: float,
    chat_id: str | None = None,
) -> int:
    """Keep one question the bot did not answer outright, in the caller's transaction.

    Returns:
        Its id, which suggestion buttons carry so that a picked suggestion knows the question.
    """
    question = UnansweredQuestion(
        asked_at=asked_at,
        channel=channel,
        chat_id=chat_id,
        text=text,
        band=band,
        best_faq_id=best_faq_id,
        best_score=best_score,
    )
    session.add(question)
    await session.flush()
    return question.id


async def asked_text(session: AsyncSession, question_id: int) -> str | None:
    """The text of the unanswered question ``question_id``, if it is kept."""
    if not 0 < question_id <= MAX_INTEGER:  # from a button: PostgreSQL would refuse it
        return None
    question = await session.get(UnansweredQuestion, question_id)
    return question.text if question is not None else None


async def asked_in(
    session: AsyncSession, question_id: int, channel: str, chat_id: str
) -> str | None:
    """The text of the unanswered question ``question_id`` if it was asked in this chat.

    A button names the question by its id; a press from any other chat (a forwarded message, a
    made-up payload) reads nothing, so nobody sees another person's question.
    """
    if not 0 < question_id <= MAX_INTEGER:
        return None
    question = await session.get(UnansweredQuestion, question_id)
    if question is None or (question.channel, question.chat_id) != (channel, chat_id):
        return None
    return question.text


async def unanswered_summary(
    session: AsyncSession, since: datetime | None = None, limit: int = 100
) -> list[UnansweredSummary]:
    """Identical unanswered questions counted together, most asked first.

    Args:
        session: The caller's session.
        since: Only questions asked from then on.
        limit: At most this many rows.
    """
    q = UnansweredQuestion
    query = select(
        q.text,
        func.count().label("count"),
        func.max(q.asked_at).label("last"),
        func.max(q.best_faq_id),
        func.max(q.best_score),
    ).group_by(q.text)
    if since is not None:
        query = query.where(q.asked_at >= since)
    query = query.order_by(func.count().desc(), func.max(q.asked_at).desc()).limit(limit)
    rows = (await session.execute(query)).all()
    return [
        UnansweredSummary(text, count, last, faq_id, float(score or 0.0))
        for text, count, last, faq_id, score in rows
    ]
