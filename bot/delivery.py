"""What a channel's deliverer promises the outbox sender, and what the sender makes of a failure.

A channel that pushes (Telegram, WeChat) hands the sender a :class:`Deliverer`: it sends one
:class:`~bot.messages.OutgoingMessage` and says :class:`Delivered`, or raises
:class:`DeliveryError` saying whether retrying can help, whether the platform holds pushes for
now, and how long the platform asked to wait. A failure for now is retried with exponential
backoff (:func:`backoff`, or when the platform says, ``retry_after``), at most
:data:`MAX_ATTEMPTS` times.

While a row is being delivered, the task knows its id (:func:`outbox_headers`), and the
channels' HTTP clients put it on every platform API call they make for it, as the header
:data:`OUTBOX_HEADER`: the platforms ignore it, and whoever sees the traffic (an egress proxy, the
fault harness's fake platforms) can tell which row a call delivered, and a row sent twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.messages import OutgoingMessage

__all__ = [
    "FIRST_RETRY",
    "MAX_ATTEMPTS",
    "OUTBOX_HEADER",
    "Delivered",
    "Deliverer",
    "DeliveryError",
    "backoff",
    "delivering_row",
    "outbox_headers",
]

MAX_ATTEMPTS = 10
"""Attempts before a message counts as undeliverable: about a day of backoff."""
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=2)
OUTBOX_HEADER = "X-MakerDesk-Outbox"
"""The HTTP header naming the outbox row a platform API call delivers."""


_delivering: ContextVar[int | None] = ContextVar("makerdesk_outbox_row", default=None)
"""The outbox row this task is delivering. A context variable, so chats delivered side by side
(a task each) never see each other's row, and the HTTP clients need not be handed it."""


def outbox_headers() -> dict[str, str]:
    """The :data:`OUTBOX_HEADER` for a platform API call: the row it delivers, if any."""
    row = _delivering.get()
    return {} if row is None else {OUTBOX_HEADER: str(row)}


@contextlib.contextmanager
def delivering_row(row_id: int) -> Iterator[None]:
    """While the block runs, this task delivers outbox row ``row_id`` (:func:`outbox_headers`)."""
    token = _delivering.set(row_id)
    try:
        yield
    finally:
        _delivering.reset(token)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What the platform said when it accepted a message."""

    message_id: str | None = None
    """The platform's id of the sent message (a card's id, so replies to it can be matched)."""


class DeliveryError(Exception):
    """The channel could not deliver a message.

    Attributes:
        reason: Short, for the log and the failure report (never a secret).
        final: Retrying cannot help (the user blocked the bot, the chat is gone).
        hold: The platform refuses pushes for now but will take the message once the user
            writes again (WeChat's 48-hour window); it waits as ``held``.
        notify: With ``hold``: the user has not been told that something waits for them, and
            the channel can tell them (a template message); the sender queues that notice.
        retry_after: The platform asked to wait this long (Telegram's 429).
    """

    def __init__(
        self,
        reason: str,
        *,
        final: bool = False,
        hold: bool = False,
        notify: bool = False,
        retry_after: timedelta | None = None,
    ) -> None:
        """Describe the failure."""
        super().__init__(reason)
        self.reason = reason
        self.final = final
        self.hold = hold
        self.notify = notify
        self.retry_after = retry_after


class Deliverer(Protocol):
    """One channel's way of pushing a message to a chat."""

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Send ``message``; raise :class:`DeliveryError` when it does not go through."""
        ...


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 5 s doubling, at most two hours."""
    wait: timedelta = FIRST_RETRY * (2 ** max(0, attempts - 1))
    return min(wait, LONGEST_WAIT)
