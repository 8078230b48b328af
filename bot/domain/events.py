"""The kinds of event a request's log holds, and where each leaves the request.

The desk writes one event for everything that happens to a request; the quarterly report and
the console read the log back. What an event does to the status comes from the lifecycle's own
rules (:func:`status_after`), so the report can never count a lifecycle of its own.
"""

from __future__ import annotations

from enum import StrEnum

from bot.domain.lifecycle import Action, Status, after

__all__ = ["ACTING", "REPLIES", "WITH_DATA", "EventKind", "status_after"]


class EventKind(StrEnum):
    """What happened to a request. The values are stored: never rename one."""

    OPENED = "opened"
    """The entrepreneur opened it; data: ``group``, ``space``, ``due_date``."""
    CLAIM = "claim"
    REPLY = "reply"
    ASK = "ask"
    RESOLVE = "resolve"
    TRANSFERRED = "transferred"
    """Handed to another duty group; data: ``from``, ``to``."""
    FOLLOW_UP = "follow_up"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    RATED = "rated"
    """Data: ``stars``."""
    CLOSED = "closed"
    """Closed by the desk, days after a result nobody reopened."""
    DUE_CHANGED = "due_changed"
    """Dated again (a wait ended, the calendar changed); data: ``from``, ``to``."""
    NOTICE = "notice"
    """A reminder or escalation went out; data: ``notice``, ``day``."""


_ACTION: dict[str, Action] = {
    EventKind.CLAIM: Action.CLAIM,
    EventKind.REPLY: Action.REPLY,
    EventKind.ASK: Action.ASK,
    EventKind.RESOLVE: Action.RESOLVE,
    EventKind.TRANSFERRED: Action.TRANSFER,
    EventKind.FOLLOW_UP: Action.FOLLOW_UP,
    EventKind.CONFIRMED: Action.CONFIRM,
    EventKind.REOPENED: Action.REOPEN,
    EventKind.RATED: Action.RATE,
    EventKind.CLOSED: Action.AUTO_CLOSE,
}

ACTING = frozenset({EventKind.CLAIM, EventKind.REPLY, EventKind.ASK, EventKind.RESOLVE})
"""A member's moves: the first to make one, or whoever claims, holds the request."""
REPLIES = frozenset({EventKind.REPLY, EventKind.ASK, EventKind.RESOLVE})
"""The moves that answer the entrepreneur (the first one is the request's first reply)."""
WITH_DATA = frozenset(
    {EventKind.OPENED, EventKind.TRANSFERRED, EventKind.DUE_CHANGED, EventKind.RATED}
)
"""The kinds whose data the report reads (the group, the due date, the stars)."""


def status_after(kind: str, status: Status) -> Status:
    """The request's status after an event of ``kind``, from ``status`` before it.

    Args:
        kind: The event's kind as stored.
        status: The status before the event.
    """
    if kind == EventKind.OPENED:
        return Status.OPEN
    action = _ACTION.get(kind)
    return status if action is None else after(status, action)
