"""What the desk shows: a duty group's board, and the moves a request allows now.

Reads only. The console renders the board; the chat's ``/open`` lists the same requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.commands import MEMBER_MOVES
from bot.domain.lifecycle import (
    BEING_WORKED_ON,
    IllegalTransition,
    Role,
    Status,
    transition,
)
from bot.domain.workdays import WorkCalendar, shanghai_date
from storage import console, requests
from storage.models import Person, Request, RequestEvent

__all__ = ["SOON_WORKDAYS", "Board", "BoardItem", "Section", "board", "moves_allowed"]

SOON_WORKDAYS = 2
"""A request due within this many working days is "due soon"."""
RESOLVED_WINDOW = timedelta(days=14)
"""How far back "recently resolved" goes."""


class Section(StrEnum):
    """Where a request stands on the board, most urgent first."""

    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    ACTIVE = "active"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class BoardItem:
    """One request on the board, with what the card shows of it."""

    request: Request
    entrepreneur: Person | None
    events: Sequence[RequestEvent]
    overdue: bool


@dataclass(slots=True)
class Board:
    """The requests of some duty groups, by section.

    Attributes:
        sections: Each section's requests, the earliest deadline first.
        soon_until: The last day that counts as "due soon".
    """

    soon_until: date
    sections: dict[Section, list[BoardItem]] = field(
        default_factory=lambda: {section: [] for section in Section}
    )


def moves_allowed(request: Request) -> list[str]:
    """The names of the moves a member can make on the request now."""
    allowed = []
    for name, move in MEMBER_MOVES.items():
        try:
            transition(request.status, move.action, Role.MEMBER)
        except IllegalTransition:
            continue
        allowed.append(name)
    return allowed


async def board(
    session: AsyncSession, groups: Sequence[str], calendar: WorkCalendar, now: datetime
) -> Board:
    """The board of ``groups``: overdue, due soon, the other active ones, recently resolved."""
    active = await console.requests_for_groups(session, groups, BEING_WORKED_ON)
    resolved = await console.resolved_since(session, groups, now - RESOLVED_WINDOW)
    shown = [*active, *resolved]
    logs = await console.events_for(session, [r.id for r in shown])
    people = await console.people_by_id(session, [r.person_id for r in shown])
    soon = shanghai_date(now)
    for _ in range(SOON_WORKDAYS):
        soon = calendar.next_workday(soon)
    result = Board(soon)
    for item in active:
        overdue = requests.is_overdue(item, now)
        if overdue:
            section = Section.OVERDUE
        # A request waiting on the entrepreneur has its clock stopped: its due date will move,
        # so it is not "due soon" whatever it says now.
        elif item.status != Status.WAITING and item.due_date <= soon:
            section = Section.DUE_SOON
        else:
            section = Section.ACTIVE
        entry = BoardItem(item, people.get(item.person_id), logs[item.id], overdue)
        result.sections[section].append(entry)
    for item in resolved:
        entry = BoardItem(item, people.get(item.person_id), logs[item.id], overdue=False)
        result.sections[Section.RESOLVED].append(entry)
    return result
