"""A small router: feature modules register handlers, the dispatcher picks one per message.

Each module in ``handlers/`` exposes ``router = Router("name")``; the composition root includes
them in order. A handler receives the message and the :class:`Context` and returns the messages
to send.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.logs import about
from bot.messages import IncomingMessage, OutgoingMessage
from bot.metrics import Metrics
from storage import outbox

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.clock import Clock
    from bot.domain.roster.model import Roster
    from bot.domain.workdays import WorkCalendar
    from bot.reloadable import Reloadable
    from bot.settings import Settings
    from knowledge.service import KnowledgeService
    from storage.database import Database

__all__ = ["Context", "Dispatcher", "Handler", "Router", "Services"]

log = logging.getLogger(__name__)

Handler = Callable[[IncomingMessage, "Context"], Awaitable[Sequence[OutgoingMessage] | None]]
"""Returns the messages to send, or ``None`` to let the next matching route have it."""
Predicate = Callable[[IncomingMessage], bool]


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

    def __init__(self, services: Services, fallback: Handler) -> None:
        """Create a dispatcher.

        Args:
            services: Handed to every handler.
            fallback: Runs when no route accepts the message (unknown command, odd input).
        """
        self.services = services
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
        inline: bool = False,
        inline_limit: int | None = None,
        inline_while: Callable[[], bool] | None = None,
        inline_if: Callable[[OutgoingMessage], bool] | None = None,
    ) -> list[OutgoingMessage]:
        """Handle one incoming message exactly once and queue what it causes.

        The dedup key, the handler's changes and every message it returns commit in one
        transaction. A redelivered message (same key) changes nothing and gets the answer
        the first delivery got.

        Args:
            message: The incoming message.
            inline: The adapter hands the replies to the sender's own chat back itself (in
                its HTTP response); they are stored as sent. Everything else waits in the outbox.
            inline_limit: At most this many replies go back inline (Telegram's webhook answer
                carries one); the rest wait in the outbox.
            inline_while: Asked once the handler is done: ``False`` means the adapter's
                moment to answer inline has passed, so every reply waits in the outbox.
            inline_if: Which replies the adapter can hand back (Telegram's webhook answer
                sends a message, it cannot edit one); from the first it cannot, the rest of
                the sender's replies wait in the outbox too, so they keep their order.

        Returns:
            The replies addressed to the sender's chat (with ``inline``: those handed back,
            none when ``inline_while`` said it was too late).
        """
        # The handling marks its lines with the request it turns out to be about; the mark ends
        # with it, so the task's next lines (a long poll's) are about no request.
        with about(None), self.services.metrics.handling_time(message.channel.value):
            return await self._handle(message, inline, inline_limit, inline_while, inline_if)

    async def _handle(
        self,
        message: IncomingMessage,
        inline: bool,
        inline_limit: int | None,
        inline_while: Callable[[], bool] | None,
        inline_if: Callable[[OutgoingMessage], bool] | None,
    ) -> list[OutgoingMessage]:
        services = self.services
        counted = services.metrics
        channel = message.channel.value
        async with services.database.transaction() as session:
            now = services.clock.now()
            if not await outbox.claim_inbound(session, message.key, now):
                counted.messages_in.labels(channel, "duplicate").inc()
                log.info("redelivered message %r: answering as before", message.key)
                stored = await outbox.replies_to(session, message.key)
                again = [
                    OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload)
                    for row in stored
                    if row.channel == message.channel
                    and row.chat_id == message.chat_id
                    # Inline, only what was handed back before: the sender pushes the rest.
                    and (not inline or (row.status == "sent" and row.attempts == 0))
                ]
                return again[:inline_limit]
            context = Context(services, session, now)
            replies = _last_edits(await self.dispatch(message, context))
            late = inline and inline_while is not None and not inline_while()
            if late:
                inline = False
            own: list[OutgoingMessage] = []
            queued = False
            in_order = True  # once a reply cannot go back inline, the rest follow it
            for reply in replies:
                mine = reply.channel == message.channel and reply.chat_id == message.chat_id
                # A file the bot makes (a report) is made by the sender, never handed back.
                made = any(a.made for a in reply.attachments)
                if mine and inline_if is not None and not inline_if(reply):
                    in_order = False
                handed_back = (
                    inline
                    and mine
                    and not made
                    and in_order
                    and (inline_limit is None or len(own) < inline_limit)
                )
                if handed_back or (mine and not inline):
                    own.append(reply)
                queued = queued or not handed_back
                outbox.enqueue(
                    session,
                    channel=reply.channel.value,
                    chat_id=reply.chat_id,
                    payload=reply.to_payload(),
                    now=now,
                    inbound_key=message.key,
                    request_id=reply.request_id,
                    sent=handed_back,
                )
        counted.messages_in.labels(channel, "new").inc()
        if inline:
            counted.messages_out.labels(channel, "inline").inc(len(own))
        if queued and self.on_queued is not None:
            self.on_queued()
        return [] if late else own

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


def _last_edits(replies: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
    """Drop card edits that a later edit of the same card in the same turn supersedes."""
    last = {(r.channel, r.chat_id, r.request_id): i for i, r in enumerate(replies) if r.edit_card}
    return [
        r
        for i, r in enumerate(replies)
        if not r.edit_card or last[(r.channel, r.chat_id, r.request_id)] == i
    ]
