"""The composition root: builds every service once and wires the routers together."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.admin_files import warn_stranded
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.wechat.inbound import MAX_SKEW, WeChatChannel
from bot.channels.wecom.callback import WeComChannel
from bot.clock import Clock, SystemClock
from bot.delivery import Deliverer
from bot.domain.roster.load import DEMO_ROSTER, load_roster
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.file_maker import FileMaker
from bot.files import MB, FileCarrier, FileLinks, FileStore
from bot.logs import register_secret
from bot.messages import Channel
from bot.reloadable import Reloadable
from bot.reports.files import ReportMaker
from bot.routing import Dispatcher, Services
from bot.scheduler import Scheduler
from bot.sender import OutboxSender
from bot.settings import Settings
from handlers import ROUTERS
from handlers.basics import unknown
from handlers.quick import (
    first_of,
    first_rows,
    quick_new,
    quick_opening,
    quick_question,
    quick_rows,
)
from handlers.quick_intake import quick_intake
from handlers.quick_moves import quick_feedback, quick_follow_up, quick_press
from knowledge.service import KnowledgeService, build
from storage import Database, nonces, visitors
from storage.pg_writer import PgWriter
from storage.retention import Prune, RetentionJob, standard_prunes
from storage.writer import Writer

__all__ = [
    "PLATFORM_CHANNELS",
    "Bot",
    "DemoRefused",
    "create_bot",
    "demo_refusals",
    "is_loopback",
    "roster_file",
    "served_channels",
]

log = logging.getLogger(__name__)

PLATFORM_CHANNELS: tuple[tuple[str, str], ...] = (
    ("Telegram 渠道", "telegram_token"),
    ("微信公众号渠道", "wechat_token"),
    ("企业微信渠道", "wecom_corp_id"),
)
"""Each platform channel by name and the setting that switches it on. Strangers reach the bot
through any of them, so the demo's open sign-in never runs beside one: a new channel (WeCom)
adds its line here."""


_SERVED_BY: tuple[tuple[Channel, str, str], ...] = (
    (Channel.TELEGRAM, "telegram_token", "no Telegram bot is configured (BOT_TELEGRAM_TOKEN)"),
    (Channel.WECHAT, "wechat_token", "no WeChat account is configured (BOT_WECHAT_TOKEN)"),
    (Channel.WECOM, "wecom_corp_id", "no WeCom app is configured (BOT_WECOM_*)"),
)
"""Each pushed channel, the setting that serves it, and what the log says when it is unset."""


def served_channels(settings: Settings) -> frozenset[Channel]:
    """The channels this deployment delivers to: the web chat, and each platform configured.

    The web chat is always served: its page pulls its own messages. A platform channel is
    served once its settings are set, which is when :func:`create_bot` builds its deliverer.
    """
    configured = (c for c, setting, _ in _SERVED_BY if getattr(settings, setting) is not None)
    return frozenset({Channel.WEB, *configured})


def _say_unserved(roster: Roster, served: frozenset[Channel]) -> None:
    """Log, once, each channel the roster names chats or accounts on that is not served.

    Messages for them are never queued (:func:`bot.messages.served_only`); the console still
    shows every request.
    """
    for channel, _, missing in _SERVED_BY:
        if channel in served:
            continue
        chats = sum(
            channel.value in place
            for place in (
                *(group.chat for group in roster.groups),
                *(district.supervisors_chat for district in roster.districts),
            )
        )
        accounts = sum(person.id_on(channel.value) is not None for person in roster.people)
        if chats or accounts:
            log.info(
                "roster names %d %s chats and %d %s accounts, but %s: "
                "cards and notices for them are not sent",
                chats,
                channel.value,
                accounts,
                channel.value,
                missing,
            )


class DemoRefused(Exception):
    """The demo roster would serve where others can reach it; ``reasons`` say why, in Chinese."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine reaches: 127.0.0.0/8, ::1, localhost."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name may resolve to any address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def demo_refusals(settings: Settings) -> list[str]:
    """Why the demo (its roster and pick-anyone sign-in) may not run with ``settings``.

    The demo is for trying the bot on this machine: only on a loopback address and with no
    platform channel. An empty list: it may.
    """
    reasons = []
    if not is_loopback(settings.http_host):
        reasons.append(
            f"BOT_HTTP_HOST={settings.http_host} 不是本机回环地址（127.0.0.1、::1、localhost），"
            "别的机器也能访问"
        )
    for name, setting in PLATFORM_CHANNELS:
        if getattr(settings, setting) is not None:
            reasons.append(f"{name}已配置（BOT_{setting.upper()}），陌生人也能联系机器人")
    return reasons


def roster_file(settings: Settings) -> Path:
    """The roster to serve: ``BOT_ROSTER``, else the demo roster where the demo may run.

    Raises:
        DemoRefused: ``BOT_ROSTER`` is unset and the demo may not run (:func:`demo_refusals`).
    """
    if settings.roster is not None:
        return settings.roster
    reasons = demo_refusals(settings)
    if reasons:
        raise DemoRefused(reasons)
    return DEMO_ROSTER


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
    file_maker: FileMaker
    """Makes the files queued messages wait for (``/report``'s), off the delivery loop."""
    telegram: TelegramChannel | None = None
    """The Telegram channel, when ``BOT_TELEGRAM_TOKEN`` is set."""
    wechat: WeChatChannel | None = None
    """The WeChat Official Account channel, when ``BOT_WECHAT_TOKEN`` is set."""
    wecom: WeComChannel | None = None
    """The WeCom (企业微信) app channel, when the ``BOT_WECOM_*`` settings are set."""
    files: FileCarrier | None = None
    """Carries files between channels: fetches them from their platforms into the store."""
    links: FileLinks | None = None
    """Signs the links to carried files (``/files/…``) for the web chat, console and notes."""

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
        """Running on the shipped demo roster where that is safe: the console offers sign-in.

        Never true on a public address or beside a platform channel, however the bot was built
        (``python -m bot run`` refuses to start there without ``BOT_ROSTER``).
        """
        return self.settings.roster is None and not demo_refusals(self.settings)

    async def close(self) -> None:
        """Release the database connections (the writers' after what they have queued)."""
        if self.services.writer is not None:
            await self.services.writer.close()
        if self.services.pg_writer is not None:
            await self.services.pg_writer.close()
        await self.database.close()


