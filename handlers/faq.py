"""Answer policy questions from the knowledge base, citing the source.

Every answer is kept with the question as asked and carries 👍/👎 (:mod:`handlers.feedback`
takes the press), so that the admins see which answers did not help.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.messages import MAX_PAYLOAD, Button, IncomingMessage, Language, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import texts_for
from handlers.basics import reply
from knowledge.matcher import Band, MatchResult
from knowledge.service import KnowledgeBase
from storage.answers import Rating, record_answer
from storage.questions import asked_text, record_unanswered

__all__ = [
    "ASK_COMMISSIONER",
    "RATE_PREFIX",
    "SUGGESTION_PREFIX",
    "Answer",
    "answer_question",
    "rating_buttons",
    "rating_of",
    "router",
]

router = Router("faq")

SUGGESTION_PREFIX = "faq:"
"""Button payload of a suggested entry: ``faq:<id>``, or ``faq:<id>:<question id>`` when it
carries the question it was suggested for."""
ASK_COMMISSIONER = "request:new"
"""Button payload that opens a service request."""
RATE_PREFIX = "rate:"
"""Button payload of 👍/👎 under an answer: ``rate:<answer id>:up`` or ``rate:<answer id>:down``."""
_RATING = re.compile(rf"{re.escape(RATE_PREFIX)}([0-9]{{1,12}}):(up|down)")
_SUGGESTION = re.compile(rf"{re.escape(SUGGESTION_PREFIX)}([^:]+)(?::([0-9]{{1,12}}))?")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says to a question, before it is addressed to a chat."""

    result: MatchResult
    text: str
    source: str | None
    faq_id: str | None
    buttons: tuple[Button, ...]


def answer_question(base: KnowledgeBase, question: str, language: Language) -> Answer:
    """Compose the bot's reply to ``question``: the answer, suggestions, or an offer to ask.

    The CLI's ``ask`` uses this too, so it answers exactly like the bot. The rating buttons
    under an answer are the handler's to add: they name the answer as it was kept.
    """
    texts = texts_for(language)
    result = base.match(question)
    ask = Button(texts.submit_button, ASK_COMMISSIONER)
    if result.band is Band.ANSWER and result.best is not None:
        entry = result.best.entry
        return Answer(result, entry.answer, entry.source, entry.id, ())
    if result.band is Band.SUGGEST:
        lines = [texts.suggest_intro]
        lines += [f"{n}. {m.entry.question}" for n, m in enumerate(result.matches, 1)]
        lines.append(texts.suggest_outro)
        buttons = tuple(
            Button(m.entry.question, SUGGESTION_PREFIX + m.entry.id) for m in result.matches
        )
        return Answer(result, "\n".join(lines), None, None, (*buttons, ask))
    return Answer(result, texts.no_match, None, None, (ask,))


def rating_buttons(answer_id: int, language: Language) -> tuple[Button, Button]:
    """👍 and 👎 for the kept answer ``answer_id``."""
    texts = texts_for(language)
    return (
        Button(texts.helpful_button, f"{RATE_PREFIX}{answer_id}:{Rating.UP.value}"),
        Button(texts.unhelpful_button, f"{RATE_PREFIX}{answer_id}:{Rating.DOWN.value}"),
    )


def rating_of(payload: str) -> tuple[int, Rating] | None:
    """The answer id and rating a 👍/👎 payload names, or ``None`` if it is not one."""
    found = _RATING.fullmatch(payload)
    return (int(found.group(1)), Rating(found.group(2))) if found else None


def _as_message(message: IncomingMessage, answer: Answer) -> OutgoingMessage:
    return OutgoingMessage(
        message.chat_id,
        message.channel,
        answer.text,
        buttons=answer.buttons,
        source=answer.source,
        faq_id=answer.faq_id,
        language=message.language,
    )


def _carrying(button: Button, question_id: int) -> Button:
    """A suggestion button that also names the question it answers, where that fits."""
    if not button.payload.startswith(SUGGESTION_PREFIX):
        return button
    payload = f"{button.payload}:{question_id}"
    return replace(button, payload=payload) if len(payload.encode()) <= MAX_PAYLOAD else button


@router.message()
async def question(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Any free text is a question; every answer and every question not answered is kept."""
    if not message.text:  # a bare photo or file that no request was waiting for
        return reply(message, texts_for(message.language).attachment_only)
    answer = answer_question(context.knowledge.current, message.text, message.language)
    context.services.metrics.answers.labels(answer.result.band.value).inc()
    best = answer.result.best
    if answer.faq_id is not None and best is not None:
        answer_id = await record_answer(
            context.session,
            answered_at=message.received_at,
            channel=message.channel.value,
            chat_id=message.chat_id,
            text=message.text,
            faq_id=answer.faq_id,
            score=best.score,
        )
        answer = replace(answer, buttons=rating_buttons(answer_id, message.language))
        return [_as_message(message, answer)]
    question_id = await record_unanswered(
        context.session,
        asked_at=message.received_at,
        channel=message.channel.value,
        text=message.text,
        band=answer.result.band.value,
        best_faq_id=best.entry.id if best else None,
        best_score=best.score if best else 0.0,
    )
    buttons = tuple(_carrying(button, question_id) for button in answer.buttons)
    return [_as_message(message, replace(answer, buttons=buttons))]


@router.choice(SUGGESTION_PREFIX)
async def suggestion(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The user picked one of the suggestions: answer that entry, and keep the answer."""
    assert message.choice is not None
    base = context.knowledge.current
    picked = _SUGGESTION.fullmatch(message.choice)
    entry = base.by_id.get(picked.group(1)) if picked else None
    if picked is None or entry is None:  # the entry went away in a reload since it was shown
        return reply(message, texts_for(message.language).suggestion_gone)
    carried = picked.group(2)
    asked = await asked_text(context.session, int(carried)) if carried else None
    # The score the entry had when it was suggested: the same question meets the same matcher
    # (unless a reload came in between, when it may not be among the matches any more).
    score = (
        next((m.score for m in base.match(asked).matches if m.entry.id == entry.id), None)
        if asked
        else None
    )
    answer_id = await record_answer(
        context.session,
        answered_at=message.received_at,
        channel=message.channel.value,
        chat_id=message.chat_id,
        text=asked or entry.question,
        faq_id=entry.id,
        score=score,
        picked=True,
    )
    return [
        OutgoingMessage(
            message.chat_id,
            message.channel,
            entry.answer,
            buttons=rating_buttons(answer_id, message.language),
            source=entry.source,
            faq_id=entry.id,
            language=message.language,
        )
    ]
