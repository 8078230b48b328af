"""The quick lane for an entrepreneur's moves: ratings, confirmations, follow-ups, 👍/👎.

Each lane here prepares a message on the event loop and hands the desk's unit for it
(:mod:`bot.desk.quick_moves`) to SQLite's writer, as :func:`handlers.quick.quick_new` does:

- :func:`quick_press`: the stars under a result (``req:rate:<number>:<n>``) and
  [确认解决] (``req:confirm:<number>``), as :func:`handlers.my_requests.request_button` reads
  them; reopening stays on the full path (it counts working days back, rarely pressed);
- :func:`quick_follow_up`: plain text from an entrepreneur whose request is being worked on
  and takes it as a follow-up (:func:`handlers.my_requests.taken_as`). It comes after
  :func:`handlers.quick.quick_question` in the composition: that unit finds such an account
  spoken for, and this one is tried next in the same unit (:func:`handlers.quick.first_of`);
- :func:`quick_feedback`: 👍/👎 under an answer (:func:`handlers.feedback.rated`).

Whatever the unit finds unusual (no such request or answer, not the sender's, a move the
lifecycle refuses, a conversation in progress, a duty group member writing) raises
:class:`~bot.routing.NotQuick`: the full path gives the proper answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bot.desk.commands import Confirm, Rate
from bot.desk.quick_moves import MoveUnit, confirm_at_once, follow_up_at_once, rate_at_once
from bot.messages import IncomingMessage, OutgoingMessage
from bot.routing import NotQuick, QuickWork, Services
from handlers.basics import answer, as_the_group_reads
from handlers.faq import RATE_PREFIX, rating_of
from handlers.feedback import thanks
from handlers.my_requests import Taken, request_move, taken_as
from handlers.quick import asker_of, plain_question
from storage import quick_desk
from storage.models import Request

__all__ = ["quick_feedback", "quick_follow_up", "quick_press"]

_REQUEST_PREFIX = "req:"
"""The buttons :func:`handlers.my_requests.request_button` takes."""


def quick_press(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that rates or confirms the request a button names; ``None``: not such a press."""
    choice = message.choice
    if choice is None or not choice.startswith(_REQUEST_PREFIX):
        return None
    move = request_move(choice)
    asker = asker_of(message)
    now, roster, calendar = services.clock.now(), services.roster.current, services.calendar.current
    if isinstance(move, Rate):
        unit = rate_at_once(
            asker, move.number, move.stars, now=now, roster=roster, calendar=calendar
        )
    elif isinstance(move, Confirm):
        unit = confirm_at_once(asker, move.number, now=now, roster=roster, calendar=calendar)
    else:
        return None
    return _answered(message, unit)


def quick_follow_up(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that adds plain text to the sender's request; ``None``: not plain text.

    Every plain question is offered here too, and most are answered as questions first: so
    the unit is built only when it runs, on the writer's thread. Matching the text against
    the FAQ is needed only for a request not waiting on the entrepreneur; the unit does it
    then (the matcher only reads).
    """
    if not plain_question(message):
        return None
    now = services.clock.now()
    roster, calendar = services.roster.current, services.calendar.current
    base = services.knowledge.current

    def joins(request: Request) -> bool:
        return taken_as(message, request, base) is Taken.FOLLOW_UP

    def work(connection: sqlite3.Connection) -> Sequence[OutgoingMessage]:
        if roster.roles_for(message.sender).member_of:
            raise NotQuick  # a member's text is theirs to route (handlers.commissioners)
        text = as_the_group_reads(message, message.text)
        unit = follow_up_at_once(
            asker_of(message), text, joins, now=now, roster=roster, calendar=calendar
        )
        return _answered(message, unit)(connection)

    return work


def quick_feedback(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that keeps 👍/👎 under an answer; ``None``: not such a press."""
    pressed = None if message.choice is None else rating_of(message.choice)
    if pressed is None or not message.choice or not message.choice.startswith(RATE_PREFIX):
        return None
    answer_id, rating = pressed
    now = services.clock.now()

    def work(connection: sqlite3.Connection) -> list[OutgoingMessage]:
        kept = quick_desk.rate_answer(
            connection,
            answer_id,
            channel=message.channel.value,
            chat_id=message.chat_id,
            rating=rating.value,
            at=now,
        )
        if not kept:
            raise NotQuick  # no such answer, or another chat's: the full path says which
        return thanks(message, rating)

    return work


def _answered(message: IncomingMessage, unit: MoveUnit) -> QuickWork:
    """The work that runs ``unit`` and answers as :func:`handlers.basics.answer` does."""

    def work(connection: sqlite3.Connection) -> list[OutgoingMessage]:
        outcome = unit(connection)
        if outcome is None:
            raise NotQuick
        return answer(message, outcome)

    return work
