"""The aiohttp server every HTTP channel and the health check live on.

One middleware answers for every route when the database cannot serve (down, stalled, full):
503, in the asker's words where a person reads the answer, so that a person tries again and a
platform (Telegram) sends the update again. A request the database keeps waiting is cut off at
:data:`REQUEST_LIMIT`, so no page and no webhook hangs on a stall.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bot.admin_files import reload_all
from bot.app import Bot
from bot.channels.console.routes import ConsoleChannel
from bot.channels.json_codec import json_response
from bot.channels.web import WebChannel
from bot.channels.web_files import FileRoute
from bot.disk import room_left
from bot.domain.workdays import shanghai_date
from bot.messages import Language
from bot.metrics import CONTENT_TYPE
from bot.texts.chat import texts_for
from bot.texts.console import CONSOLE_TEXTS
from storage.database import UNAVAILABLE, Database

__all__ = ["REQUEST_LIMIT", "build_application", "new_event_loop", "serve"]

log = logging.getLogger(__name__)

BOT_KEY = web.AppKey("bot", Bot)
READY_AHEAD = timedelta(days=60)
"""How far ahead the working-day calendar must be official for ``/readyz``."""
REQUEST_LIMIT = 10.0
"""Seconds a request may take before it is answered 503: a message or a page takes
milliseconds, and a person waiting longer is better told to try again. WeChat stops waiting
after 5 s and asks again; the handling goes on here until this limit, so the retry finds it
done."""
UNHURRIED_LIMIT = 300.0
"""Seconds for the quarterly report's download: it reads a whole quarter and prints a PDF."""
_UNHURRIED = frozenset({"/console/report"})
DRAIN = 4.0
"""Seconds after SIGTERM that the requests in flight and the workers' current rounds get to
finish. Then the database's connections are cut, so that whatever still waits on a stalled
database fails at once (a person gets the 503 answer), and after :data:`UNWIND` more the rest
is cancelled."""
UNWIND = 1.0
"""Seconds for the requests and workers to unwind once their connections are cut, and again
once cancelled."""
CLIENTS_STOP = 1.0
"""Seconds for the platforms' clients to close (WeChat writes its last contacts). With the
database's own second and a half to close its connections, SIGTERM ends the process within
9 s even with the database stalled: Docker and Kubernetes send SIGKILL after 10."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def build_application(bot: Bot) -> web.Application:
    """The HTTP application: health check plus the configured channels."""
    app = web.Application(client_max_size=256 * 1024, middlewares=[_answer_outages])
    app[BOT_KEY] = bot
    app.router.add_get("/healthz", _health)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/favicon.ico", _icon)
    if bot.settings.web_chat:
        WebChannel(bot.dispatcher, bot.clock, bot.links).register(app)
        ConsoleChannel(
            bot.dispatcher,
            bot.clock,
            demo=bot.demo,
            reports=bot.reports,
            links=bot.links,
            files=bot.files,
        ).register(app)
    if bot.files is not None and bot.links is not None:
        # The links in chat messages (a file too big for the platform) open without the web chat.
        FileRoute(bot.files, bot.links).register(app)
    if bot.telegram is not None and bot.telegram.webhook:
        bot.telegram.register(app)
    if bot.wechat is not None:
        bot.wechat.register(app)
    if bot.wecom is not None:
        bot.wecom.register(app)
    return app


@web.middleware
async def _answer_outages(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Answer 503 when the database cannot serve, and a plain 500 for anything unexpected."""
    limit = UNHURRIED_LIMIT if request.path in _UNHURRIED else REQUEST_LIMIT
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            return await handler(request)
    except web.HTTPException:
        raise
    except UNAVAILABLE as error:
        log.warning(
            "%s %s: the database cannot serve (%s); answered 503",
            request.method,
            request.path,
            f"still waiting after {limit:.0f} s" if deadline.expired() else _why(error),
        )
        return _unavailable(request)
    except Exception:
        # The path only: a query string may carry a sign-in token.
        log.exception("%s %s failed; answered 500", request.method, request.path)
        return web.Response(status=500, text="500: Internal Server Error", headers=_NO_STORE)


