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

from bot.messages import IncomingMessage, OutgoingMessage

if TYPE_CHECKING:
    from bot.clock import Clock
    from knowledge.service import KnowledgeService
    from storage.database import Database

__all__ = ["Context", "Dispatcher", "Handler", "Router"]

log = logging.getLogger(__name__)

Handler = Callable[[IncomingMessage, "Context"], Awaitable[Sequence[OutgoingMessage]]]
Predicate = Callable[[IncomingMessage], bool]


@dataclass(slots=True)
class Context:
    """The services a handler may use; built once by the composition root."""

    knowledge: KnowledgeService
    database: Database
    clock: Clock
    admins: frozenset[tuple[str, str]] = frozenset()
    """(channel, user id) pairs allowed to run admin commands; from the roster only."""


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

    def __init__(self, context: Context, fallback: Handler) -> None:
        """Create a dispatcher.

        Args:
            context: Services handed to every handler.
            fallback: Runs when no route accepts the message (unknown command, odd input).
        """
        self._context = context
        self._fallback = fallback
        self._routes: list[_Route] = []
        self.commands: dict[str, str] = {}

    @property
    def context(self) -> Context:
        """The services handed to handlers."""
        return self._context

    def include(self, *routers: Router) -> None:
        """Add the routes of ``routers`` after those already included."""
        for router in routers:
            clash = self.commands.keys() & router.commands.keys()
            if clash:
                raise ValueError(f"commands registered twice: {sorted(clash)}")
            self.commands.update(router.commands)
            self._routes.extend(router._routes)

    async def dispatch(self, message: IncomingMessage) -> Sequence[OutgoingMessage]:
        """Handle one incoming message and return what to send."""
        for route in self._routes:
            if route.predicate(message):
                log.debug("route %s", route.name)
                return await route.handler(message, self._context)
        return await self._fallback(message, self._context)
