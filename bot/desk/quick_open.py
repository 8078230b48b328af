"""``/new text`` as one unit of SQLite's writer: the desk opens the request in plain SQL.

The full path opens a request through the ORM (:func:`bot.desk.entrepreneurs.open_request`);
this unit does the same with the same desk functions (:func:`~bot.desk.record.routed`,
:func:`~bot.desk.entrepreneurs.opened`) and writes the same rows in plain SQL
(:mod:`storage.quick_requests`). The category and the due date are decided on the event loop
before; inside the unit, in the batch's transaction, come the reads that decide the reply (the
person and their maker space, whether a conversation is in progress), the request's number and
its id, and the texts that name them.

It takes only the usual case: an entrepreneur who wrote before, whose maker space the roster
knows, with no conversation in progress. For anything else the unit says so (``None``), its
writes are undone and the full path decides.

On PostgreSQL the same decisions make a plan for PostgreSQL's writer instead
(:func:`plan_opening`): given the account as the batch reads it, the request to open, or
``None``; the writer writes the batch's requests together (:mod:`storage.pg_requests`) and the
plan says what each one's opening tells.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.commands import Entrepreneur, Outcome
from bot.desk.entrepreneurs import opened
from bot.desk.record import ENTREPRENEUR, Opening, announce, dated, routed
from bot.domain.events import EventKind
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.logs import about
from bot.messages import Channel, Language
from storage import quick, quick_requests
from storage.models import Person, Request
from storage.pg_requests import Account, Planned

__all__ = ["Asker", "OpenPlan", "OpenUnit", "UnitTurn", "open_at_once", "plan_opening"]

OpenUnit = Callable[[sqlite3.Connection], Outcome | None]
"""Opens the request on the writer's connection; ``None``: the full path must decide."""
OpenPlan = Callable[[Account], Planned[Outcome] | None]
"""Given the account as stored, the request PostgreSQL's writer opens; ``None``: the full
path must decide."""


@dataclass(frozen=True, slots=True)
class Asker:
    """Who sends ``/new text``, as the channel tells it."""

    channel: Channel
    user_id: str
    chat_id: str
    display_name: str | None
    language: Language


@dataclass(frozen=True, slots=True)
class UnitTurn:
    """The :class:`~bot.desk.turn.Turn` of a writer unit: its statements are plain SQL."""

    now: datetime
    roster: Roster
    calendar: WorkCalendar

    @property
    def session(self) -> AsyncSession:
        """None here: a desk function that needs the ORM is not one for the unit."""
        raise RuntimeError("a writer unit has no ORM session")


def open_at_once(
    asker: Asker,
    category_id: str,
    text: str,
    *,
    phone: str | None = None,
    now: datetime,
    roster: Roster,
    calendar: WorkCalendar,
) -> OpenUnit:
    """The unit that opens ``asker``'s request of ``category_id`` saying ``text``, at ``now``.

    Args:
        asker: The entrepreneur's account.
        category_id: The kind of matter.
        text: What is needed.
        phone: The phone number given for it, if any (the guided intake asks for one).
        now: The moment it opens.
        roster: The roster in service (spaces, duty groups).
        calendar: The working-day calendar in service.
    """
    turn = UnitTurn(now, roster, calendar)
    when = dated(turn, category_id)
    known = {space.id for space in roster.spaces}
    channel = asker.channel.value

    def unit(connection: sqlite3.Connection) -> Outcome | None:
        person = quick_requests.identify(
            connection,
            channel=channel,
            user_id=asker.user_id,
            chat_id=asker.chat_id,
            display_name=asker.display_name,
            language=asker.language.value,
            now=now,
        )
        if person is None or person.space_id not in known:
            return None  # the full path asks for the maker space
        if quick.in_conversation(connection, channel, asker.user_id):
            return None  # the full path ends it first
        opening = Opening(
            person.id, channel, asker.chat_id, category_id, text, phone, person.space_id
        )
        try:
            routing = routed(turn, opening, when)
        except KeyError:
            return None  # no group serves the space: the full path says what
        number = quick_requests.next_number(connection, routing.year)
        request = quick_requests.detached(Request, **routing.columns(number))
        request.id = quick_requests.insert_request(connection, request)
        quick_requests.add_event(
            connection,
            request.id,
            kind=EventKind.OPENED.value,
            actor=ENTREPRENEUR,
            at=now,
            text=text,
            data=routing.event_data(),
        )
        who = Entrepreneur(person, asker.language)
        # On the writer's thread, the number marks this unit's lines only, not the next unit's.
        with about(None):
            announce(request, routing.group)
            messages = opened(turn, who, request, routing.group, routing.space)
        return Outcome(messages=messages, request=request)

    return unit


def plan_opening(
    asker: Asker,
    category_id: str,
    text: str,
    *,
    now: datetime,
    roster: Roster,
    calendar: WorkCalendar,
) -> OpenPlan:
    """What opens ``asker``'s request of ``category_id`` saying ``text`` at ``now``, on PostgreSQL.

    The decisions of :func:`open_at_once`, made on the account the writer's batch reads.

    Args:
        asker: The entrepreneur's account.
        category_id: The kind of matter.
        text: What is needed.
        now: The moment it opens.
        roster: The roster in service (spaces, duty groups).
        calendar: The working-day calendar in service.
    """
    turn = UnitTurn(now, roster, calendar)
    when = dated(turn, category_id)
    known = {space.id for space in roster.spaces}
    channel = asker.channel.value

    def plan(account: Account) -> Planned[Outcome] | None:
        if account.space_id is None or account.space_id not in known:
            return None  # the full path asks for the maker space
        if account.in_conversation:
            return None  # the full path ends it first
        opening = Opening(
            account.person_id, channel, asker.chat_id, category_id, text, None, account.space_id
        )
        try:
            routing = routed(turn, opening, when)
        except KeyError:
            return None  # no group serves the space: the full path says what
        # As :func:`storage.quick_requests.identify` leaves the person.
        person = quick_requests.detached(
            Person,
            id=account.person_id,
            display_name=asker.display_name or account.display_name,
            language=asker.language.value,
            space_id=account.space_id,
        )

        def replies(request_id: int, number: str) -> Outcome:
            request = quick_requests.detached(Request, id=request_id, **routing.columns(number))
            # In the writer's task, the number marks this opening's lines only, not the next.
            with about(None):
                announce(request, routing.group)
                messages = opened(
                    turn,
                    Entrepreneur(person, asker.language),
                    request,
                    routing.group,
                    routing.space,
                )
            return Outcome(messages=messages, request=request)

        return Planned(
            routing.year,
            now,
            routing.columns,
            EventKind.OPENED.value,
            ENTREPRENEUR,
            text,
            routing.event_data(),
            replies,
        )

    return plan