def _why(error: BaseException) -> str:
    # The driver's message only: the statement's parameters hold what people wrote.
    cause = error.orig if isinstance(error, DBAPIError) else error
    first = (str(cause).splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _unavailable(request: web.Request) -> web.Response:
    """503, in words for a person where one reads the answer (the pages' JSON, the console)."""
    path = request.path
    if path.startswith("/api/"):
        accepted = request.headers.get("Accept-Language", "")
        language = Language.from_code(accepted.split(",", 1)[0].strip() or None)
        return _json_error(texts_for(language).unavailable)
    if path.startswith("/console/api/"):
        return _json_error(CONSOLE_TEXTS.unavailable)
    if path.startswith("/console"):
        return web.Response(status=503, text=CONSOLE_TEXTS.unavailable, headers=_NO_STORE)
    # Telegram, WeChat, Prometheus, health checks: the status is what they read.
    return web.Response(status=503, text="503: the database is unavailable", headers=_NO_STORE)


def _json_error(text: str) -> web.Response:
    return json_response({"error": text}, status=503, headers=_NO_STORE)


async def _health(request: web.Request) -> web.Response:
    """Alive: the database answers and the disk it writes to (and temp) has room.

    A full disk fails this check although reads still work: every message would fail to be
    stored. ``disk`` names each folder checked, with the megabytes free.
    """
    bot = request.app[BOT_KEY]
    database = await bot.database.ping()
    rooms = await room_left(bot.database.file)
    for room in rooms:
        if room.full:
            log.warning(
                "disk: %s folder %s is full (%d bytes free)", room.name, room.folder, room.free
            )
    healthy = database and not any(room.full for room in rooms)
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "disk": {
            room.name: {"free_mb": round(room.free / 2**20, 1), "full": room.full} for room in rooms
        },
        "knowledge": {
            "entries": len(bot.knowledge.current.entries),
            "loaded_at": bot.knowledge.loaded_at.isoformat(),
        },
    }
    return json_response(body, status=200 if healthy else 503)


async def _ready(request: web.Request) -> web.Response:
    """Whether this process should take traffic: 200, or 503 naming what is missing.

    Ready means the database answers, its disk and the temporary folder have room (see
    :func:`_health`), the knowledge base has entries, and the working-day
    calendar is official (not estimated) for the next :data:`READY_AHEAD`, so that the due
    dates the bot promises now are not provisional. An unknown year is fixed by the admins'
    calendar file (``known_years``) or a newer chinese-calendar.
    """
    bot = request.app[BOT_KEY]
    unknown = _estimated_years(bot)
    checks = {
        "database": await bot.database.ping(),
        "disk": not any(room.full for room in await room_left(bot.database.file)),
        "knowledge": bool(bot.knowledge.current.entries),
        "calendar": not unknown,
    }
    ready = all(checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if unknown:
        body["calendar_estimated_years"] = unknown
    return json_response(body, status=200 if ready else 503)


_ICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="7" fill="#1f6feb"/>'
    b'<path d="M8 10h16v10H15l-5 4v-4H8z" fill="#fff"/></svg>'
)
"""A speech bubble on the brand's blue: browsers ask for ``/favicon.ico`` on every page, and a
404 there shows as an error in the console of every visitor's browser."""


