"""An entrepreneur's commonest moves as units of SQLite's writer: rate, confirm, follow up.

The full path makes these moves through the ORM (:mod:`bot.desk.entrepreneurs`); each unit
here makes the same move with the same desk functions (:func:`~bot.desk.entrepreneurs.rated`,
:func:`~bot.desk.entrepreneurs.confirmed`, :func:`~bot.desk.entrepreneurs.followed_up`,
:func:`~bot.desk.record.redated`, the lifecycle's :func:`~bot.domain.lifecycle.transition`)
and writes the same rows in plain SQL (:mod:`storage.quick_desk`). The reads that decide the
reply (the person, the request and its state, an earlier rating, the pauses) happen inside the
unit, in the batch's transaction.

Each takes only the usual case: an entrepreneur who wrote before, moving their own request as
the lifecycle allows. For anything else (a request that is not theirs or not there, a move
the lifecycle refuses, a conversation in progress) the unit says so (``None``), its writes
are undone and the full path gives the proper answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from bot.desk import policy
from bot.desk.commands import Entrepreneur, FollowUp, Outcome
from bot.desk.compose import post_card
from bot.desk.entrepreneurs import confirmed, followed_up, rated
from bot.desk.quick_open import Asker, UnitTurn
from bot.desk.record import ENTREPRENEUR, SYSTEM_ACTOR, due_change, due_moved, redated
from bot.domain.events import EventKind
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.messages import OutgoingMessage
from storage import quick, quick_desk, quick_requests
from storage.models import Request

__all__ = ["Joins", "MoveUnit", "confirm_at_once", "follow_up_at_once", "rate_at_once"]

MoveUnit = Callable[[sqlite3.Connection], Outcome | None]
"""Makes the move on the writer's connection; ``None``: the full path must decide."""
Joins = Callable[[Request], bool]
"""Whether the text joins the account's active request as a follow-up, by the chat's rule
(:func:`handlers.my_requests.taken_as`); ``False``: the FAQ answers it, or it is held."""


def rate_at_once(
    asker: Asker, number: str, stars: int, *, now: datetime, roster: Roster, calendar: WorkCalendar
) -> MoveUnit:
    """The unit that rates request ``number`` ``stars`` for ``asker``, at ``now``.

    As :func:`bot.desk.entrepreneurs.rate`: once per result; a second press is told the
    rating that stands, and changes nothing.
    """
    turn = UnitTurn(now, roster, calendar)

    def unit(connection: sqlite3.Connection) -> Outcome | None:
        moving = _own(connection, asker, number, Action.RATE, now)
        if moving is None:
            return None
        who, request, _ = moving
        given = quick_desk.rating_of_result(connection, request.id)
        outcome = rated(who, request, stars, given)
        if given is None:
            _event(connection, turn, request, EventKind.RATED, data={"stars": stars})
            quick_desk.save(connection, request, "satisfaction", "updated_at")
        return outcome

    return unit


def confirm_at_once(
    asker: Asker, number: str, *, now: datetime, roster: Roster, calendar: WorkCalendar
) -> MoveUnit:
    """The unit that closes request ``number`` as ``asker`` accepts its result, at ``now``."""
    turn = UnitTurn(now, roster, calendar)

    def unit(connection: sqlite3.Connection) -> Outcome | None:
        moving = _own(connection, asker, number, Action.CONFIRM, now)
        if moving is None:
            return None
        who, request, status = moving
        # The card names the request's entrepreneur: the owner, just identified.
        outcome = confirmed(turn, who, request, status, who.person)
        _event(connection, turn, request, EventKind.CONFIRMED)
        quick_desk.save(connection, request, "status", "closed_at", "updated_at")
        return outcome

    return unit


def follow_up_at_once(
    asker: Asker,
    text: str,
    joins: Joins,
    *,
    now: datetime,
    roster: Roster,
    calendar: WorkCalendar,
) -> MoveUnit:
    """The unit that adds ``text`` to ``asker``'s active request, if ``joins`` says it joins.

    As :func:`bot.desk.entrepreneurs.follow_up`: a request waiting on the entrepreneur is
    worked on again, its pause ends, it is dated again and its cards say so.
    """
    turn = UnitTurn(now, roster, calendar)
    channel = asker.channel.value

    def unit(connection: sqlite3.Connection) -> Outcome | None:
        if quick.in_conversation(connection, channel, asker.user_id):
            return None  # the conversation's step may want the text
        request = quick_desk.active_request(connection, channel, asker.user_id)
        if request is None or not joins(request):
            return None
        who = _identify(connection, asker, now)
        if who is None or not policy.owns(who.person, request):
            return None
        status = transition(request.status, Action.FOLLOW_UP, Role.ENTREPRENEUR)
        _event(connection, turn, request, EventKind.FOLLOW_UP, text=text)
        changed = ["updated_at"]
        messages: list[OutgoingMessage] = []
        if request.status == Status.WAITING:
            quick_desk.end_pause(connection, request.id, now)
            request.status = status
            old = redated(turn, request, quick_desk.pauses_of(connection, request.id))
            if old is not None:
                data = due_change(old, request)
                _event(connection, turn, request, EventKind.DUE_CHANGED, SYSTEM_ACTOR, data=data)
                messages += due_moved(turn, request, old, who.person)
            messages += post_card(turn, request, who.person, edit=True)
            changed += ["status", "due_date", "deadline", "provisional"]
        quick_desk.save(connection, request, *changed)
        return followed_up(turn, who, FollowUp(request, text), messages)

    return unit


def _identify(connection: sqlite3.Connection, asker: Asker, now: datetime) -> Entrepreneur | None:
    """The sender as the desk sees an entrepreneur (:func:`handlers.basics.entrepreneur_of`)."""
    person = quick_requests.identify(
        connection,
        channel=asker.channel.value,
        user_id=asker.user_id,
        chat_id=asker.chat_id,
        display_name=asker.display_name,
        language=asker.language.value,
        now=now,
    )
    return None if person is None else Entrepreneur(person, asker.language)


def _own(
    connection: sqlite3.Connection, asker: Asker, number: str, action: Action, now: datetime
) -> tuple[Entrepreneur, Request, Status] | None:
    """The sender, their request ``number`` and where ``action`` leads it; ``None``: not so.

    The refusals (not theirs, not allowed now) are the full path's to give and to log.
    """
    who = _identify(connection, asker, now)
    if who is None:
        return None
    request = quick_desk.request_by_number(connection, number)
    if request is None or not policy.owns(who.person, request):
        return None
    try:
        status = transition(request.status, action, Role.ENTREPRENEUR)
    except IllegalTransition:
        return None
    return who, request, status


def _event(
    connection: sqlite3.Connection,
    turn: UnitTurn,
    request: Request,
    kind: EventKind,
    actor: str = ENTREPRENEUR,
    *,
    text: str | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """Append to the request's log at the unit's moment (:func:`bot.desk.record.event`).

    The request's ``updated_at`` moves with it, as the ORM's does; the caller stores it.
    """
    quick_requests.add_event(
        connection, request.id, kind=kind.value, actor=actor, at=turn.now, text=text, data=data
    )
    request.updated_at = turn.now
