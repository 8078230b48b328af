"""Answers given from the knowledge base, and the askers' 👍/👎 on them, for the admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MAX_INTEGER, AnsweredQuestion

__all__ = [
    "AnswerRow",
    "Rating",
    "RatingOutcome",
    "RatingSummary",
    "rate_answer",
    "ratings",
    "record_answer",
]


class Rating(StrEnum):
    """What the asker pressed under an answer."""

    UP = "up"
    DOWN = "down"


class RatingOutcome(StrEnum):
    """What became of a press."""

    RATED = "rated"
    UNKNOWN = "unknown"
    """No such answer (a made-up button, or a database started afresh)."""
    NOT_YOURS = "not-yours"
    """The answer went to another chat; nothing changed."""


class AnswerRow(TypedDict):
    """What is kept of an answer (the arguments of :func:`record_answer`)."""

    answered_at: datetime
    channel: str
    chat_id: str
    text: str
    faq_id: str
    score: float | None


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """One question text answered with one entry, and its 👎 and 👍."""

    text: str
    faq_id: str
    down: int
    up: int
    last_answered_at: datetime


async def record_answer(
    session: AsyncSession,
    *,
    answered_at: datetime,
    channel: str,
    chat_id: str,
    text: str,
    faq_id: str,
    score: float | None,
    picked: bool = False,
) -> int:
    """Keep one answer in the caller's transaction; returns its id for the rating buttons."""
    answer = AnsweredQuestion(
        answered_at=answered_at,
        channel=channel,
        chat_id=chat_id,
        text=text,
        faq_id=faq_id,
        score=score,
        picked=picked,
    )
    session.add(answer)
    await session.flush()  # the id goes into the buttons sent with this very answer
    return answer.id


async def rate_answer(
    session: AsyncSession,
    answer_id: int,
    *,
    channel: str,
    chat_id: str,
    rating: Rating,
    at: datetime,
) -> RatingOutcome:
    """Set the rating of an answer, if the press comes from the chat it was given in.

    The last press wins: pressing 👍 after 👎 changes the rating, it adds nothing.
    """
    if not 0 < answer_id <= MAX_INTEGER:  # from a button: PostgreSQL would refuse it
        return RatingOutcome.UNKNOWN
    answer = await session.get(AnsweredQuestion, answer_id)
    if answer is None:
        return RatingOutcome.UNKNOWN
    if (answer.channel, answer.chat_id) != (channel, chat_id):
        return RatingOutcome.NOT_YOURS
    answer.rating = rating.value
    answer.rated_at = at
    return RatingOutcome.RATED


async def ratings(
    session: AsyncSession, since: datetime | None = None, limit: int = 100
) -> list[RatingSummary]:
    """Rated answers, one row per question text and entry, most 👎 first.

    Args:
        session: The caller's session.
        since: Only answers given from then on.
        limit: At most this many rows; those with only 👍 are the first left out.
    """
    a = AnsweredQuestion
    down = func.sum(case((a.rating == Rating.DOWN.value, 1), else_=0))
    up = func.sum(case((a.rating == Rating.UP.value, 1), else_=0))
    last = func.max(a.answered_at)
    query = (
        select(a.text, a.faq_id, down, up, last)
        .where(a.rating.is_not(None))
        .group_by(a.text, a.faq_id)
    )
    if since is not None:
        query = query.where(a.answered_at >= since)
    query = query.order_by(down.desc(), last.desc()).limit(limit)
    rows = (await session.execute(query)).all()
    return [
        RatingSummary(text, faq_id, int(down or 0), int(up or 0), last)
        for text, faq_id, down, up, last in rows
    ]
