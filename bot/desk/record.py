"""Writing a request's story: its events, and its due date when the clock moved.

Only the desk's moves call these, so every change of a request comes with its event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.clock import SHANGHAI
from bot.desk.commands import Outcome
from bot.desk.compose import due_text, post_card, to_person
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.domain.roster.model import Group, Space
from bot.domain.workdays import Due
from bot.logs import concerning
from bot.messages import OutgoingMessage
from bot.texts.desk import DeskTexts
from storage import requests
from storage.models import Person, Request

__all__ = [
    "ENTREPRENEUR",
    "SYSTEM_ACTOR",
    "Opening",
    "Routing",
    "announce",
    "dated",
    "due_change",
    "due_moved",
    "event",
    "locked",
    "next_status",
    "open_new",
    "redate",
    "redated",
    "routed",
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


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a new request goes and when it is due: all the desk decides before its number.

    Attributes:
        opening: The request.
        opened_at: The moment it opens.
        category: Its kind of matter.
        due: Its due date and deadline, from the category's working days.
        space: Its maker space.
        group: The duty group on duty for the space that day.
    """

    opening: Opening
    opened_at: datetime
    category: categories.Category
    due: Due
    space: Space
    group: Group

    @property
    def year(self) -> int:
        """The year whose numbers it takes (Shanghai's)."""
        return self.opened_at.astimezone(SHANGHAI).year

    def columns(self, number: str) -> dict[str, object]:
        """The request's columns, by name, once it is numbered ``number``."""
        opening, due = self.opening, self.due
        return {
            "number": number,
            "person_id": opening.person_id,
            "channel": opening.channel,
            "chat_id": opening.chat_id,
            "category": self.category.id,
            "text": opening.text,
            "phone": opening.phone,
            "space_id": self.space.id,
            "group_id": self.group.id,
            "status": Status.OPEN,
            "opened_at": self.opened_at,
            "due_date": due.due_date,
            "deadline": due.deadline,
            "provisional": due.provisional,
            "updated_at": self.opened_at,
        }

    def event_data(self, **data: object) -> dict[str, object]:
        """The opening event's data: the group, space and due date, and ``data``."""
        return {
            "group": self.group.id,
            "space": self.space.id,
            "due_date": self.due.due_date.isoformat(),
            **data,
        }


def dated(turn: Turn, category_id: str) -> tuple[categories.Category, Due]:
    """The category ``category_id``, and the due date of a request of it opened now."""
    category = categories.by_id(category_id)
    return category, turn.calendar.due(turn.now, category.workdays)


def routed(
    turn: Turn, opening: Opening, when: tuple[categories.Category, Due] | None = None
) -> Routing:
    """Where ``opening`` goes and when it is due.

    Args:
        turn: The moment, the roster and the calendar.
        opening: The request.
        when: Its :func:`dated`, when already known.

    Raises:
        KeyError: The maker space is not in the roster, or no group serves it.
    """
    now, roster = turn.now, turn.roster
    category, due = when or dated(turn, opening.category_id)
    space = roster.space(opening.space_id)
    group = roster.duty_group(opening.space_id, now.astimezone(SHANGHAI).date())
    return Routing(opening, now, category, due, space, group)


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
    routing = routed(turn, opening)
    number = await requests.next_number(turn.session, routing.year)
    request = Request(**routing.columns(number))
    turn.session.add(request)
    await turn.session.flush()
    logged = routing.event_data(**data)
    event(turn, request, EventKind.OPENED, actor, text=opening.text, data=logged)
    announce(request, routing.group)
    return request, routing.group, routing.space


def announce(request: Request, group: Group) -> None:
    """Log that ``request`` opened; what is logged from here on carries its number."""
    concerning(request.number)
    log.info("request %s opened for group %s", request.number, group.id)


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
    pauses = await requests.pauses_of(turn.session, request.id)
    old = redated(turn, request, pauses)
    if old is None:
        return []
    event(turn, request, EventKind.DUE_CHANGED, SYSTEM_ACTOR, data=due_change(old, request))
    person = await turn.session.get(Person, request.person_id)
    return due_moved(turn, request, old, person)


def redated(
    turn: Turn, request: Request, pauses: Sequence[tuple[datetime, datetime | None]]
) -> date | None:
    """Date the request again from its opening and ``pauses`` (oldest first).

    Returns:
        Its due date before, when its dates changed (set on ``request``); ``None`` when not.
    """
    category = categories.by_id(request.category)
    due = turn.calendar.due(request.opened_at, category.workdays, pauses, now=turn.now)
    if due.due_date == request.due_date and due.provisional == request.provisional:
        return None
    old = request.due_date
    request.due_date, request.deadline, request.provisional = (
        due.due_date,
        due.deadline,
        due.provisional,
    )
    return old


def due_change(old: date, request: Request) -> dict[str, object]:
    """The data of the event that moves ``request``'s due date from ``old``."""
    return {"from": old.isoformat(), "to": request.due_date.isoformat()}


def due_moved(
    turn: Turn, request: Request, old: date, person: Person | None
) -> list[OutgoingMessage]:
    """What re-dating ``request`` from ``old`` says: the entrepreneur told, if the day moved.

    Args:
        turn: This operation.
        request: The request, dated again.
        old: Its due date before.
        person: Its entrepreneur (``None``: gone).
    """
    cards = post_card(turn, request, person, edit=True)
    if request.due_date == old:
        return cards  # only the "estimated" mark went away: nothing the entrepreneur must know

    def compose(texts: DeskTexts) -> str:
        shown, note = due_text(texts, request)
        return texts.due_moved.format(
            number=request.number, due=shown, provisional=note, old=old.isoformat()
        )

    return [*to_person(request, person, compose), *cards]