async def create_bot(settings: Settings, clock: Clock | None = None) -> Bot:
    """Build the bot: migrate the database, load the knowledge base, include the routers.

    Raises:
        knowledge.service.KnowledgeError: The FAQ files have faults.
        bot.domain.roster.faults.RosterError: The roster file has faults.
        bot.domain.workday_overrides.CalendarError: The working-day override file has faults.
    """
    clock = clock or SystemClock()
    # Built in-process (tests, benchmarks) the demo roster loads wherever; its open sign-in still
    # follows Bot.demo, and ``python -m bot run`` refuses an unsafe demo (roster_file) first.
    roster_path = settings.roster or DEMO_ROSTER
    roster = await asyncio.to_thread(load_roster, roster_path)
    calendar = await asyncio.to_thread(WorkCalendar.load, settings.calendar)
    base = await asyncio.to_thread(
        build, settings.knowledge_dir, cache_size=settings.match_cache_size
    )
    database = Database(settings.database_url)
    try:
        await database.migrate()
    except BaseException:
        await database.close()
        raise
    knowledge = KnowledgeService(base, clock.now())
    # The hot paths commit in batches: SQLite's on a writer thread of their own, PostgreSQL's
    # on an asyncpg connection of their own.
    writer = Writer(database.file, database.write_lock) if database.file is not None else None
    postgresql = database.engine.dialect.name == "postgresql"
    pg_writer = PgWriter(database) if postgresql else None
    served = served_channels(settings)
    _say_unserved(roster, served)
    services = Services(
        knowledge=knowledge,
        database=database,
        clock=clock,
        roster=Reloadable(lambda: load_roster(roster_path), roster),
        calendar=Reloadable(lambda: WorkCalendar.load(settings.calendar), calendar),
        settings=settings,
        writer=writer,
        pg_writer=pg_writer,
        served=served,
    )
    # A roster that lacks a space or group open requests name still serves; the admin is told.
    await warn_stranded(services, clock.now())
    dispatcher = Dispatcher(
        services,
        fallback=unknown,
        quick_lane=first_of(
            quick_question, quick_intake, quick_follow_up, quick_new, quick_press, quick_feedback
        ),
        rows_lane=first_rows(quick_rows, quick_opening),
    )
    dispatcher.include(*ROUTERS)
    deliverers: dict[Channel, Deliverer] = {}
    telegram = None
    if settings.telegram_token is not None:
        telegram = TelegramChannel(settings, dispatcher, clock)
        deliverers[Channel.TELEGRAM] = telegram
    wechat = None
    if settings.wechat_token is not None:
        wechat = WeChatChannel(settings, dispatcher, clock, database)
        deliverers[Channel.WECHAT] = wechat.push
    wecom = None
    if settings.wecom:
        wecom = WeComChannel(settings, dispatcher, clock, database)
        deliverers[Channel.WECOM] = wecom.push
    assert served == {Channel.WEB, *deliverers}, "a channel is served exactly when delivered"
    links = FileLinks(await _file_secret(settings, database, clock), clock, settings.public_url)
    files = FileCarrier(
        FileStore(settings.files_folder, settings.files_max_mb * MB),
        clock,
        {
            channel: source
            for channel, source in (
                (Channel.TELEGRAM, telegram),
                (Channel.WECHAT, wechat.push if wechat else None),
                (Channel.WECOM, wecom.files if wecom else None),
            )
            if source is not None
        },
    )
    reports = ReportMaker(services, settings.chromium)
    sender = OutboxSender(
        database,
        clock,
        deliverers,
        services.roster,
        metrics=services.metrics,
        lease=timedelta(seconds=settings.outbox_lease),
        files=files,
        links=links,
    )
    file_maker = FileMaker(database, clock, reports, on_made=sender.wake)

    def queued() -> None:
        sender.wake()
        file_maker.wake()

    dispatcher.on_queued = queued
    retention = RetentionJob(
        [
            *standard_prunes(timedelta(days=settings.retention_days)),
            # A signature older than WeChat's window (WeCom's too) is refused for its age alone.
            Prune("wechat_nonces", MAX_SKEW, nonces.forget_before),
            # Carried files are on disk, not in the database: the session goes unused.
            Prune(
                "carried_files",
                timedelta(days=settings.files_days),
                lambda _session, cutoff: files.store.forget_before(cutoff),
            ),
        ]
    )
    scheduler = Scheduler(services, on_queued=sender.wake, retention=retention)
    return Bot(
        settings,
        services,
        dispatcher,
        sender,
        scheduler,
        reports,
        file_maker,
        telegram,
        wechat,
        wecom,
        files,
        links,
    )


async def _file_secret(settings: Settings, database: Database, clock: Clock) -> bytes:
    """The key that signs file links: ``BOT_FILES_SECRET``, else the one kept in the database."""
    if settings.files_secret is not None:
        return settings.files_secret.get_secret_value().encode()
    key = await visitors.signing_key(database.sessions, "file-links", clock.now())
    register_secret(key.secret.decode())
    return key.secret
