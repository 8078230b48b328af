"""The entrepreneur's moves: open a request, follow it up, confirm, reopen or rate the result.

An entrepreneur only ever touches their own requests (:func:`bot.desk.policy.owns`).
"""

from __future__ import annotations

import logging

from bot.desk import policy
from bot.desk.commands import Confirm, Entrepreneur, FollowUp, Note, Open, Outcome, Rate, Reopen
from bot.desk.compose import (
    card_update,
    due_text,
    post_card,
    resolution_buttons,
    to_group,
)
from bot.desk.record import ENTREPRENEUR, Opening, event, locked, next_status, open_new, redate
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
from bot.messages import Channel, OutgoingMessage
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from storage import requests
from storage.models import Person, Request

__all__ = [
    "card_person",
    "confirm",
    "confirmed",
    "follow_up",
    "followed_up",
    "open_request",
    "opened",
    "rate",
    "rated",
    "reopen",
]

log = logging.getLogger(__name__)


async def open_request(turn: Turn, who: Entrepreneur, command: Open) -> Outcome:
    """Open a request, route it to the duty group, confirm it and post the group's card."""
    opening = Opening(
        person_id=who.person.id,
        channel=command.channel.value,
        chat_id=command.chat_id,
        category_id=command.category_id,
        text=command.text,
        phone=command.phone,
        space_id=command.space_id,
    )
    request, group, space = await open_new(turn, opening, ENTREPRENEUR)
    return Outcome(messages=opened(turn, who, request, group, space), request=request)


def opened(
    turn: Turn, who: Entrepreneur, request: Request, group: Group, space: Space
) -> list[OutgoingMessage]:
    """What opening ``request`` says: the entrepreneur's confirmation, the group's card."""
    category = categories.by_id(request.category)
    number = request.number
    texts = desk_texts_for(who.language)
    shown, note = due_text(texts, request)
    confirmation = texts.opened.format(
        number=number,
        category=category.label(who.language),
        group=group.name,
        space=space.label(who.language),
        due=shown,
        provisional=note,
        days=category.workdays,
    )
    # The confirmation names the request, so the entrepreneur's later words can find it.
    told = OutgoingMessage(
        request.chat_id, Channel(request.channel), confirmation, request_id=request.id
    )
    return [told, *post_card(turn, request, who.person)]


async def follow_up(turn: Turn, who: Entrepreneur, command: FollowUp) -> Outcome:
    """The entrepreneur's words join their request; a wait for information ends with them."""
    request = command.request
    if not policy.owns(who.person, request):
        raise ValueError(f"request {request.number} is not this person's")
    status = transition(request.status, Action.FOLLOW_UP, Role.ENTREPRENEUR)
    messages: list[OutgoingMessage] = []
    # The files are named in the log, so the console can link to them (bot.files).
    files = [a.to_payload() for a in command.attachments if a.ref]
    data: dict[str, object] | None = {"files": files} if files else None
    event(turn, request, EventKind.FOLLOW_UP, ENTREPRENEUR, text=command.text, data=data)
    if request.status == Status.WAITING:
        await requests.end_pause(turn.session, request, turn.now)
        request.status = status
        messages += await redate(turn, request)
        messages += await card_update(turn, request)
    return followed_up(turn, who, command, messages)


def followed_up(
    turn: Turn, who: Entrepreneur, command: FollowUp, messages: list[OutgoingMessage]
) -> Outcome:
    """What a follow-up says, after ``messages`` (what ending a wait said, if it ended one)."""
    request = command.request
    texts = desk_texts_for(who.language)
    messages = messages + to_group(
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
    outcome = confirmed(turn, who, request, status, await card_person(turn, request))
    event(turn, request, EventKind.CONFIRMED, ENTREPRENEUR)
    return outcome


def confirmed(
    turn: Turn, who: Entrepreneur, request: Request, status: Status, person: Person | None
) -> Outcome:
    """Close ``request`` (to ``status``) now, as its entrepreneur ``person`` accepts its result.

    Returns:
        The thanks and the stars to rate it, and its cards brought up to date.
    """
    texts = desk_texts_for(who.language)
    request.status = status
    request.closed_at = turn.now
    notes = [
        Note(texts.confirmed.format(number=request.number)),
        Note(texts.rate_prompt, resolution_buttons(texts, request)[2:]),
    ]
    cards = post_card(turn, request, person, edit=True)
    return Outcome(notes=notes, messages=cards, request=request)


async def card_person(turn: Turn, request: Request) -> Person | None:
    """The request's entrepreneur, as its card names them (:func:`card_update` reads them)."""
    return await turn.session.get(Person, request.person_id)


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
    # The result did not solve it: it stays in the log (the resolve event) as history, and
    # the request has no result in force until it is resolved again.
    request.resolved_at = request.result = None
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
    """The entrepreneur's stars for the service, once per result."""
    checked = await _own(turn, who, command.number, Action.RATE)
    if isinstance(checked, Outcome):
        return checked
    request, _ = checked
    given = await requests.rating_of_result(turn.session, request.id)
    outcome = rated(who, request, command.stars, given)
    if given is None:
        event(turn, request, EventKind.RATED, ENTREPRENEUR, data={"stars": command.stars})
    return outcome


def rated(who: Entrepreneur, request: Request, stars: int, given: int | None) -> Outcome:
    """Rate ``request``'s result ``stars``, unless it was rated ``given`` already.

    One rating per result: a press on an older row of stars (under the result, before the
    confirmation's own row) must not overwrite the rating just given.

    Returns:
        The thanks; or, changing nothing, the rating that stands.
    """
    texts = desk_texts_for(who.language)
    if given is not None:
        note = Note(texts.already_rated.format(stars=given))
        return Outcome(notes=[note], request=request)
    request.satisfaction = stars
    return Outcome(notes=[Note(texts.rated.format(stars=stars))], request=request)
