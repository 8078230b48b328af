"""The aiohttp server every HTTP channel and the health check live on."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from aiohttp import web

from bot.admin_files import reload_all
from bot.app import Bot
from bot.channels.console import ConsoleChannel
from bot.channels.web import WebChannel
from bot.metrics import CONTENT_TYPE
from bot.workdays import shanghai_date

__all__ = ["build_application", "serve"]

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("bot", Bot)
READY_AHEAD = timedelta(days=60)
"""How far ahead the working-day calendar must be official for ``/readyz``."""


def build_application(bot: Bot) -> web.Application:
    """The HTTP application: health check plus the configured channels."""
    app = web.Application(client_max_size=256 * 1024)
    app[BOT_KEY] = bot
    app.router.add_get("/healthz", _health)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", _metrics)
    if bot.settings.web_chat:
        WebChannel(bot.dispatcher, bot.clock).register(app)
        ConsoleChannel(bot.dispatcher, bot.clock, demo=bot.demo, reports=bot.reports).register(app)
    if bot.telegram is not None and bot.telegram.webhook:
        bot.telegram.register(app)
    if bot.wechat is not None:
        bot.wechat.register(app)
    return app


async def _health(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    database = await bot.database.ping()
    body = {
        "status": "ok" if database else "degraded",
        "database": database,
        "knowledge": {
            "entries": len(bot.knowledge.current.entries),
            "loaded_at": bot.knowledge.loaded_at.isoformat(),
        },
    }
    return web.json_response(body, status=200 if database else 503)


async def _ready(request: web.Request) -> web.Response:
    """Whether this process should take traffic: 200, or 503 naming what is missing.

    Ready means the database answers, the knowledge base has entries, and the working-day
    calendar is official (not estimated) for the next :data:`READY_AHEAD`, so that the due
    dates the bot promises now are not provisional. An unknown year is fixed by the admins'
    calendar file (``known_years``) or a newer chinese-calendar.
    """
    bot = request.app[BOT_KEY]
    today = shanghai_date(bot.clock.now())
    unknown = bot.services.calendar.current.unknown_years((today, today + READY_AHEAD))
    checks = {
        "database": await bot.database.ping(),
        "knowledge": bool(bot.knowledge.current.entries),
        "calendar": not unknown,
    }
    ready = all(checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if unknown:
        body["calendar_estimated_years"] = unknown
    return web.json_response(body, status=200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus's text format; the database's figures are read at each scrape."""
    bot = request.app[BOT_KEY]
    body = await bot.services.metrics.exposition(bot.database, bot.clock.now())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def serve(bot: Bot, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``); SIGHUP reloads what admins edit.

    Besides the HTTP channels, the outbox sender and the scheduler run here until the stop.
    """
    stop = stop or asyncio.Event()
    if bot.telegram is not None:
        await bot.telegram.start()  # a bad token stops start-up here, before anything listens
    runner = web.AppRunner(build_application(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bot.settings.http_host, bot.settings.http_port)
    await site.start()
    loop = asyncio.get_running_loop()
    workers = [
        loop.create_task(bot.sender.run(stop), name="outbox-sender"),
        loop.create_task(bot.scheduler.run(stop), name="scheduler"),
    ]
    if bot.telegram is not None and not bot.telegram.webhook:
        workers.append(loop.create_task(bot.telegram.poll(stop), name="telegram-polling"))
    if bot.wechat is not None:
        workers.append(loop.create_task(bot.wechat.run(stop), name="wechat-contacts"))
    reloads: set[asyncio.Task[object]] = set()

    async def reload_files() -> None:
        results = await reload_all(bot.services, bot.clock.now())
        if any(result.name == "calendar" and result.ok for result in results):
            await bot.scheduler.redate()

    def reload() -> None:
        task = loop.create_task(reload_files())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    for name in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(name, stop.set)
    host, port = bot.settings.http_host, bot.settings.http_port
    if bot.wechat is not None:
        log.info("wechat: server URL path %s (mode: %s)", "/wechat", bot.wechat.mode)
        if bot.wechat.mode == "plain":
            log.warning(
                "wechat: plain mode signs no message body; set BOT_WECHAT_AES_KEY and switch "
                "the account to safe mode (安全模式)"
            )
    if bot.settings.web_chat:
        log.info("web chat on http://%s:%d/", host, port)
        log.info("commissioners' console on http://%s:%d/console", host, port)
    log.info("serving on %s:%d (SIGHUP reloads FAQ files, roster and calendar)", host, port)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        for name in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(name)
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await runner.cleanup()
        if bot.telegram is not None:
            await bot.telegram.stop()
        if bot.wechat is not None:
            await bot.wechat.stop()
