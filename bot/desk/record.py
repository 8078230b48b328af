"""Writing a request's story: its events, and its due date when the clock moved.

Only the desk's moves call these, so every change of a request comes with its event.
"""

from __future__ import annotations

import logging

from bot.desk.commands import Outcome
from bot.desk.compose import card_update, due_text, to_entrepreneur
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.logs import concerning
from bot.messages import OutgoingMessage
from bot.texts.desk import DeskTexts
from storage import requests
from storage.models import Request

__all__ = ["ENTREPRENEUR", "SYSTEM_ACTOR", "event", "locked", "next_status", "redate"]

log = logging.getLogger(__name__)

ENTREPRENEUR = "entrepreneur"
"""How the log names the request's own entrepreneur."""
SYSTEM_ACTOR = "system"
"""How the log names the desk acting on time."""


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

    return [await to_entrepreneur(turn, request, compose), *cards]
