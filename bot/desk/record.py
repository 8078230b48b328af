"""Writing a request's story: its events, and its due date when the clock moved.

Only the desk's moves call these, so every change of a request comes with its event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import SHANGHAI
from bot.desk.commands import Outcome
from bot.desk.compose import card_update, due_text, to_entrepreneur
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.domain.roster.model import Group, Space
from bot.logs import concerning
from bot.messages import OutgoingMessage
from bot.texts.desk import DeskTexts
from storage import requests
from storage.models import Request

__all__ = [
    "ENTREPRENEUR",
    "SYSTEM_ACTOR",
    "Opening",
    "event",
    "locked",
    "next_status",
    "open_new",
    "redate",
]

log = logging.getLogger(__name__)

ENTREPRENEUR = "entrepreneur"
"""How the log names the request's own entrepreneur."""
SYSTEM_ACTOR = "system"
"""How the log names the desk acting on time."""


@dataclass(frozen=True, slots=True)
class Opening:
    """What a new request is: who asked, how it came in, and what about.

    Attributes:
        person_id: The person who asked.
        channel: How it came in (an :class:`~bot.messages.Intake` value).
        chat_id: The chat replies go to; empty for a call or a visit.
        category_id: The category's id.
        text: What they asked.
        phone: Their phone number, if they gave one.
        space_id: Their maker space: its duty group today takes the request.
    """

    person_id: int
    channel: str
    chat_id: str
    category_id: str
    text: str
    phone: str | None
    space_id: str


async def open_new(
    turn: Turn, opening: Opening, actor: str, **data: object
) -> tuple[Request, Group, Space]:
    """Number, date and store a new request for its space's duty group, with its opening event.

    Args:
        turn: This operation.
        opening: The request.
        actor: Who opened it, as the log names them.
        data: More for the opening event's data (the group, space and due date are always in).

    Returns:
        The request, the duty group it went to, and its maker space.
    """
    now, roster = turn.now, turn.roster
    space = roster.space(opening.space_id)
    group = roster.duty_group(opening.space_id, now.astimezone(SHANGHAI).date())
    category = categories.by_id(opening.category_id)
    due = turn.calendar.due(now, category.workdays)
    number = await requests.next_number(turn.session, now.astimezone(SHANGHAI).year)
    request = Request(
        number=number,
        person_id=opening.person_id,
        channel=opening.channel,
        chat_id=opening.chat_id,
        category=category.id,
        text=opening.text,
        phone=opening.phone,
        space_id=space.id,
        group_id=group.id,
        status=Status.OPEN,
        opened_at=now,
        due_date=due.due_date,
        deadline=due.deadline,
        provisional=due.provisional,
        updated_at=now,
    )
    turn.session.add(request)
    await turn.session.flush()
    event(
        turn,
        request,
        EventKind.OPENED,
        actor,
        text=opening.text,
        data={
            "group": group.id,
            "space": space.id,
            "due_date": due.due_date.isoformat(),
            **data,
        },
    )
    concerning(number)
    log.info("request %s opened for group %s", number, group.id)
    return request, group, space


def event(
    turn: Turn,
    request: Request,
    kind: EventKind,
    actor: str,
    *,
    text: str | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """Append an event of ``kind`` to the request's log, at the turn's moment."""
    requests.add_event(
        turn.session, request, kind=kind.value, actor=actor, at=turn.now, text=text, data=data
    )


async def locked(turn: Turn, number: str) -> Request | None:
    """The request with this number, its row locked until the turn's transaction ends.

    What is logged from here on carries its number.
    """
    request = await requests.by_number(turn.session, number, lock=True)
    concerning(request.number if request is not None else None)
    return request


def next_status(
    request: Request, action: Action, role: Role, texts: DeskTexts
) -> tuple[Request, Status] | Outcome:
    """The request and where ``action`` leads it, or the refusal when the lifecycle says no."""
    try:
        return request, transition(request.status, action, role)
    except IllegalTransition as illegal:
        # A member's refused move is worth a look; an entrepreneur's is an old button.
        level = logging.WARNING if role is Role.MEMBER else logging.INFO
        log.log(level, "refused: request %s: %s", request.number, illegal)
        return Outcome.refused(
            texts.not_allowed.format(number=request.number, status=texts.status[request.status])
        )


async def redate(turn: Turn, request: Request) -> list[OutgoingMessage]:
    """Date the request again from its opening and pauses; tell the entrepreneur if it moved."""
    category = categories.by_id(request.category)
    pauses = await requests.pauses_of(turn.session, request.id)
    due = turn.calendar.due(request.opened_at, category.workdays, pauses, now=turn.now)
    if due.due_date == request.due_date and due.provisional == request.provisional:
        return []
    old = request.due_date
    request.due_date, request.deadline, request.provisional = (
        due.due_date,
        due.deadline,
        due.provisional,
    )
    event(
        turn,
        request,
        EventKind.DUE_CHANGED,
        SYSTEM_ACTOR,
        data={"from": old.isoformat(), "to": due.due_date.isoformat()},
    )
    cards = await card_update(turn, request)
    if due.due_date == old:
        return cards  # only the "estimated" mark went away: nothing the entrepreneur must know

    def compose(texts: DeskTexts) -> str:
        shown, note = due_text(texts, request)
        return texts.due_moved.format(
            number=request.number, due=shown, provisional=note, old=old.isoformat()
        )

    return [*await to_entrepreneur(turn, request, compose), *cards]
