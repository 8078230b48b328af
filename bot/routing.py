"""A small router: feature modules register handlers, the dispatcher picks one per message.

Each module in ``handlers/`` exposes ``router = Router("name")``; the composition root includes
them in order. A handler receives the message and the :class:`Context` and returns the messages
to send.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.logs import about
from bot.messages import Channel, IncomingMessage, OutgoingMessage, served_only
from bot.metrics import Metrics
from bot.placing import InlinePolicy, Placed, last_edits
from storage import outbox, quick
from storage.outbox import OutboxStatus
from storage.pg_writer import Opening, Planned, Question, Queued, SpokenFor

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.clock import Clock
    from bot.domain.roster.model import Roster
    from bot.domain.workdays import WorkCalendar
    from bot.reloadable import Reloadable
    from bot.settings import Settings
    from knowledge.service import KnowledgeService
    from storage.answers import AnswerRow
    from storage.database import Database
    from storage.pg_writer import Account, PgWriter
    from storage.questions import GapRow
    from storage.writer import Writer

__all__ = [
    "Context",
    "Dispatcher",
    "Handler",
    "InlinePolicy",
    "NotQuick",
    "QuickLane",
    "QuickOpening",
    "QuickRows",
    "QuickWork",
    "Router",
    "RowsLane",
    "Services",
]

log = logging.getLogger(__name__)

Handler = Callable[[IncomingMessage, "Context"], Awaitable[Sequence[OutgoingMessage] | None]]
"""Returns the messages to send, or ``None`` to let the next matching route have it."""
Predicate = Callable[[IncomingMessage], bool]
Run = Callable[[IncomingMessage, "Context"], Awaitable[Sequence[OutgoingMessage]]]
"""Handles a message for certain: what :meth:`Dispatcher.handle` runs in its transaction."""
QuickWork = Callable[[sqlite3.Connection], Sequence[OutgoingMessage]]
"""A message's database work as a unit of the SQLite writer (:mod:`storage.writer`): it reads
what decides the reply, writes what it keeps and returns the replies; it raises
:class:`NotQuick` when the message needs the full path after all (its writes are undone)."""
QuickLane = Callable[[IncomingMessage, "Services"], QuickWork | None]
"""Prepares a message on the event loop (matching, composing) for the quick lane; ``None``
when the message is not one for it."""


@dataclass(frozen=True, slots=True)
class QuickRows:
    """A plain question prepared on the event loop for PostgreSQL's writer.

    The writer (:mod:`storage.pg_writer`) keeps the rows of a whole batch of them at once.
    """

    answer: AnswerRow | None
    """The answer to keep, if an entry answered the question."""
    gap: GapRow | None
    """The question to keep as not answered, if so."""
    replies: Callable[[int | None], Sequence[OutgoingMessage]]
    """The replies, naming the kept row's id (``None``: nothing was kept)."""
    handled: Callable[[], None]
    """Called once the lane has answered the message (not a redelivery, not spoken for)."""


@dataclass(frozen=True, slots=True)
class QuickOpening:
    """``/new text`` prepared on the event loop for PostgreSQL's writer."""

    plan: Callable[[Account], Planned[Sequence[OutgoingMessage]] | None]
    """Given the sender's account as stored, the request to open and what opening it says;
    ``None``: the full path decides."""


RowsLane = Callable[[IncomingMessage, "Services"], QuickRows | QuickOpening | None]
"""Prepares a message for the quick lane on PostgreSQL; ``None`` when it is not one for it."""


