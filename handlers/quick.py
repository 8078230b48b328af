"""The quick lane: the commonest messages handled in one unit each of the SQLite writer.

Several kinds take it, tried in turn (:func:`first_of`): plain questions, answered from the FAQ
(:func:`quick_question`), the guided intake's steps
(:func:`handlers.quick_intake.quick_intake`), ``/new text``, which the desk opens at once
(:func:`quick_new`), and an entrepreneur's moves (ratings, confirmations, follow-ups, 👍/👎,
:mod:`handlers.quick_moves`). Typed text is a question, an intake step or a follow-up depending
on what is stored: the question's unit looks inside the batch and hands text that is spoken for
on to the next lane's unit, so a plain question costs no more than before.

Most messages are policy questions from people with no conversation in progress and no request
being worked on. For those, every route before the FAQ passes: the message is no command or
button, not empty or too long, carries no file, quotes no card and names no request
(``#2026-0001 …``). Such a message is matched here on the event loop; its unit then checks,
inside the batch, that the account is not spoken for (:func:`storage.quick.spoken_for`), and
keeps the answer or the gap as the FAQ handler does. A message that is spoken for goes to the
next lane (an intake step), else to the full path, whose handlers decide. Either way the
replies and the rows kept are the same.

On PostgreSQL the same question goes to PostgreSQL's writer as rows (:func:`quick_rows`), which
it keeps for a whole batch of messages at once, with the same checks (:mod:`storage.pg_writer`);
``/new text`` goes there as the desk's plan (:func:`quick_opening`).

``/new text`` from an entrepreneur who wrote before goes to the desk's unit
(:func:`bot.desk.quick_open.open_at_once`), which opens the request if their maker space is
known and no conversation is in progress, as :func:`handlers.intake.new` would; otherwise the
full path decides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.desk.quick_open import Asker, open_at_once, plan_opening
from bot.domain import categories
from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import NotQuick, QuickLane, QuickOpening, QuickRows, QuickWork, Services
from handlers.basics import answer, as_the_group_reads
from handlers.commissioners import NUMBERED_REPLY
from handlers.faq import ask
from storage import quick
from storage.pg_requests import Account, Planned

__all__ = [
    "asker_of",
    "first_of",
    "first_rows",
    "opens_at_once",
    "plain_question",
    "quick_new",
    "quick_opening",
    "quick_question",
    "quick_rows",
]


def first_of(*lanes: QuickLane) -> QuickLane:
    """One lane that hands a message to each of ``lanes`` with a unit for it, in turn.

    Their units are tried in that order inside one unit: the first that does not find the
    message :class:`NotQuick` answers it, and whatever the ones before wrote is undone. A
    message only one lane takes (a command, a button) goes to that lane's unit alone.
    """

    def lane(message: IncomingMessage, services: Services) -> QuickWork | None:
        works = [work for each in lanes if (work := each(message, services)) is not None]
        if len(works) > 1:
            return _in_turn(works)
        return works[0] if works else None

    return lane


W = TypeVar("W")
D = TypeVar("D")


def first_rows(
    *lanes: Callable[[IncomingMessage, Services], W | None],
) -> Callable[[IncomingMessage, Services], W | None]:
    """One lane for PostgreSQL's writer: the work of the first of ``lanes`` with any for it."""

    def lane(message: IncomingMessage, services: Services) -> W | None:
        for each in lanes:
            work = each(message, services)
            if work is not None:
                return work
        return None

    return lane


def _in_turn(works: list[QuickWork]) -> QuickWork:
    """One unit that tries ``works`` in turn, each but the last in a savepoint of its own."""
    *tried, last = works

    def work(connection: sqlite3.Connection) -> Sequence[OutgoingMessage]:
        for each in tried:
            connection.execute("SAVEPOINT lane")
            try:
                replies = each(connection)
            except NotQuick:
                connection.execute("ROLLBACK TO lane")
                connection.execute("RELEASE lane")
                continue
            # Any other error goes on to the writer, whose rollback of the unit ends this too.
            connection.execute("RELEASE lane")
            return replies
        return last(connection)

    return work


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
            # An intake step or a follow-up, perhaps: the next lane's, else the full path's.
            raise NotQuick
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


def asker_of(message: IncomingMessage) -> Asker:
    """Who asks to open a request, as the desk's opening unit knows them."""
    sender = message.sender
    return Asker(
        message.channel, sender.user_id, message.chat_id, sender.display_name, message.language
    )


def quick_new(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that opens the request ``/new text`` asks for; ``None`` for any other message."""
    unit = _opening(message, services, open_at_once)
    if unit is None:
        return None

    def work(connection: sqlite3.Connection) -> list[OutgoingMessage]:
        outcome = unit(connection)
        if outcome is None:
            raise NotQuick
        return answer(message, outcome)

    return work


def _opening(message: IncomingMessage, services: Services, desk: Callable[..., D]) -> D | None:
    """What the desk's ``desk`` (SQLite's unit or PostgreSQL's plan) opens for ``/new text``.

    ``None`` for any other message. The full path reads the clock once more for the dedup
    key; a unit runs within the batch's few milliseconds of this reading.
    """
    roster = services.roster.current
    if not (opens_at_once(message) and roster.spaces):
        return None
    text = message.command_args
    return desk(
        asker_of(message),
        categories.guess(text).id,
        as_the_group_reads(message, text),
        now=services.clock.now(),
        roster=roster,
        calendar=services.calendar.current,
    )


def quick_opening(message: IncomingMessage, services: Services) -> QuickOpening | None:
    """What PostgreSQL's writer opens for ``/new text``; ``None`` for any other message."""
    plan = _opening(message, services, plan_opening)
    if plan is None:
        return None

    def told(account: Account) -> Planned[list[OutgoingMessage]] | None:
        planned = plan(account)
        return None if planned is None else planned.then(lambda outcome: answer(message, outcome))

    return QuickOpening(told)
