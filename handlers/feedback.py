"""👍/👎 under knowledge-base answers: the asker's rating, kept for the admins' ``kb gaps``.

Only the chat an answer went to may rate it; the last press wins. After 👎 the bot offers a
service commissioner, since the answer did not do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.messages import Button, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.chat import texts_for
from handlers.basics import reply
from handlers.faq import ASK_COMMISSIONER, RATE_PREFIX, rating_of
from storage.answers import Rating, RatingOutcome, rate_answer

__all__ = ["router", "thanks"]

log = logging.getLogger(__name__)

router = Router("feedback")


@router.choice(RATE_PREFIX)
async def rated(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Keep the rating ``rate:<answer id>:up|down``; thank, and after 👎 offer a commissioner."""
    assert message.choice is not None
    texts = texts_for(message.language)
    pressed = rating_of(message.choice)
    if pressed is None:
        return reply(message, texts.rating_unknown)
    answer_id, rating = pressed
    outcome = await rate_answer(
        context.session,
        answer_id,
        channel=message.channel.value,
        chat_id=message.chat_id,
        rating=rating,
        at=context.now,
    )
    if outcome is RatingOutcome.UNKNOWN:
        return reply(message, texts.rating_unknown)
    if outcome is RatingOutcome.NOT_YOURS:
        log.warning("%r pressed a rating of answer %d, given elsewhere", message.key, answer_id)
        return reply(message, texts.rating_not_yours)
    return thanks(message, rating)


def thanks(message: IncomingMessage, rating: Rating) -> list[OutgoingMessage]:
    """The thanks for a rating kept; after 👎, the offer of a commissioner."""
    texts = texts_for(message.language)
    if rating is Rating.UP:
        return reply(message, texts.rated_helpful)
    return reply(
        message, texts.rated_unhelpful, buttons=(Button(texts.submit_button, ASK_COMMISSIONER),)
    )
