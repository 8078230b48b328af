"""The outbox sender's bookkeeping: what each delivery of a round leaves in the database.

A delivered message is marked ``sent``, its card recorded and its confirmation queued under the
commissioner's message it relayed. A failure for now is set to go again after its backoff; a
refusal the platform lifts once the user writes is ``held``; a final failure, or one that
outlasts every retry, is marked ``failed`` and reported to the request's duty group, never
dropped silently. A round's bookkeeping is written together, a few transactions a round rather
than one per message, each outcome only after its delivery ended and all of it before the round
ends. A sender that dies between delivery and bookkeeping leaves the row to fall due again when
its lease runs out: delivery is at least once at the platform boundary and exactly once
everywhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.delivery import MAX_ATTEMPTS, Delivered, DeliveryError, backoff
from bot.domain.roster.model import Roster
from bot.logs import about
from bot.messages import Channel, Language, OutgoingMessage
from bot.reloadable import Reloadable
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from storage import Database, outbox, requests
from storage.database import UNAVAILABLE
from storage.models import OutboxMessage, Request

__all__ = ["FLUSH_AFTER", "Bookkeeping", "Outcome", "OutcomeWriter", "Verdict", "verdict_of"]

# Its lines are the sender's, under the sender's logger (``bot.sender``) as before it had a module
# of its own: whoever filters the log by logger keeps seeing them.
log = logging.getLogger("bot.sender")

FLUSH_AFTER = 0.02
"""Seconds a delivery's bookkeeping waits for others of its round to share its transaction.

A round writes what is left as soon as its last chat is done, within milliseconds of its first
delivery when the platform answers quickly: this bound is for a round in which some chat is slow.
It is also most of the window a killed sender leaves: what it delivered in its last
``FLUSH_AFTER`` seconds, and in the commit under way, is not marked, and goes again after the
lease."""


Verdict = Literal["held", "retry", "final"]


def verdict_of(row: OutboxMessage, error: DeliveryError) -> Verdict:
    """What a failed delivery of ``row`` makes of it: held, retried later, or failed for good."""
    if error.hold:
        return "held"
    if not error.final and row.attempts < MAX_ATTEMPTS:
        return "retry"
    return "final"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message of a round, for the round's bookkeeping."""

    row: OutboxMessage
    message: OutgoingMessage
    request_number: str | None
    at: datetime
    """When the delivery ended: a retry's wait counts from it, and a card is recorded at it."""
    delivered: Delivered | None = None
    error: DeliveryError | None = None
    """Why the delivery failed; ``None``: the platform took the message."""


