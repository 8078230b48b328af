"""The quick lane: the commonest messages handled in one unit each of the SQLite writer.

Three kinds take it, tried in turn (:func:`first_of`): plain questions, answered from the FAQ
(:func:`quick_question`), the guided intake's steps
(:func:`handlers.quick_intake.quick_intake`), and ``/new text``, which the desk opens at once
(:func:`quick_new`). Typed text is a question or an intake step depending on what is stored:
the question's unit looks inside the batch and hands text that is spoken for on to the
intake's (:class:`NotMine`), so a plain question costs no more than before.

Most messages are policy questions from people with no conversation in progress and no request
being worked on. For those, every route before the FAQ passes: the message is no command or
button, not empty or too long, carries no file, quotes no card and names no request
(``#2026-0001 …``). Such a message is matched here on the event loop; its unit then checks,
inside the batch, that the account is not spoken for (:func:`storage.quick.spoken_for`), and
keeps the answer or the gap as the FAQ handler does. A message that is spoken for goes to the
next lane (an intake step), else to the full path, whose handlers decide. Either way the
replies and the rows kept are the same.

On PostgreSQL the same question goes to PostgreSQL's writer as rows (:func:`quick_rows`), which
it keeps for a whole batch of messages at once, with the same checks (:mod:`storage.pg_writer`).

``/new text`` from an entrepreneur who wrote before goes to the desk's unit
(:func:`bot.desk.quick_open.open_at_once`), which opens the request if their maker space is
known and no conversation is in progress, as :func:`handlers.intake.new` would; otherwise the
full path decides.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

from bot.desk.quick_open import Asker, open_at_once
from bot.domain import categories
from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import NotQuick, QuickLane, QuickRows, QuickWork, Services
from handlers.basics import answer
from handlers.commissioners import NUMBERED_REPLY
from handlers.faq import ask
from storage import quick

__all__ = [
    "NotMine",
    "first_of",
    "opens_at_once",
    "plain_question",
    "quick_new",
    "quick_question",
    "quick_rows",
]


class NotMine(NotQuick):
    """A unit found, inside the batch, that its message is the next lane's (before writing)."""


def first_of(*lanes: QuickLane) -> QuickLane:
    """One lane that hands a message to the first of ``lanes`` with a unit for it.

    Some messages only the database can place (typed text is an intake step, or a question):
    each lane that takes one prepares its unit, and a unit that finds inside the batch that
    the message is not its own (:class:`NotMine`) hands it to the next.
    """

    def lane(message: IncomingMessage, services: Services) -> QuickWork | None:
        works = [taken for each in lanes if (taken := each(message, services)) is not None]
        if len(works) < 2:
            return works[0] if works else None

        def work(connection: sqlite3.Connection) -> Sequence[OutgoingMessage]:
            for each in works:
                with contextlib.suppress(NotMine):
                    return each(connection)
            raise NotQuick

        return work

    return lane


def plain_question(message: IncomingMessage) -> bool:
    """Whether only the FAQ's route can take ``message``, unless its account is spoken for."""
    return (
        bool(message.text)
        and len(message.text) <= MAX_TEXT_LENGTH
        and message.command is None
        and message.choice is None
        and not message.attachments
        and message.reply_to is None
        and NUMBERED_REPLY.match(message.text) is None
    )


def quick_question(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that answers a plain question, matched now; ``None`` for any other message."""
    if not plain_question(message):
        return None
    asked = ask(message, services.knowledge.current)
    band = asked.answer.result.band.value

    def work(connection: sqlite3.Connection) -> list[OutgoingMessage]:
        if quick.spoken_for(connection, message.channel.value, message.sender.user_id):
            raise NotMine  # an intake step, perhaps: the next lane's, else the full path's
        kept = None
        if asked.keeps_answer:
            kept = quick.keep_answer(connection, **asked.answer_row())
        elif asked.keeps_gap:
            kept = quick.keep_unanswered(connection, **asked.gap_row())
        services.metrics.answers.labels(band).inc()
        return asked.replies(kept)

    return work


def quick_rows(message: IncomingMessage, services: Services) -> QuickRows | None:
    """What PostgreSQL's writer keeps of a plain question, matched now; ``None``: not one."""
    if not plain_question(message):
        return None
    asked = ask(message, services.knowledge.current)
    return QuickRows(
        answer=asked.answer_row() if asked.keeps_answer else None,
        gap=asked.gap_row() if asked.keeps_gap else None,
        replies=asked.replies,
        handled=services.metrics.answers.labels(asked.answer.result.band.value).inc,
    )


def opens_at_once(message: IncomingMessage) -> bool:
    """Whether ``message`` is ``/new text`` (:func:`handlers.intake.new`'s), with no file."""
    return (
        message.command == "new"
        and message.choice is None
        and not message.attachments
        and bool(message.command_args)
    )


def quick_new(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that opens the request ``/new text`` asks for; ``None`` for any other message."""
    roster = services.roster.current
    if not (opens_at_once(message) and roster.spaces):
        return None
    text = message.command_args
    sender = message.sender
    unit = open_at_once(
        Asker(
            message.channel, sender.user_id, message.chat_id, sender.display_name, message.language
        ),
        categories.guess(text).id,
        text,
        # The full path reads the clock once more for the dedup key; a unit runs within the
        # batch's few milliseconds of this reading.
        now=services.clock.now(),
        roster=roster,
        calendar=services.calendar.current,
    )

    def work(connection: sqlite3.Connection) -> list[OutgoingMessage]:
        outcome = unit(connection)
        if outcome is None:
            raise NotQuick
        return answer(message, outcome)

    return work
