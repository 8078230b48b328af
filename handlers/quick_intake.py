"""The guided intake's steps as units of SQLite's writer: the same steps, kept in plain SQL.

``/new``, ``/cancel``, the intake's buttons (``intake:…``), a maker space chosen (``space:…``)
and text typed during an intake run :mod:`handlers.intake`'s own steps, with an
:class:`~handlers.intake.IntakeStore` whose statements are plain SQL on the unit's connection
(:mod:`storage.quick_conversations`, :mod:`storage.quick_requests`); the request a confirmed
summary opens is opened by the desk's unit (:func:`bot.desk.quick_open.open_at_once`). Every
read that decides the reply (the conversation, the person and their maker space) happens
inside the batch, so the replies and the rows are the full path's.

The steps are coroutines, written for the ORM's session; here nothing they wait on waits (each
statement runs at once on the writer's thread), so a step runs to its end on one ``send``
(:func:`_settled`).

What the unit cannot do, it hands to the full path (:class:`~bot.routing.NotQuick`): a sender
never seen before (creating a person is the ORM's) and a request the desk's unit declines. A
plain question reaches this lane only when the question's unit found the account spoken for;
typed text with no intake going on is not this lane's either
(:class:`~bot.routing.NotQuick`): the next lane (a follow-up) or the full path decides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.desk.commands import Entrepreneur, Open, Outcome
from bot.desk.quick_open import Asker, open_at_once
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import NotQuick, QuickWork, Services
from handlers.intake import (
    BUTTON_PREFIX,
    SPACE_PREFIX,
    begin_with,
    end_with,
    pressed_with,
    space_chosen_with,
    typed_with,
)
from storage import quick_conversations, quick_requests
from storage.conversations import ConversationState
from storage.models import Person

__all__ = ["quick_intake"]

T = TypeVar("T")
Step = Callable[[IncomingMessage, "_InUnit"], Coroutine[Any, Any, list[OutgoingMessage] | None]]
"""One of the intake's entry points, run with the unit's store."""


def quick_intake(message: IncomingMessage, services: Services) -> QuickWork | None:
    """The unit that takes an intake step; ``None`` for a message that is none."""
    step = _step_of(message)
    if step is None:
        return None
    roster, calendar = services.roster.current, services.calendar.current
    # The full path reads the clock once more for the dedup key; a unit runs within the
    # batch's few milliseconds of this reading.
    now = services.clock.now()

    def work(connection: sqlite3.Connection) -> Sequence[OutgoingMessage]:
        replies = _settled(step(message, _InUnit(message, connection, now, roster, calendar)))
        if replies is None:
            raise NotQuick  # no intake going on: typed text is the full path's (or a next lane's)
        return replies

    return work


def _step_of(message: IncomingMessage) -> Step | None:
    """The intake's entry point the full path's routes would give ``message``, if any."""
    if message.attachments:
        return None  # a file goes on with the message: the full path keeps it
    if message.choice is not None:
        if message.choice.startswith(BUTTON_PREFIX):
            return pressed_with
        if message.choice.startswith(SPACE_PREFIX):
            return space_chosen_with
        return None
    if message.command == "new" and not message.command_args:
        return begin_with
    if message.command == "cancel":
        return end_with
    if message.command is None and message.text and len(message.text) <= MAX_TEXT_LENGTH:
        return typed_with  # what the input guards let through to the intake
    return None


def _settled(step: Coroutine[Any, Any, T]) -> T:
    """The end of ``step``, a coroutine none of whose awaits waits (the unit's statements)."""
    try:
        step.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    step.close()
    raise RuntimeError("an intake step waited inside a writer unit")


@dataclass(frozen=True, slots=True)
class _InUnit:
    """The lane's :class:`~handlers.intake.IntakeStore`: plain SQL on the unit's connection."""

    message: IncomingMessage
    connection: sqlite3.Connection
    now: datetime
    roster: Roster
    calendar: WorkCalendar

    async def conversation(self) -> ConversationState | None:
        sender = self.message.sender
        return quick_conversations.load(self.connection, sender.channel.value, sender.user_id)

    async def keep(self, state: ConversationState) -> None:
        sender = self.message.sender
        quick_conversations.save(
            self.connection, sender.channel.value, sender.user_id, state, self.now
        )

    async def end(self) -> None:
        sender = self.message.sender
        quick_conversations.clear(self.connection, sender.channel.value, sender.user_id)

    async def person(self) -> Person:
        message = self.message
        person = quick_requests.identify(
            self.connection,
            channel=message.channel.value,
            user_id=message.sender.user_id,
            chat_id=message.chat_id,
            display_name=message.sender.display_name,
            language=message.language.value,
            now=self.now,
        )
        if person is None:
            raise NotQuick  # never seen: the full path creates the person
        return person

    async def settle(self, person: Person, space_id: str) -> None:
        quick_requests.settle(self.connection, person, space_id)

    async def open(self, who: Entrepreneur, command: Open) -> Outcome:
        message = self.message
        sender = message.sender
        unit = open_at_once(
            Asker(
                message.channel, sender.user_id, command.chat_id, sender.display_name, who.language
            ),
            command.category_id,
            command.text,
            phone=command.phone,
            now=self.now,
            roster=self.roster,
            calendar=self.calendar,
        )
        outcome = unit(self.connection)
        if outcome is None:
            raise NotQuick  # no group serves the space: the full path says what
        return outcome
