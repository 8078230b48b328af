"""The composition root: builds every service once and wires the routers together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from bot.channels.telegram import TelegramChannel
from bot.channels.wechat import WeChatChannel
from bot.clock import Clock, SystemClock
from bot.messages import Channel
from bot.reloadable import Reloadable
from bot.report_files import ReportMaker
from bot.roster import DEMO_ROSTER, Roster
from bot.routing import Dispatcher, Services
from bot.scheduler import Scheduler
from bot.sender import Deliverer, OutboxSender
from bot.settings import Settings
from bot.workdays import WorkCalendar
from handlers import ROUTERS
from handlers.basics import unknown
from knowledge.service import KnowledgeService, build
from storage import Database
from storage.retention import RetentionJob, standard_prunes

__all__ = ["Bot", "create_bot"]


@dataclass(slots=True)
class Bot:
    """A wired bot: settings, services and the dispatcher the channels feed."""

    settings: Settings
    services: Services
    dispatcher: Dispatcher
    sender: OutboxSender
    """Pushes the outbox to the channels that push (the web chat pulls its own)."""
    scheduler: Scheduler
    reports: ReportMaker
    """Makes the quarterly report files (``/report``, the console's download)."""
    telegram: TelegramChannel | None = None
    """The Telegram channel, when ``BOT_TELEGRAM_TOKEN`` is set."""
    wechat: WeChatChannel | None = None
    """The WeChat Official Account channel, when ``BOT_WECHAT_TOKEN`` is set."""

    @property
    def clock(self) -> Clock:
        """The bot's clock."""
        return self.services.clock

    @property
    def database(self) -> Database:
        """The bot's database."""
        return self.services.database

    @property
    def knowledge(self) -> KnowledgeService:
        """The knowledge base service."""
        return self.services.knowledge

    @property
    def demo(self) -> bool:
        """Running on the shipped demo roster (no ``BOT_ROSTER``): the console offers sign-in."""
        return self.settings.roster is None

    async def close(self) -> None:
        """Release the database connections."""
        await self.database.close()


async def create_bot(settings: Settings, clock: Clock | None = None) -> Bot:
    """Build the bot: migrate the database, load the knowledge base, include the routers.

    Raises:
        knowledge.service.KnowledgeError: The FAQ files have faults.
        bot.roster.RosterError: The roster file has faults.
        bot.workdays.CalendarError: The working-day override file has faults.
    """
    clock = clock or SystemClock()
    roster_path = settings.roster or DEMO_ROSTER
    roster = await asyncio.to_thread(Roster.load, roster_path)
    calendar = await asyncio.to_thread(WorkCalendar.load, settings.calendar)
    base = await asyncio.to_thread(build, settings.knowledge_dir)
    database = Database(settings.database_url)
    try:
        await database.migrate()
    except BaseException:
        await database.close()
        raise
    knowledge = KnowledgeService(base, clock.now())
    services = Services(
        knowledge=knowledge,
        database=database,
        clock=clock,
        roster=Reloadable(lambda: Roster.load(roster_path), roster),
        calendar=Reloadable(lambda: WorkCalendar.load(settings.calendar), calendar),
        settings=settings,
    )
    dispatcher = Dispatcher(services, fallback=unknown)
    dispatcher.include(*ROUTERS)
    deliverers: dict[Channel, Deliverer] = {}
    telegram = None
    if settings.telegram_token is not None:
        telegram = TelegramChannel(settings, dispatcher, clock)
        deliverers[Channel.TELEGRAM] = telegram
    wechat = None
    if settings.wechat_token is not None:
        wechat = WeChatChannel(settings, dispatcher, clock, database)
        deliverers[Channel.WECHAT] = wechat
    files = ReportMaker(services, settings.chromium)
    sender = OutboxSender(
        database,
        clock,
        deliverers,
        services.roster,
        files=files,
        metrics=services.metrics,
        lease=timedelta(seconds=settings.outbox_lease),
    )
    dispatcher.on_queued = sender.wake
    retention = RetentionJob(standard_prunes(timedelta(days=settings.retention_days)))
    scheduler = Scheduler(services, on_queued=sender.wake, retention=retention)
    return Bot(settings, services, dispatcher, sender, scheduler, files, telegram, wechat)
