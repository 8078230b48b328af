"""The outbox sender: delivers queued messages through the channel adapters, with retries.

Handlers never talk to a platform. What they return is written to the outbox in the transaction
that caused it; this sender takes due rows, hands each to its channel's deliverer
(:class:`~bot.delivery.Deliverer`) and records the outcome. A failure for now is retried with
exponential backoff (or when the platform says, ``retry_after``); a final failure, or one that
outlasts every retry, is marked ``failed`` and reported to the request's duty group, never
dropped silently. A round's bookkeeping is written together, a few transactions a round rather
than one per message, each outcome only after its delivery ended and all of it before the round
ends. A sender that dies between delivery and bookkeeping leaves the row to fall due again when
its lease runs out: delivery is at least once at the platform boundary and exactly once
everywhere else. A message that carries a file the bot makes (a report) reaches the sender only
once the file is made (:mod:`bot.file_maker`); the sender sends the stored bytes, on every retry
the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.delivery import (
    FIRST_RETRY,
    MAX_ATTEMPTS,
    Delivered,
    Deliverer,
    DeliveryError,
    backoff,
    delivering_row,
)
from bot.domain.roster.model import Roster
from bot.logs import Outage, about
from bot.messages import Channel, Language, OutgoingMessage
from bot.metrics import Metrics
from bot.reloadable import Reloadable
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from bot.waits import first_of
from storage import Database, made_files, outbox, requests
from storage.database import UNAVAILABLE
from storage.models import OutboxMessage, Request

__all__ = ["OutboxSender"]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a claimed row is left to its sender before another may take it.

It is also how long the messages a killed process had taken wait before another process
sends them. A round gives back what it has not begun by half the lease, so a slow platform
never lets a lease run out under a delivery that is still to come."""
FLUSH_AFTER = 0.02
"""Seconds a delivery's bookkeeping waits for others of its round to share its transaction.

A round writes what is left as soon as its last chat is done, within milliseconds of its first
delivery when the platform answers quickly: this bound is for a round in which some chat is slow.
It is also most of the window a killed sender leaves: what it delivered in its last
``FLUSH_AFTER`` seconds, and in the commit under way, is not marked, and goes again after the
lease."""


_Verdict = Literal["held", "retry", "final"]


def _verdict(row: OutboxMessage, error: DeliveryError) -> _Verdict:
    """What a failed delivery of ``row`` makes of it: held, retried later, or failed for good."""
    if error.hold:
        return "held"
    if not error.final and row.attempts < MAX_ATTEMPTS:
        return "retry"
    return "final"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of one message of a round, for the round's bookkeeping."""

    row: OutboxMessage
    message: OutgoingMessage
    request_number: str | None
    at: datetime
    """When the delivery ended: a retry's wait counts from it, and a card is recorded at it."""
    delivered: Delivered | None = None
    error: DeliveryError | None = None
    """Why the delivery failed; ``None``: the platform took the message."""


class _Bookkeeping:
    """The outcomes of one round, written together rather than a transaction per message.

    An outcome is noted when its delivery ends, never before: a message is marked sent only
    after the platform took it. What is noted is written in one transaction (``write``)
    :data:`FLUSH_AFTER` after the first of it, when a chat needs the database to show its own
    earlier deliveries (:meth:`flush`), and when the round's chats are all done
    (:meth:`finish`); outcomes noted while a write runs go in the next one. One write at a time,
    so a chat that asks for a flush waits for the one under way too.
    """

    def __init__(
        self, write: Callable[[Sequence[_Outcome]], Awaitable[None]], after: float
    ) -> None:
        """Write through ``write``, at the latest ``after`` seconds after an outcome is noted."""
        self._write = write
        self._after = after
        self._noted: list[_Outcome] = []
        self._turn = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()
        self._errors: list[BaseException] = []

    def note(self, outcome: _Outcome) -> None:
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


