"""The composition root: builds every service once and wires the routers together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.roster import load_admins
from bot.routing import Context, Dispatcher
from bot.settings import Settings
from handlers import ROUTERS
from handlers.basics import unknown
from knowledge.service import KnowledgeService, build
from storage import Database

__all__ = ["Bot", "create_bot"]


@dataclass(slots=True)
class Bot:
    """A wired bot: settings, services and the dispatcher the channels feed."""

    settings: Settings
    clock: Clock
    database: Database
    knowledge: KnowledgeService
    dispatcher: Dispatcher

    async def close(self) -> None:
        """Release the database connections."""
        await self.database.close()


async def create_bot(settings: Settings, clock: Clock | None = None) -> Bot:
    """Build the bot: migrate the database, load the knowledge base, include the routers.

    Raises:
        knowledge.service.KnowledgeError: The FAQ files have faults.
        bot.roster.RosterError: The roster file cannot be read.
    """
    clock = clock or SystemClock()
    admins = load_admins(settings.roster) if settings.roster else frozenset()
    base = await asyncio.to_thread(build, settings.knowledge_dir)
    database = Database(settings.database_url)
    try:
        await database.migrate()
    except BaseException:
        await database.close()
        raise
    knowledge = KnowledgeService(base, clock.now())
    context = Context(knowledge=knowledge, database=database, clock=clock, admins=admins)
    dispatcher = Dispatcher(context, fallback=unknown)
    dispatcher.include(*ROUTERS)
    return Bot(settings, clock, database, knowledge, dispatcher)
