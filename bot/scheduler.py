"""The scheduler: reminders, escalations, auto-closing, calendar alerts and re-dating.

Each round reads the clock once and decides in Asia/Shanghai time:

- at 09:00 on the working day before a request's due date, and on the due date, the duty group
  is reminded;
- once the deadline (24:00 of the due date) has passed without a result, the group and the
  district's supervisors get an escalation and the entrepreneur an apology;
- a resolved request nobody reopened closes itself after 5 working days;
- while due dates rest on a year the calendar only estimates, the admins are told once per year;
- about once an hour, one process of several forgets what is past keeping
  (:mod:`storage.retention`).

Every notice is written with its row in ``notices`` (request, kind, due date) in the same
transaction as the messages it causes, and the request row is locked first, so two scheduler
processes on one PostgreSQL send each notice exactly once, and none for a closed request. A
request waiting on the entrepreneur gets none: its clock stands still.

Whatever is logged while one request is dealt with carries its number; the rest of a round
carries none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

from bot.clock import SHANGHAI
from bot.desk.commands import SYSTEM, AutoClose, Command, NoticeKind, Notify, Outcome, Redate
from bot.desk.service import execute
from bot.desk.turn import Moment
from bot.domain.lifecycle import AUTO_CLOSE_WORKDAYS
from bot.domain.workdays import end_of_day, shanghai_date
from bot.logs import Outage, about
from bot.messages import Channel, Language, OutgoingMessage, served_only
from bot.routing import Services
from bot.texts.desk import desk_texts_for
from storage import notices, outbox, requests
from storage.database import UNAVAILABLE
from storage.retention import RetentionJob

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "NOTICES_PER_TRANSACTION",
    "REMIND_AT",
    "DueNotice",
    "NoticeKind",
    "Round",
    "Scheduler",
]  # NoticeKind: the desk's

log = logging.getLogger(__name__)

REMIND_AT = time(9, 0)
"""Reminders go out at this Shanghai time, when the group's working day starts."""
NOTICES_PER_TRANSACTION = 64
"""Due notices sent together in one transaction: enough that the commit is a small part of
each, few enough that a batch holds SQLite's one writer for milliseconds, not seconds."""


class DueNotice(NamedTuple):
    """A notice whose time has come and that was not sent yet."""

    request_id: int
    number: str
    """The request's number, for the log."""
    kind: NoticeKind
    day: date
    """The due date the notice is about."""


@dataclass(slots=True)
class Round:
    """What one scheduler round did."""

    reminders: int = 0
    escalations: int = 0
    closed: int = 0
    alerts: int = 0
    pruned: dict[str, int | None] | None = None
    """Rows the retention job deleted, by kind; ``None`` when it was not its hour."""

    @property
    def messages_queued(self) -> bool:
        """Whether the round queued anything for the sender."""
        return bool(self.reminders or self.escalations or self.closed or self.alerts)