class OutboxSender:
    """Delivers the outbox of the channels it has a deliverer for.

    Channels the client pulls from (the web chat) have no deliverer: their rows are acknowledged
    by the page itself.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        deliverers: Mapping[Channel, Deliverer],
        roster: Reloadable[Roster],
        *,
        metrics: Metrics | None = None,
        batch: int = 50,
        idle: float = 1.0,
        lease: timedelta = LEASE,
        flush_after: float = FLUSH_AFTER,
    ) -> None:
        """Create a sender.

        Args:
            database: Where the outbox lives.
            clock: Decides when a retry is due.
            deliverers: The channels to push, each with its adapter.
            roster: Names the duty group's chats a failure is reported to.
            metrics: Where deliveries and failures are counted.
            batch: Rows taken per round.
            idle: Seconds between rounds when nothing woke the sender.
            lease: How long a claimed row is this sender's (see :data:`LEASE`).
            flush_after: Seconds a delivery's bookkeeping may wait to be written with others
                (see :data:`FLUSH_AFTER`).
        """
        self._database = database
        self._clock = clock
        self._deliverers = dict(deliverers)
        self._roster = roster
        self._metrics = metrics or Metrics()
        self._batch = batch
        self._idle = idle
        self._lease = lease
        self._flush_after = flush_after
        self._wake = asyncio.Event()

    @property
    def channels(self) -> list[str]:
        """The channels this sender pushes."""
        return sorted(channel.value for channel in self._deliverers)

    def wake(self) -> None:
        """Something was queued: deliver now rather than at the next idle round."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a round that fails is logged and tried again."""
        outage = Outage(log, "outbox")
        with about(None):
            while not stop.is_set():
                try:
                    busy = await self.deliver_due() == self._batch
                except UNAVAILABLE as error:
                    outage.failed(error)
                    busy = False
                except Exception:
                    log.exception("outbox round failed; trying again")
                    busy = False
                else:
                    outage.succeeded()
                if busy:
                    continue
                self._wake.clear()
                await first_of(self._wake, stop, within=self._idle)

    async def deliver_due(self) -> int:
        """One round: deliver the due messages, oldest first. Returns how many were taken.

        The round's bookkeeping (each message marked sent, retried, held or failed; cards
        recorded; confirmations queued) is written in few transactions, not one per message
        (see :class:`_Bookkeeping`), and all of it before the round returns, whichever chat
        failed. Cancelled, the round writes nothing more: what it delivered and had not written
        yet goes again after the lease, as after a ``kill -9``.

        What is logged about a message of a request (its failure, its hold, the adapter's own
        lines) carries the request's number; the lines about any other message carry none.

        Raises:
            Exception: The first error of a chat's delivery or of the round's bookkeeping,
                once every chat is done and what could be written is.
        """
        claimed = self._clock.now()
        async with self._database.write_lock:
            rows = await outbox.claim_due(
                self._database.sessions,
                self.channels,
                now=claimed,
                lease=self._lease,
                limit=self._batch,
            )
        if not rows:
            return 0
        lanes: dict[tuple[str, str], list[outbox.Claimed]] = {}
        for taken in rows:
            lanes.setdefault((taken.message.channel, taken.message.chat_id), []).append(taken)
        book = _Bookkeeping(self._write, self._flush_after)
        try:
            ended = await asyncio.gather(
                *(self._deliver_in_order(lane, claimed, book) for lane in lanes.values()),
                # A chat that fails must not keep the others' outcomes from being written.
                return_exceptions=True,
            )
            errors = [error for error in ended if isinstance(error, BaseException)]
            errors += await book.finish()
        finally:
            book.abandon()
        if errors:
            raise errors[0]
        return len(rows)

    async def _deliver_in_order(
        self, lane: list[outbox.Claimed], claimed: datetime, book: _Bookkeeping
    ) -> None:
        """One chat's messages of a round, in order.

        Chats go side by side: a chat the platform makes wait (Telegram lets a bot post 20
        messages a minute in a group) holds up only itself, not every other chat's answers.
        """
        for index, taken in enumerate(lane):
            now = self._clock.now()
            if now - claimed > self._lease / 2:
                # Another process may take them once the lease ends; sending them after that
                # could send them twice.
                rest = [later.message.id for later in lane[index:]]
                async with self._database.transaction() as session:
                    await outbox.release(session, rest, lease_end=claimed + self._lease, now=now)
                return
            with about(taken.request_number):
                await self._deliver(taken, book)

    async def _deliver(self, taken: outbox.Claimed, book: _Bookkeeping) -> None:
        row = taken.message
        message: OutgoingMessage | None = OutgoingMessage.from_payload(
            row.channel, row.chat_id, row.payload, row.request_id
        )
        assert message is not None
        if message.request_id is not None and (message.thread or message.edit_card):
            # The card this message goes under may be among the round's deliveries not written
            # yet (it went to the same chat, just before): it must read as posted, not pending.
            await book.flush()
            message = await self._place(row, message)
            if message is None:
                return
        deliverer = self._deliverers[message.channel]
        try:
            message = await self._with_files(row, message)
            started = time.perf_counter()
            with delivering_row(row.id):
                delivered = await deliverer.deliver(message)
            self._metrics.delivery.labels(row.channel).observe(time.perf_counter() - started)
        except DeliveryError as error:
            failure = error
        except Exception as error:
            # An adapter bug must not stop the queue; it is retried like a network failure.
            log.exception("outbox %d: %s adapter raised", row.id, row.channel)
            failure = DeliveryError(type(error).__name__)
        else:
            self._metrics.messages_out.labels(row.channel, "pushed").inc()
            ended = self._clock.now()
            book.note(_Outcome(row, message, taken.request_number, ended, delivered=delivered))
            return
        self._say_failed(row, failure)
        book.note(_Outcome(row, message, taken.request_number, self._clock.now(), error=failure))

    async def _write(self, outcomes: Sequence[_Outcome]) -> None:
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
    def _not_written(outcome: _Outcome) -> None:
        """Log an outcome whose bookkeeping failed (inside the ``except`` that caught it)."""
        with about(outcome.request_number):
            log.exception(
                "outbox %d: recording its %s failed; it goes again after the lease",
                outcome.row.id,
                "delivery" if outcome.error is None else "failure",
            )

    async def _write_together(self, outcomes: Sequence[_Outcome]) -> None:
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
            self.wake()

    def _book_delivery(self, session: AsyncSession, outcome: _Outcome) -> bool:
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

    async def _with_files(self, row: OutboxMessage, message: OutgoingMessage) -> OutgoingMessage:
        """``message`` with the bytes of the files the bot made for it (:mod:`bot.file_maker`).

        Raises:
            DeliveryError: Final when a file is not there (it waited for nothing, or was pruned).
        """
        if not message.files_to_make:
            return message
        async with self._database.sessions() as session:
            stored = await made_files.files_of(session, row.id)
        attachments = list(message.attachments)
        for position, spec in message.files_to_make:
            made = stored.get(position)
            if made is None:
                raise DeliveryError(f"file not made: {spec}", final=True)
            attachments[position] = replace(
                attachments[position], name=made.name, size=len(made.content), content=made.content
            )
        return replace(message, attachments=tuple(attachments))

    async def _place(self, row: OutboxMessage, message: OutgoingMessage) -> OutgoingMessage | None:
        """Find the request's card in the chat for a message that edits or answers under it.

        Returns ``None`` when the row was settled here instead: the card is still in the outbox
        (try again shortly, so the card comes first), or there is no card to edit.
        """
        assert message.request_id is not None
        now = self._clock.now()
        async with self._database.transaction() as session:
            # Pending first: another process may post the card between the two reads, and a
            # card that stops being pending is recorded in the same commit. Read the other way
            # round, the card could be neither recorded yet nor pending any more.
            if await requests.card_pending(session, message.request_id, row.channel, row.chat_id):
                await outbox.retry_later(session, row.id, now + FIRST_RETRY, "card not posted yet")
                return None
            card = await requests.card_in(session, message.request_id, row.channel, row.chat_id)
            if card is not None:
                if message.edit_card:
                    return replace(message, edit=card)
                return replace(message, reply_to=card)
            if message.edit_card:
                # The card never made it (its failure was reported): nothing to bring up to date.
                await outbox.mark_sent(session, row.id, now)
                return None
        return message

    @staticmethod
    def _confirm(session: AsyncSession, message: OutgoingMessage, text: str, now: datetime) -> None:
        """Answer under the commissioner's message that ``message`` relayed."""
        assert message.confirm is not None
        _queue(
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

    def _say_failed(self, row: OutboxMessage, error: DeliveryError) -> None:
        """Count and log a failed delivery at once; its bookkeeping waits for the round's."""
        failures = self._metrics.delivery_failures
        verdict = _verdict(row, error)
        if verdict == "held":
            failures.labels(row.channel, "held").inc()
            log.info("outbox %d held for %s: %s", row.id, row.channel, error.reason)
        elif verdict == "retry":
            failures.labels(row.channel, "retry").inc()
            log.warning(
                "outbox %d to %s failed (attempt %d): %s; again in %s",
                row.id,
                row.channel,
                row.attempts,
                error.reason,
                error.retry_after or backoff(row.attempts),
            )
        else:
            failures.labels(row.channel, "final").inc()
            log.error(
                "outbox %d to %s undeliverable after %d attempts: %s",
                row.id,
                row.channel,
                row.attempts,
                error.reason,
            )

    async def _book_failure(
        self, session: AsyncSession, outcome: _Outcome, error: DeliveryError
    ) -> bool:
        """A failed delivery's bookkeeping (see :meth:`_say_failed`); whether it queued any."""
        row, message, now = outcome.row, outcome.message, outcome.at
        verdict = _verdict(row, error)
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
                _queue(session, notice, now)
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
            _queue(session, report, now)


def _queue(session: AsyncSession, message: OutgoingMessage, now: datetime) -> None:
    """Write ``message`` to the outbox, to go out once ``session`` commits."""
    outbox.enqueue(
        session,
        channel=message.channel.value,
        chat_id=message.chat_id,
        payload=message.to_payload(),
        now=now,
        request_id=message.request_id,
    )
