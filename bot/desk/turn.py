"""What one desk operation works in: a transaction, a moment, the roster and calendar in service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar

__all__ = ["Moment", "Turn"]


class Turn(Protocol):
    """The desk's view of one unit of work; a chat handler's context is one."""

    @property
    def session(self) -> AsyncSession:
        """The transaction every change and every message of the operation commits in."""

    @property
    def now(self) -> datetime:
        """One reading of the clock (UTC) for the whole operation."""

    @property
    def roster(self) -> Roster:
        """The roster in service."""

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar in service."""


@dataclass(frozen=True, slots=True)
class Moment:
    """A :class:`Turn` for work no chat message started: the scheduler's, the console's."""

    session: AsyncSession
    now: datetime
    roster: Roster
    calendar: WorkCalendar