class Scheduler:
    """Runs the time-driven part of the service desk."""

    def __init__(
        self,
        services: Services,
        *,
        on_queued: Callable[[], None] | None = None,
        interval: float = 30.0,
        retention: RetentionJob | None = None,
        notices_per_transaction: int = NOTICES_PER_TRANSACTION,
    ) -> None:
        """Create a scheduler.

        Args:
            services: The bot's services (database, clock, roster, calendar).
            on_queued: Called after a round that queued messages (wakes the outbox sender).
            interval: Seconds between rounds.
            retention: Forgets old rows at the end of a round, when its hour has come.
            notices_per_transaction: How many due notices are sent together in one
                transaction (1: each in its own, the benchmark's baseline).
        """
        self._services = services
        self._on_queued = on_queued
        self._interval = interval
        self._retention = retention
        self._batch = max(1, notices_per_transaction)

    async def run(self, stop: asyncio.Event) -> None:
        """Re-date what the calendar may have changed, then run rounds until ``stop`` is set."""
        with about(None):
            try:
                await self.redate(provisional_only=self._services.calendar.current.source is None)
            except Exception:
                log.exception("re-dating open requests failed; the next reload tries again")
            outage = Outage(log, "scheduler")
            while not stop.is_set():
                try:
                    await self.tick()
                except UNAVAILABLE as error:
                    outage.failed(error)
                except Exception:
                    log.exception("scheduler round failed; trying again")
                else:
                    outage.succeeded()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)

    async def tick(self) -> Round:
        """One round at the clock's current time."""
        # The caller's task may have handled a message about a request: a round starts clean.
        with about(None):
            now = self._services.clock.now()
            done = Round()
            due = await self.due_notices(now)
            for start in range(0, len(due), self._batch):
                for sent in await self._notify_batch(due[start : start + self._batch], now):
                    if sent.kind is NoticeKind.ESCALATION:
                        done.escalations += 1
                    else:
                        done.reminders += 1
            for request_id, number in await self._closable(now):
                with _on_its_own(number, "closing it"):
                    done.closed += await self._auto_close(request_id, now)
            done.alerts = await self._calendar_alert(now)
        if done.messages_queued and self._on_queued is not None:
            self._on_queued()
        # Last, so a long first clean-up after an upgrade never holds this round's notices back.
        if self._retention is not None:
            with about(None):
                try:
                    done.pruned = await self._retention.run_if_due(self._services.database, now)
                except Exception:
                    log.exception("retention failed; trying again in an hour")
        return done

    async def _notify_batch(self, batch: Sequence[DueNotice], now: datetime) -> list[DueNotice]:
        """Send ``batch``'s notices in one transaction; those sent.

        At 09:00 a busy district has hundreds of reminders due at once, and a commit each is
        most of their cost. Should one of them fail (its request holds something this release
        cannot read), the whole transaction is undone, claims included, and the batch is sent
        again one notice per transaction, so the others still go out this round, once each.
        """
        if len(batch) > 1:
            try:
                return await self._notify_together(batch, now)
            except UNAVAILABLE:
                raise
            except Exception:
                log.info("a notice of %d failed; sending them one at a time", len(batch))
        sent = []
        for due in batch:
            with _on_its_own(due.number, f"the {due.kind.value} notice"):
                if await self._notify(due.request_id, due.kind, due.day, now):
                    sent.append(due)
        return sent

    async def _notify_together(self, batch: Sequence[DueNotice], now: datetime) -> list[DueNotice]:
        services = self._services
        sent = []
        async with services.database.transaction() as session:
            turn = Moment(session, now, services.roster.current, services.calendar.current)
            for due in batch:
                with about(due.number):
                    outcome = await execute(turn, SYSTEM, Notify(due.request_id, due.kind, due.day))
                self._queue(session, outcome.messages, now)
                if outcome.done:
                    sent.append(due)
        return sent

    async def redate(self, *, provisional_only: bool = False) -> int:
        """Date every request still being worked on again by the calendar in service.

        Called after the calendar is reloaded (an admin adds next year, corrects a holiday) and
        at start-up. The entrepreneur is told when an announced date moves. Requests waiting on
        the entrepreneur are left alone: they are dated again when the wait ends.

        Args:
            provisional_only: Only the requests dated on an estimated year (at start-up, when
                there is no override file whose edits could have moved anything else).

        Returns:
            How many requests got a new due date.
        """
        with about(None):  # a count of requests moved, about no one request
            outcome = await self._execute(Redate(provisional_only=provisional_only))
        if outcome.messages and self._on_queued is not None:
            self._on_queued()
        return outcome.count

    async def due_notices(self, now: datetime) -> list[DueNotice]:
        """The notices whose time has come and that were not sent, by deadline."""
        calendar = self._services.calendar.current
        local = now.astimezone(SHANGHAI)
        today = local.date()
        # By deadline (24:00 of the due date): an escalation once it has passed, the reminders
        # on the working day it falls at the end of, and on the working day before.
        wanted: list[tuple[NoticeKind, datetime, bool]] = [(NoticeKind.ESCALATION, now, True)]
        if calendar.is_workday(today) and local.time() >= REMIND_AT:
            tomorrow = calendar.next_workday(today)
            wanted.append((NoticeKind.REMIND_DUE, end_of_day(today), False))
            wanted.append((NoticeKind.REMIND_BEFORE, end_of_day(tomorrow), False))
        found: list[DueNotice] = []
        async with self._services.database.sessions() as session:
            for kind, deadline, or_earlier in wanted:
                rows = await notices.unsent(session, kind, deadline, or_earlier=or_earlier)
                found += [
                    DueNotice(request_id, number, kind, day) for request_id, number, day in rows
                ]
        return found

    async def _notify(self, request_id: int, kind: NoticeKind, day: date, now: datetime) -> bool:
        """Send one notice unless another process did, or the request moved on meanwhile."""
        return (await self._execute(Notify(request_id, kind, day), now)).done

    async def _closable(self, now: datetime) -> Sequence[tuple[int, str]]:
        """Resolved requests (id, number) whose reopening window may have passed.

        Checked exactly when each is closed.
        """
        # Five working days are at least five calendar days: a cheap, indexable first cut.
        async with self._services.database.sessions() as session:
            return await requests.closable(session, now - timedelta(days=AUTO_CLOSE_WORKDAYS))

    async def _auto_close(self, request_id: int, now: datetime) -> int:
        return int((await self._execute(AutoClose(request_id), now)).done)

    async def _execute(self, command: Command, now: datetime | None = None) -> Outcome:
        """Have the desk carry out ``command`` and queue what it causes, in one transaction."""
        services = self._services
        now = now or services.clock.now()
        async with services.database.transaction() as session:
            turn = Moment(session, now, services.roster.current, services.calendar.current)
            outcome = await execute(turn, SYSTEM, command)
            self._queue(session, outcome.messages, now)
        return outcome

    def _queue(
        self, session: AsyncSession, messages: Iterable[OutgoingMessage], now: datetime
    ) -> None:
        """Queue ``messages``: those for a channel this deployment serves."""
        for queued in served_only(messages, self._services.served):
            outbox.enqueue_message(session, queued, now)

    async def _calendar_alert(self, now: datetime) -> int:
        """Tell the admins, once per year, that due dates rest on an estimated calendar."""
        calendar = self._services.calendar.current
        async with self._services.database.sessions() as session:
            first, last, count = await requests.provisional_span(session)
        if not count or first is None or last is None:
            return 0
        years = calendar.unknown_years((shanghai_date(first), last))
        sent = 0
        for year in years:
            async with self._services.database.transaction() as session:
                if not await notices.claim_alert(session, "calendar-unknown", str(year), now):
                    continue
                text = desk_texts_for(Language.ZH).calendar_alert.format(year=year, count=count)
                admins = [
                    OutgoingMessage(user_id, Channel(channel), text)
                    for channel, user_id in sorted(self._services.roster.current.admin_accounts)
                    if channel != Channel.WEB.value
                ]
                self._queue(session, admins, now)
                log.warning("calendar for %d is estimated: %d due dates provisional", year, count)
                sent += 1
        return sent


@contextlib.contextmanager
def _on_its_own(number: str, what: str) -> Iterator[None]:
    """Deal with one request, its log lines marked with its number.

    A fault of this request alone (its group left the roster, say) is logged and the round goes
    on with the others; the request is tried again next round. A database that cannot be
    reached ends the round, so an outage is one line a round rather than one per request.
    """
    with about(number):
        try:
            yield
        except UNAVAILABLE:
            raise
        except Exception:
            log.exception("request %s: %s failed; trying again next round", number, what)
