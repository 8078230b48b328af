"""Answer policy questions from the knowledge base, citing the source.

Every answer is kept with the question as asked and carries 👍/👎 (:mod:`handlers.feedback`
takes the press), so that the admins see which answers did not help.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from bot.domain.workdays import shanghai_date
from bot.messages import MAX_PAYLOAD, Button, IncomingMessage, Language, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.chat import texts_for
from bot.texts.faq import FaqTexts, faq_texts_for
from handlers.basics import reply, words_wanted
from knowledge.matcher import Band, MatchResult
from knowledge.model import FaqEntry
from knowledge.reading import CHECKED_ASKS, Chatter, District, Reading
from knowledge.service import KnowledgeBase
from knowledge.text import looks_english
from storage.answers import AnswerRow, Rating, record_answer
from storage.questions import GapRow, asked_text, record_unanswered

__all__ = [
    "ASK_COMMISSIONER",
    "RATE_PREFIX",
    "SUGGESTION_PREFIX",
    "Answer",
    "AnswerRow",
    "Asked",
    "GapRow",
    "Reply",
    "answer_question",
    "ask",
    "carried_question",
    "language_of",
    "rating_buttons",
    "rating_of",
    "router",
]

router = Router("faq")

SUGGESTION_PREFIX = "faq:"
"""Button payload of a suggested entry: ``faq:<id>``, or ``faq:<id>:<question id>`` when it
carries the question it was suggested for."""
ASK_COMMISSIONER = "request:new"
"""Button payload that opens a service request: ``request:new``, or ``request:new:<question id>``
when it carries the unanswered question it was offered for (the intake starts from it)."""
RATE_PREFIX = "rate:"
"""Button payload of 👍/👎 under an answer: ``rate:<answer id>:up`` or ``rate:<answer id>:down``."""
_RATING = re.compile(rf"{re.escape(RATE_PREFIX)}([0-9]{{1,12}}):(up|down)")
_SUGGESTION = re.compile(rf"{re.escape(SUGGESTION_PREFIX)}([^:]+)(?::([0-9]{{1,12}}))?")
_CARRIED = re.compile(rf"{re.escape(ASK_COMMISSIONER)}:([0-9]{{1,12}})")


class Reply(StrEnum):
    """What kind of reply the bot gives to a message."""

    ANSWERED = "answered"
    """An entry answers it outright."""
    NOT_STATED = "not-stated"
    """The nearest entry is on its topic but does not state what it asks (a rate, a date)."""
    SUGGESTED = "suggested"
    NO_MATCH = "no-match"
    """On the policies' topics, but nothing answers it: offered to a commissioner."""
    CHATTER = "chatter"
    ELSEWHERE = "elsewhere"
    """About a place outside Tianjin."""
    OFF_TOPIC = "off-topic"


QUIET = frozenset({Reply.CHATTER, Reply.ELSEWHERE, Reply.OFF_TOPIC})
"""Replies that are not knowledge gaps: nothing is kept for ``kb gaps``."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot says to a question, before it is addressed to a chat."""

    result: MatchResult
    text: str
    source: str | None
    faq_id: str | None
    buttons: tuple[Button, ...]
    kind: Reply = Reply.ANSWERED


def language_of(text: str, default: Language = Language.ZH) -> Language:
    """The language to answer ``text`` in: its own, or ``default`` when it cannot be told."""
    english = looks_english(text)
    if english is None:
        return default
    return Language.EN if english else Language.ZH


