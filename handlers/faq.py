"""Answer policy questions from the knowledge base, citing the source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.messages import Button, IncomingMessage, Language, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import texts_for
from handlers.basics import reply
from knowledge.matcher import Band, MatchResult
from knowledge.service import KnowledgeBase
from storage.questions import record_unanswered

__all__ = ["ASK_COMMISSIONER", "SUGGESTION_PREFIX", "Answer", "answer_question", "router"]

router = Router("faq")

SUGGESTION_PREFIX = "faq:"
"""Button payload of a suggested entry: ``faq:<id>``."""
ASK_COMMISSIONER = "request:new"
"""Button payload that opens a service request."""


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

    The CLI's ``ask`` uses this too, so it answers exactly like the bot.
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


@router.message()
async def question(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Any free text is a question; what the bot could not answer is kept for the admins."""
    if not message.text:  # a bare photo or file that no request was waiting for
        return reply(message, texts_for(message.language).attachment_only)
    answer = answer_question(context.knowledge.current, message.text, message.language)
    if answer.result.band is not Band.ANSWER:
        best = answer.result.best
        record_unanswered(
            context.session,
            asked_at=message.received_at,
            channel=message.channel.value,
            text=message.text,
            band=answer.result.band.value,
            best_faq_id=best.entry.id if best else None,
            best_score=best.score if best else 0.0,
        )
    return [_as_message(message, answer)]


@router.choice(SUGGESTION_PREFIX)
async def suggestion(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The user picked one of the suggestions: answer that entry."""
    assert message.choice is not None
    entry = context.knowledge.current.by_id.get(message.choice.removeprefix(SUGGESTION_PREFIX))
    if entry is None:  # the entry went away in a reload since the suggestion was shown
        return await question(message, context) or []
    return [
        OutgoingMessage(
            message.chat_id,
            message.channel,
            entry.answer,
            source=entry.source,
            faq_id=entry.id,
            language=message.language,
        )
    ]