class Bookkeeping:
    """The outcomes of one round, written together rather than a transaction per message.

    An outcome is noted when its delivery ends, never before: a message is marked sent only
    after the platform took it. What is noted is written in one transaction (``write``)
    :data:`FLUSH_AFTER` after the first of it, when a chat needs the database to show its own
    earlier deliveries (:meth:`flush`), and when the round's chats are all done
    (:meth:`finish`); outcomes noted while a write runs go in the next one. One write at a time,
    so a chat that asks for a flush waits for the one under way too.
    """

    def __init__(self, write: Callable[[Sequence[Outcome]], Awaitable[None]], after: float) -> None:
        """Write through ``write``, at the latest ``after`` seconds after an outcome is noted."""
        self._write = write
        self._after = after
        self._noted: list[Outcome] = []
        self._turn = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._errors: list[BaseException] = []

    def note(self, outcome: Outcome) -> None:
        """Add ``outcome`` to the next write, and make sure that write comes soon."""
        self._noted.append(outcome)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._after, self._due)

    def _due(self) -> None:
        self._timer = None
        task = asyncio.create_task(self._flush_in_background())
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception as error:
            self._errors.append(error)  # the round raises it when it ends

    async def flush(self) -> None:
        """Write everything noted so far; return once it is committed.

        Raises:
            Exception: What ``write`` raised; what it was writing is lost, and goes again
                after the lease.
        """
        async with self._turn:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            noted, self._noted = self._noted, []
            if noted:
                await self._write(noted)

    async def finish(self) -> list[BaseException]:
        """Write what is left, once every chat is done; the errors of every write of the round."""
        try:
            await self.flush()
        except Exception as error:
            self._errors.append(error)
        await asyncio.gather(*self._writing)
        return self._errors

    def abandon(self) -> None:
        """Write nothing more: a cancelled round stops as a killed process would."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._writing:
            task.cancel()


class OutcomeWriter:
    """Writes a round's outcomes: marks, cards, confirmations, retries and failure reports."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        roster: Reloadable[Roster],
        wake: Callable[[], None],
        served: Collection[Channel],
    ) -> None:
        """Write to ``database``; ``wake`` the sender when an outcome queued a message.

        Args:
            database: Where the outbox lives.
            clock: Dates what is written (a sent mark, a queued message).
            roster: Names the duty group's chats a failure is reported to.
            wake: Called after a write that queued messages (a confirmation, a report).
            served: The channels messages are queued for (the others are never delivered).
        """
        self._database = database
        self._clock = clock
        self._roster = roster
        self._wake = wake
        self._served = frozenset(served)

    async def write(self, outcomes: Sequence[Outcome]) -> None:
        """Write ``outcomes`` in one transaction; if that fails, each in a transaction of its own.

        One outcome whose bookkeeping cannot be written (a card id the platform gave twice)
        then costs only itself: it is logged, and its message goes again after the lease.

        Raises:
            Exception: One of :data:`~storage.database.UNAVAILABLE`: the database cannot
                write now, and one by one would fail alike. Nothing of it was written.
        """
        try:
            await self._write_together(outcomes)
        except UNAVAILABLE:
            raise
        except Exception:
            if len(outcomes) == 1:
                self._not_written(outcomes[0])
                return
            for outcome in outcomes:
                try:
                    await self._write_together([outcome])
                except UNAVAILABLE:
                    raise
                except Exception:
                    self._not_written(outcome)

    @staticmethod
    def _not_written(outcome: Outcome) -> None:
        """Log an outcome whose bookkeeping failed (inside the ``except`` that caught it)."""
        with about(outcome.request_number):
            log.exception(
                "outbox %d: recording its %s failed; it goes again after the lease",
                outcome.row.id,
                "delivery" if outcome.error is None else "failure",
            )

    async def _write_together(self, outcomes: Sequence[Outcome]) -> None:
        """Every outcome in one transaction: the messages sent in one statement, then the rest."""
        now = self._clock.now()
        wake = False
        async with self._database.transaction() as session:
            sent = [outcome.row.id for outcome in outcomes if outcome.error is None]
            await outbox.mark_all_sent(session, sent, now)
            for outcome in outcomes:
                with about(outcome.request_number):
                    if outcome.error is None:
                        wake |= self._book_delivery(session, outcome)
                    else:
                        wake |= await self._book_failure(session, outcome, outcome.error)
        if wake:
            self._wake()

    def _book_delivery(self, session: AsyncSession, outcome: Outcome) -> bool:
        """A delivered message's card and confirmation; whether something was queued."""
        row, message, delivered = outcome.row, outcome.message, outcome.delivered
        assert delivered is not None
        if message.card and row.request_id is not None and delivered.message_id:
            requests.add_card(
                session,
                row.request_id,
                channel=row.channel,
                chat_id=row.chat_id,
                message_id=delivered.message_id,
                at=outcome.at,
            )
        if message.confirm is None:
            return False
        self._confirm(session, message, GROUP_TEXTS.delivered, outcome.at)
        return True

    def _queue(self, session: AsyncSession, message: OutgoingMessage, now: datetime) -> None:
        """Queue ``message`` if its channel is served (:func:`~bot.messages.served_only`).

        A failure report goes to the duty group's other chats, which may be on a channel this
        deployment does not serve.
        """
        if message.channel in self._served:
            outbox.enqueue_message(session, message, now)

    def _confirm(
        self, session: AsyncSession, message: OutgoingMessage, text: str, now: datetime
    ) -> None:
        """Answer under the commissioner's message that ``message`` relayed."""
        assert message.confirm is not None
        self._queue(
            session,
            OutgoingMessage(
                message.confirm.chat_id,
                message.confirm.channel,
                text,
                request_id=message.request_id,
                reply_to=message.confirm.message_id,
                delivery_report=True,
            ),
            now,
        )

    async def _book_failure(
        self, session: AsyncSession, outcome: Outcome, error: DeliveryError
    ) -> bool:
        """A failed delivery's bookkeeping; whether it queued any.

        The sender counted and logged the failure when it ended
        (:meth:`~bot.sender.OutboxSender._say_failed`).
        """
        row, message, now = outcome.row, outcome.message, outcome.at
        verdict = verdict_of(row, error)
        if verdict == "held":
            await outbox.mark_held(session, row.id, error.reason)
            queued = False
            if message.confirm is not None and row.last_error is None:
                # Said once, at the first refusal: a held reply is not yet a failure.
                text = GROUP_TEXTS.held.format(reason=error.reason)
                self._confirm(session, message, text, now)
                queued = True
            if error.notify:
                notice = OutgoingMessage(
                    row.chat_id,
                    message.channel,
                    desk_texts_for(message.language).reply_waiting,
                    request_id=row.request_id,
                    language=message.language,
                    notice=True,
                )
                self._queue(session, notice, now)
                queued = True
            return queued
        if verdict == "retry":
            wait = error.retry_after or backoff(row.attempts)
            await outbox.retry_later(session, row.id, now + wait, error.reason)
            return False
        await outbox.mark_failed(session, row.id, error.reason)
        if message.confirm is not None:
            text = GROUP_TEXTS.not_delivered.format(reason=error.reason)
            self._confirm(session, message, text, now)
        else:
            await self._report(session, message, error.reason, now)
        return True

    async def _report(
        self, session: AsyncSession, message: OutgoingMessage, reason: str, now: datetime
    ) -> None:
        """Tell the request's duty group that a message did not reach the entrepreneur."""
        if message.request_id is None or message.delivery_report or message.edit_card:
            return
        request = await session.get(Request, message.request_id)
        if request is None:
            return
        try:
            group = self._roster.current.group(request.group_id)
        except KeyError:
            log.error("request %s: group %s is not in the roster", request.number, request.group_id)
            return
        if group.chat.get(message.channel.value) == message.chat_id:
            return  # the group's own chat failed: telling it there would fail the same way
        text = desk_texts_for(Language.ZH).delivery_failed.format(
            number=request.number, reason=reason
        )
        for channel, chat_id in group.chat.items():
            if channel == Channel.WEB.value:
                continue
            report = OutgoingMessage(
                chat_id,
                Channel(channel),
                text,
                request_id=request.id,
                thread=True,
                delivery_report=True,
            )
            self._queue(session, report, now)