def answer_question(
    base: KnowledgeBase, question: str, language: Language, today: date | None = None
) -> Answer:
    """Compose the bot's reply to ``question``: the answer, suggestions, or an offer to ask.

    The CLI's ``ask`` uses this too, so it answers exactly like the bot. The rating buttons
    under an answer are the handler's to add: they name the answer as it was kept.

    Args:
        base: The knowledge base serving now.
        question: As the user wrote it.
        language: The language to answer in (:func:`language_of` the question, usually).
        today: The date in Asia/Shanghai, for notes on lapsed measures; none without it.
    """
    texts = texts_for(language)
    faq = faq_texts_for(language)
    # From the base's match cache when the same text was asked before: the language and the
    # date come in only below.
    understood = base.understand(question)
    reading, result = understood.reading, understood.result
    ask = Button(texts.submit_button, ASK_COMMISSIONER)
    if reading.chatter is not None:
        # Only asking for a person leads on to a request; an insult is answered, not escalated.
        buttons = (ask,) if reading.chatter is Chatter.HUMAN else ()
        return Answer(
            result, faq.chatter[reading.chatter.value], None, None, buttons, Reply.CHATTER
        )
    if reading.elsewhere is not None:
        text = faq.elsewhere.format(place=reading.elsewhere)
        return Answer(result, text, None, None, (), Reply.ELSEWHERE)
    if reading.task:
        return _off_topic(result, faq)
    if result.band is Band.ANSWER and result.best is not None:
        entry = result.best.entry
        body = _answer_text(base, entry, language, today)
        if entry.silent:  # the entry says what the policies do not provide
            return Answer(result, body, entry.source, None, (ask,), Reply.NOT_STATED)
        other = _other_district(base, entry, reading)
        if other is not None:
            district, area = (
                (other[0].name_en, other[1].name_en)
                if language is Language.EN
                else (other[0].name, other[1].name)
            )
            line = faq.other_district.format(district=district, area=area)
            text = f"{line}\n{faq.nearest}\n{body}"
            return Answer(result, text, entry.source, None, (ask,), Reply.NOT_STATED)
        # Not stated: the question asks for a fact of a checked kind (an amount, a date) and the
        # entry states none of what the question asks; a question that also asks "how" is
        # answered by an entry that says how.
        checked = reading.asks & CHECKED_ASKS
        if checked and entry.answers and not reading.asks & entry.answers:
            missing = sorted(checked)[0]
            text = f"{faq.not_stated[missing.value]}\n{faq.nearest}\n{body}"
            return Answer(result, text, entry.source, None, (ask,), Reply.NOT_STATED)
        return Answer(result, body, entry.source, entry.id, ())
    if result.band is Band.SUGGEST:
        # The questions are the buttons (WeChat shows them as links): listed in the text too,
        # each would be read twice.
        lines = [texts.suggest_intro, texts.suggest_outro]
        offered = tuple(
            Button(_question_text(m.entry, language), SUGGESTION_PREFIX + m.entry.id)
            for m in result.matches
        )
        return Answer(result, "\n".join(lines), None, None, (*offered, ask), Reply.SUGGESTED)
    if understood.off_topic:
        return _off_topic(result, faq)
    return Answer(result, texts.no_match, None, None, (ask,), Reply.NO_MATCH)


def _off_topic(result: MatchResult, faq: FaqTexts) -> Answer:
    """What the bot covers, with example questions, and no offer of a request."""
    text = "\n".join((faq.off_topic, *(f"· {example}" for example in faq.examples)))
    return Answer(result, text, None, None, (), Reply.OFF_TOPIC)


def _other_district(
    base: KnowledgeBase, entry: FaqEntry, reading: Reading
) -> tuple[District, District] | None:
    """The district the question names and the other one whose plan ``entry`` is from, if so.

    Baodi's seed fund is not Xiqing's: a question naming only other districts than the one the
    entry's document is for is not answered by it.
    """
    document = base.document_of(entry)
    if document is None or document.district is None or not reading.districts:
        return None
    if any(d.name == document.district for d in reading.districts):
        return None
    area = base.reader.district(document.district)
    return (reading.districts[0], area) if area is not None else None


def _question_text(entry: FaqEntry, language: Language) -> str:
    if language is Language.EN and entry.english is not None:
        return entry.english.question.text
    return entry.question


def _answer_text(
    base: KnowledgeBase, entry: FaqEntry, language: Language, today: date | None
) -> str:
    """The entry's answer in ``language`` (Chinese where it has no English).

    An answer drawn from a measure past its term (on ``today``) ends with a line that says so.
    """
    english = language is Language.EN and entry.english is not None
    text = entry.english.answer if english and entry.english is not None else entry.answer
    document = base.document_of(entry)
    if today is None or document is None or not document.lapsed(today):
        return text
    until = document.valid_until
    title = document.title_en if english else document.title
    note = faq_texts_for(Language.EN if english else Language.ZH).lapsed.format(
        document=title if english else f"《{title}》",
        until=until.isoformat() if until else "-",
    )
    return f"{text}\n\n{note}"


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