async def _icon(_request: web.Request) -> web.Response:
    """The site's icon (SVG, which browsers take whatever the name)."""
    return web.Response(
        body=_ICON,
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus's text format; the database's figures are read at each scrape."""
    bot = request.app[BOT_KEY]
    metrics = bot.services.metrics
    body = await metrics.exposition(bot.database, bot.clock.now(), bot.knowledge.match_cache)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _say_what_serves(bot: Bot, host: str, port: int) -> None:
    """Log where each channel listens, what the operator should fix, and that it serves."""
    if bot.wechat is not None:
        log.info("wechat: server URL path %s (mode: %s)", "/wechat", bot.wechat.mode)
        if bot.wechat.mode == "plain":
            log.warning(
                "wechat: plain mode signs no message body; set BOT_WECHAT_AES_KEY and switch "
                "the account to safe mode (安全模式)"
            )
    if bot.wecom is not None:
        log.info("wecom: callback URL path %s", "/wecom")
    if bot.settings.web_chat:
        log.info("web chat on http://%s:%d/", host, port)
        log.info("commissioners' console on http://%s:%d/console", host, port)
    _warn_if_estimated(bot)
    log.info("serving on %s:%d (SIGHUP reloads FAQ files, roster and calendar)", host, port)


def _estimated_years(bot: Bot) -> list[int]:
    """The years of the next :data:`READY_AHEAD` whose days off the calendar only estimates."""
    today = shanghai_date(bot.clock.now())
    return bot.services.calendar.current.unknown_years((today, today + READY_AHEAD))


def _warn_if_estimated(bot: Bot) -> None:
    """Say at start-up what ``/readyz`` will say: due dates soon rest on an estimated year.

    Each December the coming year's holidays are not yet official, so a fresh start is not
    ready; the operator reads why in the log, not only in a 503.
    """
    unknown = _estimated_years(bot)
    if unknown:
        log.warning(
            "working-day calendar: %s not official yet, due dates there are estimated and "
            "/readyz answers 503 until an admin adds the year (BOT_CALENDAR) or chinese-calendar "
            "is updated",
            ", ".join(str(year) for year in unknown),
        )


async def serve(bot: Bot, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``); SIGHUP reloads what admins edit.

    Besides the HTTP channels, the outbox sender, the scheduler and the file maker run here until
    the stop.
    """
    stop = stop or asyncio.Event()
    if bot.telegram is not None:
        await bot.telegram.start()  # a bad token stops start-up here, before anything listens
    # Requests get DRAIN, then UNWIND to answer once their database connections are cut.
    runner = web.AppRunner(build_application(bot), access_log=None, shutdown_timeout=DRAIN + UNWIND)
    await runner.setup()
    site = web.TCPSite(runner, bot.settings.http_host, bot.settings.http_port)
    await site.start()
    host, port = bot.settings.http_host, _bound_port(runner)
    # On stdout, whatever the log's format: whoever started the bot with port 0 (the tests,
    # the benchmarks) learns where it listens, without picking a port that may be taken. One
    # write, so that a log line sharing the file cannot land inside it.
    sys.stdout.write(f"listening on {_address(host, port)}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    workers = [
        loop.create_task(bot.sender.run(stop), name="outbox-sender"),
        loop.create_task(bot.scheduler.run(stop), name="scheduler"),
        loop.create_task(bot.file_maker.run(stop), name="file-maker"),
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
    _say_what_serves(bot, host, port)
    log.info("event loop: %s", _loop_name(loop))
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        for name in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(name)
        stop.set()
        # No new requests; those in flight and the workers finish side by side (each may be
        # waiting on the same stall).
        cleanup = loop.create_task(runner.cleanup(), name="http-server")
        await _finish([*workers, *reloads, cleanup], bot.database)
        clients = [c.stop() for c in (bot.telegram, bot.wechat, bot.wecom) if c is not None]
        await _within(asyncio.gather(*clients), CLIENTS_STOP, "the platforms' clients")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's where uvloop is installed, else asyncio's own.

    uvloop runs the loop's own work (sockets, callbacks, timers) in C: with the rest of the
    message path made cheap, that was part of a 19-28 % gain in answers per second (the
    performance study of issue 18). It has no build for Windows, where the bot runs on asyncio's
    loop as before; so does an installation without it.
    """
    try:
        import uvloop  # noqa: PLC0415 - optional: an installation may run without it
    except ModuleNotFoundError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    kind = type(loop)
    return "uvloop" if kind.__module__.startswith("uvloop") else f"asyncio ({kind.__name__})"


def _bound_port(runner: web.AppRunner) -> int:
    """The port the server listens on: the configured one, or the system's pick for ``0``."""
    return int(runner.addresses[0][1])


def _address(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _finish(tasks: list[asyncio.Task[Any]], database: Database) -> None:
    """Let ``tasks`` end within :data:`DRAIN`; then cut what they wait on, then cancel them.

    A worker's round may be waiting on a stalled database (or a platform) for longer than a
    shutdown can wait; what it was doing is done again after the restart (the outbox's lease,
    the scheduler's next round). A request cut short is answered 503, or not at all.
    """
    _, late = await asyncio.wait(tasks, timeout=DRAIN)
    if late:
        cut = database.interrupt()
        log.warning(
            "still busy %.0f s after the stop: %s; cut %d database connection(s)",
            DRAIN,
            ", ".join(sorted(task.get_name() for task in late)),
            cut,
        )
        _, late = await asyncio.wait(late, timeout=UNWIND)
    for task in late:
        task.cancel()
    if late:
        _, stuck = await asyncio.wait(late, timeout=UNWIND)
        for task in stuck:
            log.error("%s did not unwind; leaving it", task.get_name())
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s had stopped with an error", task.get_name(), exc_info=task.exception())


async def _within(work: Awaitable[object], seconds: float, what: str) -> None:
    """Await ``work`` for at most ``seconds``, then give up on it (cancelled) and say so."""
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s; left behind", what, seconds)