class _Stored(Protocol):
    """A reply stored for a message: an outbox row as the ORM or a writer reads it back."""

    @property
    def channel(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def payload(self) -> dict[str, object]: ...
    @property
    def status(self) -> OutboxStatus: ...


class NotQuick(Exception):
    """The message found spoken for inside its unit: the full path handles it instead."""


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived services handlers use; built once by the composition root."""

    knowledge: KnowledgeService
    database: Database
    clock: Clock
    roster: Reloadable[Roster]
    """Districts, maker spaces, duty groups and who holds which role."""
    calendar: Reloadable[WorkCalendar]
    """The working-day calendar with the admins' overrides."""
    metrics: Metrics = field(default_factory=Metrics)
    """What ``/metrics`` shows."""
    settings: Settings | None = None
    """The operator's settings, for the channels built from the services (the web chat reads
    its proxies and public address); ``None`` where a test builds services by hand."""
    writer: Writer | None = None
    """SQLite's one writer, for the quick lane (:class:`QuickLane`); ``None`` on PostgreSQL."""
    pg_writer: PgWriter | None = None
    """PostgreSQL's writer, for the quick lane there (:class:`RowsLane`); ``None`` on SQLite."""
    served: frozenset[Channel] = frozenset(Channel)
    """The channels this deployment delivers to: the web chat, and each platform configured.
    Messages for any other channel are never queued (:func:`~bot.messages.served_only`)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What one handler call works with: the services and this message's transaction.

    Everything a handler changes goes through ``session``; the dispatcher commits it together
    with the messages the handler returns, so a crash leaves both or neither.
    """

    services: Services
    session: AsyncSession
    now: datetime
    """The time this message is handled at (UTC); one reading of the clock per message."""

    @property
    def knowledge(self) -> KnowledgeService:
        """The knowledge base service."""
        return self.services.knowledge

    @property
    def roster(self) -> Roster:
        """The roster in service."""
        return self.services.roster.current

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar in service."""
        return self.services.calendar.current


@dataclass(slots=True)
class _Route:
    predicate: Predicate
    handler: Handler
    name: str


@dataclass(slots=True)
class Router:
    """The handlers of one feature."""

    name: str
    _routes: list[_Route] = field(default_factory=list)
    commands: dict[str, str] = field(default_factory=dict)
    """Command name → the feature that owns it, so the dispatcher can tell unknown commands."""

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``/name`` commands (and ``/name@bot``)."""
        wanted = frozenset(name.lower() for name in names)
        for name in wanted:
            self.commands[name] = self.name

        def register(handler: Handler) -> Handler:
            self._routes.append(
                _Route(lambda m: m.command in wanted, handler, f"{self.name}:/{'|/'.join(names)}")
            )
            return handler

        return register

    def choice(self, prefix: str) -> Callable[[Handler], Handler]:
        """Register a handler for button presses whose payload starts with ``prefix``."""

        def register(handler: Handler) -> Handler:
            self._routes.append(
                _Route(
                    lambda m: m.choice is not None and m.choice.startswith(prefix),
                    handler,
                    f"{self.name}:{prefix}*",
                )
            )
            return handler

        return register

    def message(self, predicate: Predicate | None = None) -> Callable[[Handler], Handler]:
        """Register a handler for messages that are neither commands nor choices."""

        def accepts(message: IncomingMessage) -> bool:
            if message.command is not None or message.choice is not None:
                return False
            return predicate is None or predicate(message)

        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(accepts, handler, f"{self.name}:message"))
            return handler

        return register