def _as_message(message: IncomingMessage, answer: Answer, language: Language) -> OutgoingMessage:
    return OutgoingMessage(
        message.chat_id,
        message.channel,
        answer.text,
        buttons=answer.buttons,
        source=answer.source,
        faq_id=answer.faq_id,
        language=language,
    )


def carried_question(payload: str) -> int | None:
    """The kept question a [提交给服务专员] payload names, or ``None`` if it names none."""
    found = _CARRIED.fullmatch(payload)
    return int(found.group(1)) if found else None


def _carrying(button: Button, question_id: int) -> Button:
    """A suggestion or [提交给服务专员] button that also names the question, where that fits."""
    if not button.payload.startswith(SUGGESTION_PREFIX) and button.payload != ASK_COMMISSIONER:
        return button
    payload = f"{button.payload}:{question_id}"
    return replace(button, payload=payload) if len(payload.encode()) <= MAX_PAYLOAD else button


@dataclass(frozen=True, slots=True)
class Asked:
    """A free-text question answered, before what is kept of it is written.

    The matching and composing happen here, away from the database; the handler (through the
    ORM) or the quick lane (:mod:`handlers.quick`, through SQLite's or PostgreSQL's writer)
    then keeps the answer or the gap, and :meth:`replies` names the kept row in the buttons.
    """

    message: IncomingMessage
    answer: Answer
    language: Language

    @property
    def keeps_answer(self) -> bool:
        """An entry answered it: the answer is kept, and rated by its 👍/👎."""
        return self.answer.faq_id is not None and self.answer.result.best is not None

    @property
    def keeps_gap(self) -> bool:
        """Not answered outright and about the policies: kept for ``kb gaps``."""
        return not self.keeps_answer and self.answer.kind not in QUIET

    def answer_row(self) -> AnswerRow:
        """The kept answer's fields (:func:`storage.answers.record_answer`)."""
        best = self.answer.result.best
        assert best is not None
        assert self.answer.faq_id is not None
        message = self.message
        return {
            "answered_at": message.received_at,
            "channel": message.channel.value,
            "chat_id": message.chat_id,
            "text": message.text,
            "faq_id": self.answer.faq_id,
            "score": best.score,
        }

    def gap_row(self) -> GapRow:
        """The kept question's fields (:func:`storage.questions.record_unanswered`)."""
        best = self.answer.result.best
        return {
            "asked_at": self.message.received_at,
            "channel": self.message.channel.value,
            "chat_id": self.message.chat_id,
            "text": self.message.text,
            "band": self.answer.result.band.value,
            "best_faq_id": best.entry.id if best else None,
            "best_score": best.score if best else 0.0,
        }

    def replies(self, kept: int | None) -> list[OutgoingMessage]:
        """The reply, its buttons naming the kept row ``kept`` (when one was kept)."""
        answer, language = self.answer, self.language
        if kept is not None and self.keeps_answer:
            answer = replace(answer, buttons=rating_buttons(kept, language))
        elif kept is not None:
            answer = replace(answer, buttons=tuple(_carrying(b, kept) for b in answer.buttons))
        return [_as_message(self.message, answer, language)]


def ask(message: IncomingMessage, base: KnowledgeBase) -> Asked:
    """Answer ``message``'s text (not empty) in its own language, from ``base``."""
    language = language_of(message.text, message.language)
    today = shanghai_date(message.received_at)
    return Asked(message, answer_question(base, message.text, language, today), language)


@router.message()
async def question(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Any free text is a question, answered in its own language.

    Every answer and every question not answered is kept, except chatter and what is not about
    the policies at all: those are not gaps in the knowledge base.
    """
    if not message.text:  # a bare photo, file or voice that no request was waiting for
        return words_wanted(message)
    asked = ask(message, context.knowledge.current)
    context.services.metrics.answers.labels(asked.answer.result.band.value).inc()
    kept = None
    if asked.keeps_answer:
        kept = await record_answer(context.session, **asked.answer_row())
    elif asked.keeps_gap:
        kept = await record_unanswered(context.session, **asked.gap_row())
    return asked.replies(kept)


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
    language = language_of(asked, message.language) if asked else message.language
    return [
        OutgoingMessage(
            message.chat_id,
            message.channel,
            _answer_text(base, entry, language, shanghai_date(message.received_at)),
            buttons=rating_buttons(answer_id, language),
            source=entry.source,
            faq_id=entry.id,
            language=language,
        )
    ]
