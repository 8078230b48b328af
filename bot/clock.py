"""Time for the bot: always timezone-aware, always injectable so tests never sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "Clock", "ManualClock", "SystemClock"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Every date rule (working days, deadlines, reminders) is decided in this zone."""


class Clock(Protocol):
    """Source of the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        """Start the clock at ``start``, which must be timezone-aware."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The clock's current time in UTC."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._now += delta

    def set(self, moment: datetime) -> None:
        """Move the clock to ``moment`` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        self._now = moment.astimezone(UTC)
