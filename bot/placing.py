"""Where a message's replies go: back in the adapter's HTTP answer, or to the outbox.

Telegram's webhook answer carries one call, WeChat's passive reply one text within 5 s, the web
chat any number: an :class:`InlinePolicy` says what the adapter can carry, and
:meth:`Placed.of` decides for each reply, before anything is stored, so a reply is never
marked handed back and then found not to fit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.messages import IncomingMessage, OutgoingMessage

__all__ = ["InlinePolicy", "Placed", "last_edits"]


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    """What an adapter can hand back in its own HTTP response, asked before the commit.

    The replies to the sender's own chat that the policy lets through are stored as handed
    back (:attr:`~storage.outbox.OutboxStatus.HANDED_BACK`) in the message's own transaction,
    and the adapter must send exactly those; everything else waits in the outbox. So a reply is
    never marked handed back and then found not to fit. The default hands back every reply (the
    web chat).
    """

    limit: int | None = None
    """At most this many replies go back (Telegram's webhook answer carries one call)."""
    deadline: float | None = None
    """The event loop's time (``loop.time()``) after which the adapter can no longer answer
    inline (WeChat's passive reply): a handler done later leaves every reply to the outbox."""
    fits: Callable[[Sequence[OutgoingMessage]], bool] | None = None
    """Whether the adapter can carry these replies together, the sender's first ones in order
    (Telegram: plain messages, no edit or file; WeChat: one text of 2,048 bytes at most)."""

    def can_inline(self, replies: Sequence[OutgoingMessage]) -> bool:
        """Whether ``replies`` can all go back in the response.

        Asked with the replies handed back so far and the next one: what fits depends on the
        whole response (WeChat's byte limit), not on each reply alone.
        """
        if self.limit is not None and len(replies) > self.limit:
            return False
        return self.fits is None or self.fits(replies)

    def too_late(self) -> bool:
        """Whether the :attr:`deadline` has passed."""
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline


@dataclass(slots=True)
class Placed:
    """Where each reply of a message goes: back in the HTTP response, or to the outbox."""

    replies: list[tuple[OutgoingMessage, bool]]
    """Each reply, and whether it is handed back."""
    own: list[OutgoingMessage]
    """The replies to the sender's own chat that :meth:`Dispatcher.handle` returns."""
    queued: bool
    """Some reply waits for the outbox sender."""
    inline: bool
    """The adapter hands back replies in its response (it has a policy, in time)."""
    late: bool
    """The adapter's deadline had passed: it hands back nothing."""

    @classmethod
    def of(
        cls,
        message: IncomingMessage,
        replies: Sequence[OutgoingMessage],
        inline: InlinePolicy | None,
        *,
        late: bool,
    ) -> Placed:
        """Place ``replies`` under ``inline`` (``None``, or ``late``: nothing is handed back)."""
        policy = None if late else inline
        placed: list[tuple[OutgoingMessage, bool]] = []
        own: list[OutgoingMessage] = []
        in_order = policy is not None  # once a reply cannot go back inline, the rest follow
        for reply in replies:
            mine = reply.channel == message.channel and reply.chat_id == message.chat_id
            if policy is not None and mine and in_order:
                # A file the bot makes (a report) is a job of its own, never handed back.
                in_order = not reply.files_to_make and policy.can_inline([*own, reply])
            handed_back = mine and in_order
            if handed_back or (mine and policy is None):
                own.append(reply)
            placed.append((reply, handed_back))
        queued = any(not handed_back for _, handed_back in placed)
        return cls(placed, own, queued, policy is not None, late)


def last_edits(replies: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
    """Drop card edits that a later edit of the same card in the same turn supersedes."""
    last = {(r.channel, r.chat_id, r.request_id): i for i, r in enumerate(replies) if r.edit_card}
    return [
        r
        for i, r in enumerate(replies)
        if not r.edit_card or last[(r.channel, r.chat_id, r.request_id)] == i
    ]
