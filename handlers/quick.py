"""The quick lane: a plain question answered from the FAQ in one unit of the SQLite writer.

Most messages are policy questions from people with no conversation in progress and no request
being worked on. For those, every route before the FAQ passes: the message is no command or
button, not empty or too long, carries no file, quotes no card and names no request
(``#2026-0001 …``). Such a message is matched here on the event loop; its unit then checks,
inside the batch, that the account is not spoken for (:func:`storage.quick.spoken_for`), and
keeps the answer or the gap as the FAQ handler does. A message that is spoken for takes the full
path, whose handlers decide. Either way the replies and the rows kept are the same.

On PostgreSQL the same question goes to PostgreSQL's writer as rows (:func:`quick_rows`), which
it keeps for a whole batch of messages at once, with the same checks (:mod:`storage.pg_writer`).
"""

from __future__ import annotations

import sqlite3

from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import NotQuick, QuickRows, QuickWork, Services
from handlers.commissioners import NUMBERED_REPLY
from handlers.faq import ask
from storage import quick

__all__ = ["plain_question", "quick_question", "quick_rows"]


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
