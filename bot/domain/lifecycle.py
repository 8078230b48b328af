"""The life of a service request: its states, who may move it, and where each action leads.

Pure rules, no storage: the handlers ask :func:`transition` before they change anything, so an
action that makes no sense (resolving a closed request, rating an open one) is refused with a
reason and changes nothing.

::

    open ──claim──▶ claimed ──ask──▶ waiting ──(entrepreneur answers)──▶ claimed
      │                │                                                   │
      └────────────────┴────────────resolve────────────────────────────────┘
                                           ▼
                              resolved ──confirm / 5 working days──▶ closed
                                  └──reopen (within 5 working days)──▶ claimed/open
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AUTO_CLOSE_WORKDAYS",
    "BEING_WORKED_ON",
    "CLOCK_RUNNING",
    "REOPEN_WORKDAYS",
    "Action",
    "IllegalTransition",
    "Role",
    "Status",
    "after",
    "transition",
]

REOPEN_WORKDAYS = 5
"""An entrepreneur may reopen a resolved request within this many working days."""
AUTO_CLOSE_WORKDAYS = 5
"""A resolved request nobody reopened closes itself after this many working days."""


class Status(StrEnum):
    """Where a request stands."""

    OPEN = "open"
    """Waiting for a commissioner to claim it."""
    CLAIMED = "claimed"
    """A commissioner works on it."""
    WAITING = "waiting"
    """The commissioner asked the entrepreneur for information; the deadline clock stands still."""
    RESOLVED = "resolved"
    """The commissioner gave the result; the entrepreneur may confirm, reopen or rate."""
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        """Whether the deadline clock can run (reminders and escalations apply)."""
        return self in CLOCK_RUNNING


CLOCK_RUNNING = (Status.OPEN, Status.CLAIMED)
"""The statuses whose deadline clock runs: reminded, escalated, overdue once past it."""
BEING_WORKED_ON = (Status.OPEN, Status.CLAIMED, Status.WAITING)
"""The statuses of a request without a result yet (a wait on the entrepreneur included)."""


class Role(StrEnum):
    """Who acts on a request."""

    ENTREPRENEUR = "entrepreneur"
    """The person who opened it, and only they."""
    MEMBER = "member"
    """A member of the duty group that holds it."""
    SYSTEM = "system"


class Action(StrEnum):
    """Everything that can happen to a request."""

    CLAIM = "claim"
    REPLY = "reply"
    ASK = "ask"
    RESOLVE = "resolve"
    TRANSFER = "transfer"
    FOLLOW_UP = "follow_up"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    RATE = "rate"
    AUTO_CLOSE = "auto_close"


class IllegalTransition(Exception):
    """The action is not allowed for this role in this state."""

    def __init__(self, action: Action, status: Status, role: Role) -> None:
        """Describe the refused action."""
        super().__init__(f"{role} may not {action} a request that is {status}")
        self.action = action
        self.status = status
        self.role = role


@dataclass(frozen=True, slots=True)
class _Rule:
    role: Role
    sources: frozenset[Status]
    target: Status | None
    """``None``: the status does not change (a reply, a rating)."""


_ACTIVE = frozenset(BEING_WORKED_ON)
_RULES: dict[Action, _Rule] = {
    Action.CLAIM: _Rule(Role.MEMBER, frozenset({Status.OPEN}), Status.CLAIMED),
    # A reply from an unclaimed request's group claims it: whoever answers owns it.
    Action.REPLY: _Rule(Role.MEMBER, _ACTIVE, Status.CLAIMED),
    Action.ASK: _Rule(Role.MEMBER, frozenset({Status.OPEN, Status.CLAIMED}), Status.WAITING),
    Action.RESOLVE: _Rule(Role.MEMBER, _ACTIVE, Status.RESOLVED),
    Action.TRANSFER: _Rule(Role.MEMBER, _ACTIVE, Status.OPEN),
    # The entrepreneur's message ends a wait; otherwise it joins the request as it stands.
    Action.FOLLOW_UP: _Rule(Role.ENTREPRENEUR, _ACTIVE, None),
    Action.CONFIRM: _Rule(Role.ENTREPRENEUR, frozenset({Status.RESOLVED}), Status.CLOSED),
    Action.REOPEN: _Rule(Role.ENTREPRENEUR, frozenset({Status.RESOLVED}), Status.CLAIMED),
    Action.RATE: _Rule(Role.ENTREPRENEUR, frozenset({Status.RESOLVED, Status.CLOSED}), None),
    Action.AUTO_CLOSE: _Rule(Role.SYSTEM, frozenset({Status.RESOLVED}), Status.CLOSED),
}


def transition(status: Status, action: Action, role: Role) -> Status:
    """The status after ``action``, or :class:`IllegalTransition`.

    Args:
        status: The request's status now.
        action: What is being done.
        role: Who does it; the caller has already checked that the person holds the role for
            this request (the group's member, the request's own entrepreneur).

    Raises:
        IllegalTransition: The role may not take the action, or not in this status.
    """
    rule = _RULES[action]
    if role is not rule.role or status not in rule.sources:
        raise IllegalTransition(action, status, role)
    return after(status, action)


def after(status: Status, action: Action) -> Status:
    """Where ``action`` leads from ``status``, the action taken as already allowed.

    The report replays stored logs with it, so it and :func:`transition` cannot disagree.
    """
    if action is Action.FOLLOW_UP and status is Status.WAITING:
        return Status.CLAIMED
    target = _RULES[action].target
    return status if target is None else target
