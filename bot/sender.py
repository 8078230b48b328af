"""The outbox sender: delivers queued messages through the channel adapters, with retries.

Handlers never talk to a platform. What they return is written to the outbox in the transaction
that caused it; this sender's loop takes the due rows a round at a time, oldest first, and hands
each to its channel's deliverer, a chat's messages in order and the chats side by side. What a
deliverer promises, and how long a failure waits before it goes again, is :mod:`bot.delivery`;
what each delivery leaves in the database (sent, retried, held, or failed and reported to the
request's duty group), written together a few transactions a round, is
:mod:`bot.sender_bookkeeping`. A message that carries a file the bot makes (a report) reaches the
sender only once the file is made (:mod:`bot.file_maker`); the sender sends the stored bytes, on
every retry the same. A file sent on another channel than the message's is fetched from its
platform into the file store and uploaded, or linked to (:mod:`bot.files`), here too: just
before delivery, never in the transaction that queued the message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.delivery import FIRST_RETRY, Deliverer, DeliveryError, backoff, delivering_row
from bot.domain.roster.model import Roster
from bot.files import FileCarrier, FileLinks, SourceError, carry, needs_carrying
from bot.logs import Outage, about
from bot.messages import Channel, OutgoingMessage
from bot.metrics import Metrics
from bot.reloadable import Reloadable
from bot.sender_bookkeeping import FLUSH_AFTER, Bookkeeping, Outcome, OutcomeWriter, verdict_of
from bot.waits import first_of
from storage import Database, made_files, outbox, requests
from storage.database import UNAVAILABLE
from storage.models import OutboxMessage

__all__ = ["OutboxSender"]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""How long a claimed row is left to its sender before another may take it.

It is also how long the messages a killed process had taken wait before another process
sends them. A round gives back what it has not begun by half the lease, so a slow platform
never lets a lease run out under a delivery that is still to come."""


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
        files: FileCarrier | None = None,
        links: FileLinks | None = None,
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
                (see :data:`~bot.sender_bookkeeping.FLUSH_AFTER`).
            files: Fetches the files sent on another channel than the message's; without it
                they go on only where their channel is the message's.
            links: Makes the links to files the message's platform cannot take.
        """
        self._database = database
        self._clock = clock
        self._deliverers = dict(deliverers)
        self._metrics = metrics or Metrics()
        self._batch = batch
        self._idle = idle
        self._lease = lease
        self._flush_after = flush_after
        self._files = files
        self._links = links
        self._wake = asyncio.Event()
        # The web chat pulls its own messages; each channel pushed is served by its deliverer.
        served = {Channel.WEB, *self._deliverers}
        self._outcomes = OutcomeWriter(database, clock, roster, self.wake, served)

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
        (see :class:`~bot.sender_bookkeeping.Bookkeeping`), and all of it before the round
        returns, whichever chat failed. Cancelled, the round writes nothing more: what it
        delivered and had not written yet goes again after the lease, as after a ``kill -9``.

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
        book = Bookkeeping(self._outcomes.write, self._flush_after)
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
        self, lane: list[outbox.Claimed], claimed: datetime, book: Bookkeeping
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

    async def _deliver(self, taken: outbox.Claimed, book: Bookkeeping) -> None:
        row = taken.message
        message: OutgoingMessage | None = await self._readable(row)
        if message is None:
            return
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
            message = await self._carried(message)
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
            book.note(Outcome(row, message, taken.request_number, ended, delivered=delivered))
            return
        self._say_failed(row, failure)
        book.note(Outcome(row, message, taken.request_number, self._clock.now(), error=failure))

    async def _readable(self, row: OutboxMessage) -> OutgoingMessage | None:
        """The row's message; ``None`` when it cannot be read, and then it is marked failed.

        A row this release cannot read (written by a newer one, or edited by hand) can never be
        delivered: taken again every lease it would only fill the log, so it fails at once,
        loudly. The log names the error's kind, not its text, which may quote the message.
        """
        try:
            return OutgoingMessage.from_payload(
                row.channel, row.chat_id, row.payload, row.request_id
            )
        except Exception as error:  # whatever it is, the row alone is at fault
            kind = type(error).__name__
        log.error("outbox %d to %s cannot be read (%s); marked failed", row.id, row.channel, kind)
        self._metrics.delivery_failures.labels(row.channel, "final").inc()
        async with self._database.transaction() as session:
            await outbox.mark_failed(session, row.id, f"unreadable: {kind}")
        return None

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

    async def _carried(self, message: OutgoingMessage) -> OutgoingMessage:
        """``message`` with the files of other channels fetched, uploaded or linked to.

        Raises:
            DeliveryError: Plain (tried again later) when a file's platform or the file store
                failed for now; a file that can never go becomes a note instead.
        """
        if self._files is None or not needs_carrying(message):
            return message
        try:
            return await carry(message, self._files, self._links)
        except SourceError as error:
            raise DeliveryError(f"file not fetched: {error.reason}") from None
        except OSError as error:  # the file store's disk: full, or gone for now
            raise DeliveryError(f"file store: {type(error).__name__}") from None

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

    def _say_failed(self, row: OutboxMessage, error: DeliveryError) -> None:
        """Count and log a failed delivery at once; its bookkeeping waits for the round's."""
        failures = self._metrics.delivery_failures
        verdict = verdict_of(row, error)
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
