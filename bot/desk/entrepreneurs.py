"""The entrepreneur's moves: open a request, follow it up, confirm, reopen or rate the result.

An entrepreneur only ever touches their own requests (:func:`bot.desk.policy.owns`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.clock import SHANGHAI
from bot.desk import policy
from bot.desk.commands import Confirm, Entrepreneur, FollowUp, Note, Open, Outcome, Rate, Reopen
from bot.desk.compose import (
    card_update,
    due_text,
    post_card,
    resolution_buttons,
    to_group,
)
from bot.desk.record import ENTREPRENEUR, event, locked, next_status, redate
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import (
    REOPEN_WORKDAYS,
    Action,
    Role,
    Status,
    transition,
)
from bot.domain.roster.model import Group, Space
from bot.domain.workdays import Due
from bot.logs import concerning
from bot.messages import OutgoingMessage
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from storage import requests
from storage.models import Request

__all__ = [
    "Opening",
    "confirm",
    "dated",
    "follow_up",
    "open_request",
    "opened",
    "opening",
    "rate",
    "reopen",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Opening:
    """A request about to open: all the desk decides before it has a number and an id.

    Attributes:
        command: What the entrepreneur asked for.
        opened_at: The moment it opens.
        category: Its kind of matter.
        due: Its due date and deadline, from the category's working days.
        space: The entrepreneur's maker space.
        group: The duty group on duty for the space that day.
    """

    command: Open
    opened_at: datetime
    category: categories.Category
    due: Due
    space: Space
    group: Group

    @property
    def year(self) -> int:
        """The year whose numbers it takes (Shanghai's)."""
        return self.opened_at.astimezone(SHANGHAI).year

    def request(self, person_id: int, number: str) -> Request:
        """The request to store, numbered ``number``, of the person ``person_id``."""
        return Request(**self.columns(person_id, number))

    def columns(self, person_id: int, number: str) -> dict[str, object]:
        """The :meth:`request`'s columns, by name."""
        command, due = self.command, self.due
        return {
            "number": number,
            "person_id": person_id,
            "channel": command.channel.value,
            "chat_id": command.chat_id,
            "category": self.category.id,
            "text": command.text,
            "phone": command.phone,
            "space_id": self.space.id,
            "group_id": self.group.id,
            "status": Status.OPEN,
            "opened_at": self.opened_at,
            "due_date": due.due_date,
            "deadline": due.deadline,
            "provisional": due.provisional,
            "updated_at": self.opened_at,
        }

    def event_data(self) -> dict[str, object]:
        """What the log's "opened" event records besides the text."""
        return {
            "group": self.group.id,
            "space": self.space.id,
            "due_date": self.due.due_date.isoformat(),
        }


def dated(turn: Turn, category_id: str) -> tuple[categories.Category, Due]:
    """The category ``category_id``, and the due date of a request of it opened now."""
    category = categories.by_id(category_id)
    return category, turn.calendar.due(turn.now, category.workdays)


def opening(
    turn: Turn, command: Open, when: tuple[categories.Category, Due] | None = None
) -> Opening:
    """Where the request ``command`` asks for goes, and when it is due.

    Args:
        turn: The moment, the roster and the calendar.
        command: The request to open.
        when: Its :func:`dated`, when already known.

    Raises:
        KeyError: The maker space is not in the roster, or no group serves it.
    """
    now, roster = turn.now, turn.roster
    category, due = when or dated(turn, command.category_id)
    space = roster.space(command.space_id)
    group = roster.duty_group(command.space_id, now.astimezone(SHANGHAI).date())
    return Opening(command, now, category, due, space, group)


async def open_request(turn: Turn, who: Entrepreneur, command: Open) -> Outcome:
    """Open a request, route it to the duty group, confirm it and post the group's card."""
    planned = opening(turn, command)
    number = await requests.next_number(turn.session, planned.year)
    request = planned.request(who.person.id, number)
    turn.session.add(request)
    await turn.session.flush()
    event(
        turn,
        request,
        EventKind.OPENED,
        ENTREPRENEUR,
        text=command.text,
        data=planned.event_data(),
    )
    return Outcome(messages=opened(turn, who, planned, request), request=request)


def opened(
    turn: Turn, who: Entrepreneur, planned: Opening, request: Request
) -> list[OutgoingMessage]:
    """What opening ``request`` says: the entrepreneur's confirmation, the group's card.

    What is logged from here on carries its number.
    """
    number, category, group, space = request.number, planned.category, planned.group, planned.space
    concerning(number)
    log.info("request %s opened for group %s", number, group.id)
    texts = desk_texts_for(who.language)
    shown, note = due_text(texts, request)
    confirmation = texts.opened.format(
        number=number,
        category=category.label(who.language),
        group=group.name,
        space=space.name,
        due=shown,
        provisional=note,
        days=category.workdays,
    )
    # The confirmation names the request, so the entrepreneur's later words can find it.
    told = OutgoingMessage(
        planned.command.chat_id, planned.command.channel, confirmation, request_id=request.id
    )
    return [told, *post_card(turn, request, who.person)]


async def follow_up(turn: Turn, who: Entrepreneur, command: FollowUp) -> Outcome:
    """The entrepreneur's words join their request; a wait for information ends with them."""
    request = command.request
    if not policy.owns(who.person, request):
        raise ValueError(f"request {request.number} is not this person's")
    texts = desk_texts_for(who.language)
    status = transition(request.status, Action.FOLLOW_UP, Role.ENTREPRENEUR)
    messages: list[OutgoingMessage] = []
    event(turn, request, EventKind.FOLLOW_UP, ENTREPRENEUR, text=command.text)
    if request.status == Status.WAITING:
        await requests.end_pause(turn.session, request, turn.now)
        request.status = status
        messages += await redate(turn, request)
        messages += await card_update(turn, request)
    messages += to_group(
        turn,
        request,
        GROUP_TEXTS.card_follow_up.format(number=request.number, text=command.text),
        attachments=command.attachments,
    )
    note = Note(texts.follow_up_added.format(number=request.number))
    return Outcome(notes=[note], messages=messages, request=request)


async def _own(
    turn: Turn, who: Entrepreneur, number: str, action: Action
) -> tuple[Request, Status] | Outcome:
    """The entrepreneur's request and its next status, or why not."""
    texts = desk_texts_for(who.language)
    request = await locked(turn, number)
    if request is None or not policy.owns(who.person, request):
        log.warning("person %s asked for request %s, not theirs", who.person.id, number)
        return Outcome.refused(texts.not_yours.format(number=number))
    return next_status(request, action, Role.ENTREPRENEUR, texts)


async def confirm(turn: Turn, who: Entrepreneur, command: Confirm) -> Outcome:
    """The entrepreneur accepts the result: the request closes, and they may rate it."""
    checked = await _own(turn, who, command.number, Action.CONFIRM)
    if isinstance(checked, Outcome):
        return checked
    request, status = checked
    texts = desk_texts_for(who.language)
    request.status = status
    request.closed_at = turn.now
    event(turn, request, EventKind.CONFIRMED, ENTREPRENEUR)
    notes = [
        Note(texts.confirmed.format(number=request.number)),
        Note(texts.rate_prompt, resolution_buttons(texts, request)[2:]),
    ]
    return Outcome(notes=notes, messages=await card_update(turn, request), request=request)


async def reopen(turn: Turn, who: Entrepreneur, command: Reopen) -> Outcome:
    """The entrepreneur is not satisfied: the request is worked on again, if still in time."""
    checked = await _own(turn, who, command.number, Action.REOPEN)
    if isinstance(checked, Outcome):
        return checked
    request, status = checked
    texts = desk_texts_for(who.language)
    assert request.resolved_at is not None
    elapsed = turn.calendar.working_days_between(request.resolved_at, turn.now)
    if elapsed > REOPEN_WORKDAYS:
        return Outcome.refused(
            texts.reopen_too_late.format(number=request.number, days=REOPEN_WORKDAYS)
        )
    # The days between the result and the reopening were not the commissioners' to count.
    requests.open_pause(turn.session, request, request.resolved_at, until=turn.now)
    request.status = status
    request.resolved_at = None
    event(turn, request, EventKind.REOPENED, ENTREPRENEUR)
    messages = await redate(turn, request)
    notice = GROUP_TEXTS.reopened.format(number=request.number)
    messages += to_group(
        turn, request, GROUP_TEXTS.card_follow_up.format(number=request.number, text=notice)
    )
    messages += await card_update(turn, request)
    note = Note(texts.reopened.format(number=request.number))
    return Outcome(notes=[note], messages=messages, request=request)


async def rate(turn: Turn, who: Entrepreneur, command: Rate) -> Outcome:
    """The entrepreneur's stars for the service; a later rating replaces an earlier one."""
    checked = await _own(turn, who, command.number, Action.RATE)
    if isinstance(checked, Outcome):
        return checked
    request, _ = checked
    request.satisfaction = command.stars
    event(turn, request, EventKind.RATED, ENTREPRENEUR, data={"stars": command.stars})
    texts = desk_texts_for(who.language)
    return Outcome(notes=[Note(texts.rated.format(stars=command.stars))], request=request)