class Dispatcher:
    """Runs the first matching handler of the included routers, in inclusion order."""

    def __init__(
        self,
        services: Services,
        fallback: Handler,
        quick_lane: QuickLane | None = None,
        rows_lane: RowsLane | None = None,
    ) -> None:
        """Create a dispatcher.

        Args:
            services: Handed to every handler.
            fallback: Runs when no route accepts the message (unknown command, odd input).
            quick_lane: Takes the commonest messages (plain questions, ``/new text``) through
                the SQLite writer in one unit each, where there is one (:attr:`Services.writer`).
            rows_lane: Takes plain questions and ``/new text`` through PostgreSQL's writer in
                batches, where there is one (:attr:`Services.pg_writer`).
        """
        self.services = services
        self._quick_lane = quick_lane
        self._rows_lane = rows_lane
        self.on_queued: Callable[[], None] | None = None
        """Called after a message queued something for the outbox sender to push."""
        self._fallback = fallback
        self._routes: list[_Route] = []
        self.commands: dict[str, str] = {}

    def include(self, *routers: Router) -> None:
        """Add the routes of ``routers`` after those already included."""
        for router in routers:
            clash = self.commands.keys() & router.commands.keys()
            if clash:
                raise ValueError(f"commands registered twice: {sorted(clash)}")
            self.commands.update(router.commands)
            self._routes.extend(router._routes)

    async def handle(
        self,
        message: IncomingMessage,
        *,
        inline: InlinePolicy | None = None,
        handler: Run | None = None,
    ) -> list[OutgoingMessage]:
        """Handle one incoming message exactly once and queue what it causes.

        The dedup key, the handler's changes and every message it returns commit in one
        transaction. A redelivered message (same key) changes nothing and gets the answer
        the first delivery got.

        Args:
            message: The incoming message.
            inline: What the adapter hands back itself, in its HTTP response, of the replies
                to the sender's own chat; ``None`` when it hands back nothing. From the first
                reply it cannot carry (or a file the sender makes) on, the sender's replies wait
                in the outbox, so they keep their order.
            handler: Handles the message instead of the routes: an adapter whose input is
                already a command (the console's buttons) needs no chat text parsed.

        Returns:
            The replies addressed to the sender's chat (with ``inline``: those handed back,
            none when its deadline had passed).
        """
        # The handling marks its lines with the request it turns out to be about; the mark ends
        # with it, so the task's next lines (a long poll's) are about no request.
        with about(None), self.services.metrics.handling_time(message.channel.value):
            writer = self.services.writer
            if handler is None and self._quick_lane is not None and writer is not None:
                work = self._quick_lane(message, self.services)
                if work is not None:
                    done = await self._handle_quick(message, inline, work, writer)
                    if done is not None:
                        return done
            pg_writer = self.services.pg_writer
            if handler is None and self._rows_lane is not None and pg_writer is not None:
                rows = self._rows_lane(message, self.services)
                if rows is not None:
                    done = await self._handle_rows(message, inline, rows, pg_writer)
                    if done is not None:
                        return done
            return await self._handle(message, inline, handler or self.dispatch)

    async def _handle(
        self, message: IncomingMessage, inline: InlinePolicy | None, handler: Run
    ) -> list[OutgoingMessage]:
        services = self.services
        async with services.database.transaction() as session:
            now = services.clock.now()
            if not await outbox.claim_inbound(session, message.key, now):
                stored = await outbox.replies_to(session, message.key)
                return self._redelivered(message, inline, stored)
            context = Context(services, session, now)
            replies = last_edits(self._served(await handler(message, context)))
            late = inline is not None and inline.too_late()
            placed = Placed.of(message, replies, inline, late=late)
            for reply, handed_back in placed.replies:
                outbox.enqueue_message(
                    session, reply, now, inbound_key=message.key, handed_back=handed_back
                )
        return self._handled(message, placed)

    async def _handle_quick(
        self, message: IncomingMessage, inline: InlinePolicy | None, work: QuickWork, writer: Writer
    ) -> list[OutgoingMessage] | None:
        """:meth:`_handle` as one unit of the SQLite writer; ``None``: take the full path."""
        now = self.services.clock.now()
        # Asked before the unit, on the loop whose clock the deadline is in: the unit runs on
        # the writer's thread, within a batch's few milliseconds of now.
        late = inline is not None and inline.too_late()

        def unit(connection: sqlite3.Connection) -> Placed | list[quick.StoredReply]:
            if not quick.claim_key(connection, message.key, now):
                return quick.replies_to(connection, message.key)
            replies = last_edits(self._served(work(connection)))
            placed = Placed.of(message, replies, inline, late=late)
            for reply, handed_back in placed.replies:
                if reply.files_to_make:
                    raise NotQuick  # the quick outbox row carries none: the full path does
                quick.enqueue(
                    connection,
                    channel=reply.channel.value,
                    chat_id=reply.chat_id,
                    payload=reply.to_payload(),
                    now=now,
                    inbound_key=message.key,
                    handed_back=handed_back,
                    request_id=reply.request_id,
                )
            return placed

        try:
            done = await writer.run(unit)
        except NotQuick:
            return None
        if isinstance(done, list):
            return self._redelivered(message, inline, done)
        return self._handled(message, done)

    async def _handle_rows(
        self,
        message: IncomingMessage,
        inline: InlinePolicy | None,
        rows: QuickRows | QuickOpening,
        writer: PgWriter,
    ) -> list[OutgoingMessage] | None:
        """:meth:`_handle` in a batch of PostgreSQL's writer; ``None``: take the full path."""
        now = self.services.clock.now()
        late = inline is not None and inline.too_late()

        def placed(replies: Sequence[OutgoingMessage]) -> tuple[list[Queued], Placed]:
            done = Placed.of(message, last_edits(self._served(replies)), inline, late=late)
            if any(r.files_to_make for r, _ in done.replies):
                raise NotQuick  # the quick outbox row carries none: the full path does
            queued = [
                Queued(r.channel.value, r.chat_id, r.to_payload(), handed_back, r.request_id)
                for r, handed_back in done.replies
            ]
            return queued, done

        sender = message.sender
        work: Question[Placed] | Opening[Placed]
        if isinstance(rows, QuickOpening):
            plan = rows.plan

            def planned(account: Account) -> Planned[tuple[list[Queued], Placed]] | None:
                opening = plan(account)
                return None if opening is None else opening.then(placed)

            work = Opening(
                message.key,
                now,
                message.channel.value,
                sender.user_id,
                message.chat_id,
                sender.display_name,
                message.language.value,
                planned,
            )
        else:
            asked = rows

            def replies(kept: int | None) -> tuple[list[Queued], Placed]:
                return placed(asked.replies(kept))

            work = Question(
                message.key,
                now,
                message.channel.value,
                sender.user_id,
                rows.answer,
                rows.gap,
                replies,
            )
        try:
            done = await writer.run(work)
        except (NotQuick, SpokenFor):
            return None
        if isinstance(done, list):
            return self._redelivered(message, inline, done)
        if isinstance(rows, QuickRows):
            rows.handled()
        return self._handled(message, done)

    def _served(self, replies: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
        """The replies to queue: those for a channel this deployment serves (every lane's)."""
        return served_only(replies, self.services.served)

    def _handled(self, message: IncomingMessage, placed: Placed) -> list[OutgoingMessage]:
        """Count a message handled, wake the sender if it has work: the replies handed back."""
        counted, channel = self.services.metrics, message.channel.value
        counted.messages_in.labels(channel, "new").inc()
        if placed.inline:
            counted.messages_out.labels(channel, "inline").inc(len(placed.own))
        if placed.queued and self.on_queued is not None:
            self.on_queued()
        return [] if placed.late else placed.own

    def _redelivered(
        self,
        message: IncomingMessage,
        inline: InlinePolicy | None,
        stored: Sequence[_Stored],
    ) -> list[OutgoingMessage]:
        """A message handled before: the replies it got to its own chat, as they were stored."""
        self.services.metrics.messages_in.labels(message.channel.value, "duplicate").inc()
        log.info("redelivered message %r: answering as before", message.key)
        return [
            OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload)
            for row in stored
            if row.channel == message.channel
            and row.chat_id == message.chat_id
            # Inline, only what was handed back before: the sender pushes the rest.
            and (inline is None or row.status == OutboxStatus.HANDED_BACK)
        ]

    async def dispatch(
        self, message: IncomingMessage, context: Context
    ) -> Sequence[OutgoingMessage]:
        """Run the handler for ``message`` inside ``context`` (no dedup, no outbox)."""
        for route in self._routes:
            if route.predicate(message):
                log.debug("route %s", route.name)
                replies = await route.handler(message, context)
                if replies is not None:
                    return replies
        return await self._fallback(message, context) or ()
