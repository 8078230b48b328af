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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SHANGHAI
from bot.desk.compose import (
    GROUP_TEXTS,
    card_update,
    due_text,
    group_name,
    redate_all,
    space_name,
    to_entrepreneur,
    to_group,
)
from bot.domain import categories
from bot.domain.lifecycle import AUTO_CLOSE_WORKDAYS, Action, Role, Status, transition
from bot.domain.workdays import end_of_day, shanghai_date
from bot.logs import Outage, about
from bot.messages import Channel, Language, OutgoingMessage
from bot.routing import Context, Services
from bot.texts import DeskTexts, desk_texts_for
from storage import outbox, requests
from storage.database import UNAVAILABLE
from storage.models import Alert, Notice, Request
from storage.retention import RetentionJob
from storage.upsert import insert_for

__all__ = ["REMIND_AT", "DueNotice", "NoticeKind", "Round", "Scheduler"]

log = logging.getLogger(__name__)

REMIND_AT = time(9, 0)
"""Reminders go out at this Shanghai time, when the group's working day starts."""
_ACTIVE = (Status.OPEN.value, Status.CLAIMED.value)
_DATED = (Status.OPEN.value, Status.CLAIMED.value, Status.WAITING.value)


class NoticeKind(StrEnum):
    """The notices the scheduler sends, each at most once per request and due date."""

    REMIND_BEFORE = "remind-before"
    REMIND_DUE = "remind-due"
    ESCALATION = "escalation"


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
    ) -> None:
        """Create a scheduler.

        Args:
            services: The bot's services (database, clock, roster, calendar).
            on_queued: Called after a round that queued messages (wakes the outbox sender).
            interval: Seconds between rounds.
            retention: Forgets old rows at the end of a round, when its hour has come.
        """
        self._services = services
        self._on_queued = on_queued
        self._interval = interval
        self._retention = retention

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
            for due in await self.due_notices(now):
                sent = False
                with _on_its_own(due.number, f"the {due.kind.value} notice"):
                    sent = await self._notify(due.request_id, due.kind, due.day, now)
                if not sent:
                    continue
                if due.kind is NoticeKind.ESCALATION:
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
        now = self._services.clock.now()
        with about(None):  # a count of requests moved, about no one request
            async with self._services.database.transaction() as session:
                context = Context(self._services, session, now)
                moved, notices = await redate_all(context, provisional_only=provisional_only)
                _queue(session, notices, now)
        if notices and self._on_queued is not None:
            self._on_queued()
        return moved

    async def due_notices(self, now: datetime) -> list[DueNotice]:
        """The notices whose time has come and that were not sent, by deadline."""
        calendar = self._services.calendar.current
        local = now.astimezone(SHANGHAI)
        today = local.date()
        # Conditions on the deadline (24:00 of the due date) so the (status, deadline) index
        # finds the few candidates among however many open requests there are.
        wanted: list[tuple[NoticeKind, ColumnElement[bool]]] = [
            (NoticeKind.ESCALATION, Request.deadline <= now),
        ]
        if calendar.is_workday(today) and local.time() >= REMIND_AT:
            tomorrow = calendar.next_workday(today)
            wanted.append((NoticeKind.REMIND_DUE, Request.deadline == end_of_day(today)))
            wanted.append((NoticeKind.REMIND_BEFORE, Request.deadline == end_of_day(tomorrow)))
        found: list[DueNotice] = []
        async with self._services.database.sessions() as session:
            for kind, condition in wanted:
                sent = exists().where(
                    Notice.request_id == Request.id,
                    Notice.kind == kind.value,
                    Notice.day == Request.due_date,
                )
                query = select(Request.id, Request.number, Request.due_date).where(
                    Request.status.in_(_ACTIVE), condition, ~sent
                )
                rows = (await session.execute(query.order_by(Request.deadline))).all()
                found += [
                    DueNotice(request_id, number, kind, day) for request_id, number, day in rows
                ]
        return found

    async def _notify(self, request_id: int, kind: NoticeKind, day: date, now: datetime) -> bool:
        """Send one notice unless another process did, or the request moved on meanwhile."""
        async with self._services.database.transaction() as session:
            request = await _locked(session, request_id)
            if request is None or request.status not in _ACTIVE or request.due_date != day:
                return False
            claimed = await session.execute(
                insert_for(session, Notice)
                .values(request_id=request_id, kind=kind.value, day=day, sent_at=now)
                .on_conflict_do_nothing()
                .returning(Notice.request_id)
            )
            if claimed.scalar_one_or_none() is None:
                return False
            context = Context(self._services, session, now)
            messages = await self._compose(context, request, kind)
            requests.add_event(
                session,
                request,
                kind="notice",
                actor="system",
                at=now,
                data={"notice": kind.value, "day": day.isoformat()},
            )
            _queue(session, messages, now)
        log.info("request %s: %s sent", request.number, kind.value)
        return True

    async def _compose(
        self, context: Context, request: Request, kind: NoticeKind
    ) -> list[OutgoingMessage]:
        texts = GROUP_TEXTS
        shown, note = due_text(texts, request)
        status = texts.status[request.status]
        if kind is NoticeKind.REMIND_BEFORE:
            text = texts.remind_before.format(number=request.number, status=status, due=shown)
            return to_group(context, request, text)
        if kind is NoticeKind.REMIND_DUE:
            text = texts.remind_due.format(number=request.number, status=status, due=shown)
            return to_group(context, request, text)
        text = texts.escalation.format(
            number=request.number,
            due=shown + note,
            status=status,
            group=group_name(context, request.group_id),
            space=space_name(context, request.space_id),
            category=categories.by_id(request.category).zh,
        )
        messages = to_group(context, request, text)
        messages += [
            OutgoingMessage(chat_id, Channel(channel), text, request_id=request.id)
            for channel, chat_id in _supervisors_chat(context, request).items()
            if channel != Channel.WEB.value
        ]

        def apology(texts: DeskTexts) -> str:
            shown, _ = due_text(texts, request)
            return texts.overdue_apology.format(
                number=request.number, due=shown, status=texts.status[request.status]
            )

        messages.append(await to_entrepreneur(context, request, apology))
        return messages

    async def _closable(self, now: datetime) -> Sequence[tuple[int, str]]:
        """Resolved requests (id, number) whose reopening window may have passed.

        Checked exactly when each is closed.
        """
        # Five working days are at least five calendar days: a cheap, indexable first cut.
        earliest = now - timedelta(days=AUTO_CLOSE_WORKDAYS)
        async with self._services.database.sessions() as session:
            query = select(Request.id, Request.number).where(
                Request.status == Status.RESOLVED.value, Request.resolved_at <= earliest
            )
            return (await session.execute(query.order_by(Request.id))).all()

    async def _auto_close(self, request_id: int, now: datetime) -> int:
        calendar = self._services.calendar.current
        async with self._services.database.transaction() as session:
            request = await _locked(session, request_id)
            if request is None or request.status != Status.RESOLVED.value:
                return 0
            assert request.resolved_at is not None
            # The same count the reopen button uses, so a request closes exactly when it can
            # no longer be reopened.
            if calendar.working_days_between(request.resolved_at, now) <= AUTO_CLOSE_WORKDAYS:
                return 0
            status = transition(Status(request.status), Action.AUTO_CLOSE, Role.SYSTEM)
            request.status, request.closed_at, request.updated_at = status.value, now, now
            requests.add_event(session, request, kind="closed", actor="system", at=now)
            context = Context(self._services, session, now)

            def compose(texts: DeskTexts) -> str:
                return texts.auto_closed.format(number=request.number, days=AUTO_CLOSE_WORKDAYS)

            closing = [await to_entrepreneur(context, request, compose)]
            _queue(session, [*closing, *await card_update(context, request)], now)
        log.info(
            "request %s closed %d working days after its result",
            request.number,
            AUTO_CLOSE_WORKDAYS,
        )
        return 1

    async def _calendar_alert(self, now: datetime) -> int:
        """Tell the admins, once per year, that due dates rest on an estimated calendar."""
        calendar = self._services.calendar.current
        async with self._services.database.sessions() as session:
            first, last, count = (
                await session.execute(
                    select(
                        func.min(Request.opened_at), func.max(Request.due_date), func.count()
                    ).where(
                        and_(Request.provisional == True, Request.status.in_(_DATED)),  # noqa: E712
                    )
                )
            ).one()
        if not count:
            return 0
        years = calendar.unknown_years((shanghai_date(first), last))
        sent = 0
        for year in years:
            async with self._services.database.transaction() as session:
                claimed = await session.execute(
                    insert_for(session, Alert)
                    .values(kind="calendar-unknown", subject=str(year), sent_at=now)
                    .on_conflict_do_nothing()
                    .returning(Alert.kind)
                )
                if claimed.scalar_one_or_none() is None:
                    continue
                text = desk_texts_for(Language.ZH).calendar_alert.format(year=year, count=count)
                admins = [
                    OutgoingMessage(user_id, Channel(channel), text)
                    for channel, user_id in sorted(self._services.roster.current.admin_accounts)
                    if channel != Channel.WEB.value
                ]
                _queue(session, admins, now)
                log.warning("calendar for %d is estimated: %d due dates provisional", year, count)
                sent += 1
        return sent


def _supervisors_chat(context: Context, request: Request) -> Mapping[str, str]:
    """Where the supervisors of the request's district meet.

    The district is its group's, or its space's once the group has left the roster.
    """
    roster = context.roster
    for lookup, item_id in ((roster.group, request.group_id), (roster.space, request.space_id)):
        try:
            return roster.supervisors_chat(lookup(item_id).district)
        except KeyError:
            continue
    log.warning("request %s: neither its group nor its space is in the roster", request.number)
    return {}


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


async def _locked(session: AsyncSession, request_id: int) -> Request | None:
    """The request, its row locked until the transaction ends (PostgreSQL; SQLite serialises)."""
    return await session.get(Request, request_id, with_for_update=True, populate_existing=True)


def _queue(session: AsyncSession, messages: Sequence[OutgoingMessage], now: datetime) -> None:
    for message in messages:
        outbox.enqueue(
            session,
            channel=message.channel.value,
            chat_id=message.chat_id,
            payload=message.to_payload(),
            now=now,
            request_id=message.request_id,
        )
