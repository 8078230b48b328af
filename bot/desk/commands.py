"""What the desk can be asked to do, by whom, and what comes of it.

Chat handlers, the web console and the scheduler each turn their input into one of these
commands and hand it to :func:`bot.desk.service.execute`; none of them changes a request itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import ClassVar

from bot.domain.lifecycle import Action
from bot.domain.roster.model import Roles
from bot.messages import (
    Attachment,
    Button,
    Channel,
    Confirmation,
    Intake,
    Language,
    OutgoingMessage,
)
from storage.models import Person, Request

__all__ = [
    "MEMBER_MOVES",
    "REASON_LIMIT",
    "SYSTEM",
    "Ask",
    "AutoClose",
    "Claim",
    "Command",
    "Confirm",
    "Entrepreneur",
    "FollowUp",
    "Member",
    "MemberMove",
    "Note",
    "NoticeKind",
    "Notify",
    "Open",
    "OpenForCaller",
    "Outcome",
    "Rate",
    "Redate",
    "Reopen",
    "Reply",
    "Resolve",
    "System",
    "Transfer",
]


# --- who acts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """Someone acting for a duty group: their roles come from the roster, never from input.

    Attributes:
        account: How the event log names them, ``channel:user_id``.
        name: Their name as the roster has it (what the entrepreneur reads); the channel's
            display name for someone the roster does not list.
        roles: What the roster lets this account do.
        language: The language they read.
    """

    account: str
    name: str
    roles: Roles
    language: Language = Language.ZH


@dataclass(frozen=True, slots=True)
class Entrepreneur:
    """The person who opened, or opens, a request: only their own requests are theirs to touch."""

    person: Person
    language: Language = Language.ZH


@dataclass(frozen=True, slots=True)
class System:
    """The desk itself, acting on time (reminders, closing, re-dating)."""


SYSTEM = System()


# --- the commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    """Open a request and route it to the duty group of the entrepreneur's maker space."""

    channel: Channel
    chat_id: str
    category_id: str
    text: str
    phone: str | None
    space_id: str


@dataclass(frozen=True, slots=True)
class OpenForCaller:
    """A duty group member records a request taken by phone or at the on-site desk.

    It is routed like any other, to the duty group of the caller's maker space, which must be
    one of the member's groups.

    Attributes:
        intake: :attr:`~bot.messages.Intake.HOTLINE` or :attr:`~bot.messages.Intake.VISIT`.
        caller: The caller's name.
        phone: The caller's phone number, checked by the console.
    """

    intake: Intake
    caller: str
    phone: str
    space_id: str
    category_id: str
    text: str


@dataclass(frozen=True, slots=True)
class MemberMove:
    """A duty group member's move on request ``number``.

    Attributes:
        number: The request's number, as the member named it.
        text: The words that go to the entrepreneur (for a transfer: the target group's id).
        attachments: Files the member sent with it.
        confirm: Where to tick the member's own message once the words are delivered.
    """

    number: str
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    confirm: Confirmation | None = None

    action: ClassVar[Action]
    """The lifecycle's action the move is."""


class Claim(MemberMove):
    """Take the request: the member holds it from now on."""

    __slots__ = ()
    action = Action.CLAIM


class Reply(MemberMove):
    """Answer the entrepreneur; an unclaimed request is claimed by whoever answers."""

    __slots__ = ()
    action = Action.REPLY


class Ask(MemberMove):
    """Ask the entrepreneur for information; the deadline clock stands still meanwhile."""

    __slots__ = ()
    action = Action.ASK


class Resolve(MemberMove):
    """Give the result; the entrepreneur may confirm, reopen or rate it."""

    __slots__ = ()
    action = Action.RESOLVE


@dataclass(frozen=True, slots=True)
class Transfer(MemberMove):
    """Hand the request to another duty group (``text`` is the group's id).

    Attributes:
        reason: Why, in a few words: kept in the request's log and told to the receiving group.
            The console asks for one; a chat command may leave it out.
    """

    reason: str = ""
    action = Action.TRANSFER


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The entrepreneur's message joins their request; a wait for information ends with it."""

    request: Request
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Confirm:
    """The entrepreneur accepts the result: the request closes."""

    number: str


@dataclass(frozen=True, slots=True)
class Reopen:
    """The entrepreneur is not satisfied, within the reopening window."""

    number: str


@dataclass(frozen=True, slots=True)
class Rate:
    """The entrepreneur rates the service, one to five stars."""

    number: str
    stars: int


@dataclass(frozen=True, slots=True)
class AutoClose:
    """Close a resolved request nobody reopened in time."""

    request_id: int


class NoticeKind(StrEnum):
    """The notices the desk sends on time, each at most once per request and due date."""

    REMIND_BEFORE = "remind-before"
    REMIND_DUE = "remind-due"
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class Notify:
    """Remind the duty group, or escalate an overdue request, about due date ``day``."""

    request_id: int
    kind: NoticeKind
    day: date


@dataclass(frozen=True, slots=True)
class Redate:
    """Date the requests whose clock runs again by the calendar in service.

    Attributes:
        provisional_only: Only those dated on a year the calendar estimates.
    """

    provisional_only: bool = False


REASON_LIMIT = 200
"""The longest reason for a transfer: a short note for the next group, not a reply."""

MEMBER_MOVES: dict[str, type[MemberMove]] = {
    "claim": Claim,
    "reply": Reply,
    "ask": Ask,
    "resolve": Resolve,
    "transfer": Transfer,
}
"""A member's moves by the names chat commands, card buttons and the console use."""


Command = (
    Open
    | OpenForCaller
    | MemberMove  # Claim, Reply, Ask, Resolve, Transfer
    | FollowUp
    | Confirm
    | Reopen
    | Rate
    | AutoClose
    | Notify
    | Redate
)


# --- what comes of it ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Note:
    """Something said to the actor, in their language, where they acted."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(slots=True)
class Outcome:
    """What a command did.

    Attributes:
        done: Whether it changed anything (``False``: refused, or nothing was due).
        notes: What the actor is told, in order (none when the tick under their message says
            it all).
        messages: Everything else it causes: the entrepreneur's message, the group's cards.
        request: The request it was about, when there is one.
        count: How many requests it concerned (re-dating).
    """

    done: bool = True
    notes: list[Note] = field(default_factory=list)
    messages: list[OutgoingMessage] = field(default_factory=list)
    request: Request | None = None
    count: int = 0

    @classmethod
    def refused(cls, text: str) -> Outcome:
        """Nothing changed, and ``text`` says why."""
        return cls(done=False, notes=[Note(text)])
