"""The web chat: the Internet intake channel of Article 6, served by the bot itself.

The page sends with ``POST /api/messages`` (the replies come back in the response) and fetches
what arrives later (a commissioner's reply, a deadline notice) with ``GET /api/updates?after=N``,
which also acknowledges everything up to ``N``. A visitor is known by an anonymous session
cookie that only the server issues (:mod:`bot.channels.web_sessions`); the hash of its random
part, never the cookie itself, is the user id.

Anyone may write without signing up, so sending is braked twice, per process: per session, and
per client address (:mod:`bot.channels.client_address`), since a script can drop its cookie with
every message. The address limit bounds what one address can add to the database. Several
processes each count on their own, so together they let through that many times more; the
brake they share is the reverse proxy's (nginx ``limit_req`` on ``/api/messages``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.client_address import client_address
from bot.channels.json_codec import json_response, loads
from bot.channels.rate_limit import RateLimit
from bot.channels.web_history import API_HEADERS, WebHistory, render
from bot.channels.web_page import LANGUAGE_COOKIE, chat_page, language_of
from bot.channels.web_sessions import SessionCookies, visitor_of
from bot.clock import Clock
from bot.files import FileLinks
from bot.messages import (
    MAX_TEXT_LENGTH,
    Channel,
    IncomingMessage,
    OutgoingMessage,
    Sender,
    storable,
)
from bot.routing import Dispatcher, InlinePolicy
from bot.texts.chat import texts_for
from storage import outbox, transcript, visitors
from storage.database import UNAVAILABLE

__all__ = ["API_HEADERS", "SECURITY_HEADERS", "SESSION_COOKIE", "WebChannel"]

log = logging.getLogger(__name__)
ResponseT = TypeVar("ResponseT", bound=web.StreamResponse)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "md_session"
MAX_BODY = 64 * 1024
"""A question is at most a few thousand characters; anything bigger is not a chat message."""
MAX_CHOICE = 200
SESSION_WINDOW = timedelta(seconds=10)
SESSION_LIMIT = 20
"""Messages one session may send per window; generous for a person, a brake for a script."""
ADDRESS_WINDOW = timedelta(minutes=1)
ADDRESS_BUDGET = 24_000
"""Characters one client address may send per window, whatever its sessions, each message
counting as at least :data:`MESSAGE_FLOOR` (what a message costs the database grows with its
length). That is 120 short messages a minute: room for forty people behind a maker space's NAT
writing two messages each in the same minute, with bursts. A script gets 15 to 20 messages of
2,000 characters through in its first minute (12 at once, then as the window slides): 0.1 MB
on SQLite, 0.2-0.35 MB on PostgreSQL (bench/flood.py), where it stored 6-13 MB before. Those
figures predate the transcript, which keeps one more copy of each text (at most 2,000
characters): a smoke run since gave 12 KB a stored message on SQLite."""
MESSAGE_FLOOR = 200
"""What a short message (or a button press) counts, in characters, against the address."""
REFUSAL_DELAY = 1.0
"""Seconds a refused message waits for its 429. Answering at once lets a script that floods
over a few connections keep the process busy with thousands of refusals a second, and everyone
else waits; held back, each connection gets one answer a second, and the wait costs no CPU."""
COOKIE_LIFETIME = timedelta(days=180)
SIGNING_KEY = "web-session"
"""The name of the key session cookies are signed with (:func:`storage.visitors.signing_key`)."""
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What the page may name its message with: it goes into the dedup key and the log."""
_UNSIGNED = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A cookie from before signing: the server issued ``secrets.token_urlsafe(24)``."""
MAX_CURSOR = 2**63 - 1
"""The largest outbox id: a larger ``after`` acknowledges no more and names no row."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class WebChannel:
    """Adapter between the browser page and the dispatcher."""

    def __init__(
        self, dispatcher: Dispatcher, clock: Clock, links: FileLinks | None = None
    ) -> None:
        """Feed messages from the page to ``dispatcher``, timed by ``clock``.

        The proxies to believe and the public address come from the dispatcher's settings;
        ``links`` signs the links to the files in the bot's messages.
        """
        self._links = links
        self._dispatcher = dispatcher
        self._clock = clock
        self._sessions = dispatcher.services.database.sessions
        settings = dispatcher.services.settings
        self._trusted = settings.trusted_proxies if settings is not None else ()
        self._secure = settings is not None and settings.served_over_https
        self._per_session = RateLimit(SESSION_LIMIT, SESSION_WINDOW)
        self._per_address = RateLimit(ADDRESS_BUDGET, ADDRESS_WINDOW)
        self._cookies: SessionCookies | None = None
        self._unsigned_until: datetime | None = None

    def register(self, app: web.Application) -> None:
        """Add the page, its assets and the API to ``app``; the signing key is read at start."""
        app.on_startup.append(self._start)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_post("/api/messages", self._message)
        app.router.add_get("/api/updates", self._updates)
        history = WebHistory(
            self._sessions,
            self._dispatcher.services.roster,
            self._visitor,
            SECURITY_HEADERS,
            self._links,
        )
        history.register(app)

    async def _start(self, _app: web.Application) -> None:
        key = await visitors.signing_key(self._sessions, SIGNING_KEY, self._clock.now())
        self._cookies = SessionCookies(key.secret)
        # An unsigned cookie was issued before the key was made: none outlives it by more than
        # a cookie's lifetime.
        self._unsigned_until = key.created_at + COOKIE_LIFETIME

    async def _page(self, request: web.Request) -> web.StreamResponse:
        language = language_of(request)
        response = web.Response(
            text=chat_page(language), content_type="text/html", headers=SECURITY_HEADERS
        )
        if request.query.get("lang") in ("zh", "en"):
            # The visitor's own choice on the page: it holds for the replies and the next visit.
            response.set_cookie(
                LANGUAGE_COOKIE,
                language.value,
                httponly=True,
                samesite="Strict",
                secure=self._secure,
                max_age=int(COOKIE_LIFETIME.total_seconds()),
                path="/",
            )
        try:
            known = await self._known_visitor(request)
        except UNAVAILABLE:
            return response  # the page still loads; its first message gets the session
        return self._with_session(response, self._issue()[1] if known is None else known[1])

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        # Only the files that ship in static/, never a path that climbs out of it; the chat
        # page is served filled in, at /.
        if "/" in name or name.startswith(".") or name == "index.html" or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=SECURITY_HEADERS)

    async def _message(self, request: web.Request) -> web.Response:
        language = language_of(request)
        texts = texts_for(language)
        if request.content_type != "application/json":
            return _error(415, texts.attachment_only)
        now = self._clock.now()
        address = self._address(request)
        # An address over its budget even for the shortest message is refused before its body
        # is read and parsed: a flood costs as little as it can.
        if self._per_address.full(address, now, MESSAGE_FLOOR):
            return await self._refuse(address, now, texts.busy)
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge as problem:
            return _error(413, texts.too_long.format(length=problem.size, limit=MAX_BODY))
        except BodyIncomplete as problem:
            log.info("web chat: message not read whole (%s)", problem)
            return _error(400, texts.incomplete)
        try:
            payload = loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # bad UTF-8 or JSON, or more digits than int() takes
            return _error(400, texts.bad_request)
        if not isinstance(payload, dict):
            return _error(400, texts.bad_request)
        text, choice, client_id = payload.get("text", ""), payload.get("choice"), payload.get("id")
        label, quiet = payload.get("label"), payload.get("quiet", False)
        if not isinstance(text, str) or not all(
            value is None or isinstance(value, str) for value in (choice, label)
        ):
            return _error(400, texts.bad_request)
        if any(value is not None and len(value) > MAX_CHOICE for value in (choice, label)):
            return _error(400, texts.bad_request)
        if client_id is not None and not (
            isinstance(client_id, str) and _CLIENT_ID.fullmatch(client_id)
        ):
            return _error(400, texts.bad_request)
        # The address before the session: a flood with a made-up cookie each time is refused
        # before its cookie costs a database read.
        cost = max(MESSAGE_FLOOR, min(len(text), MAX_TEXT_LENGTH))
        if self._per_address.full(address, now, cost):
            return await self._refuse(address, now, texts.busy)
        try:
            known = await self._known_visitor(request)
        except UNAVAILABLE:
            log.warning("web chat: the database is unreachable; message refused for now")
            return _error(503, texts.unavailable)
        user, cookie = known if known is not None else self._issue()
        if self._per_session.full(user, now):
            await asyncio.sleep(REFUSAL_DELAY)
            return self._with_session(_error(429, texts.busy), cookie)
        self._per_address.count(address, now, cost)
        self._per_session.count(user, now)
        key = client_id if client_id is not None else secrets.token_hex(8)
        message = IncomingMessage(
            sender=Sender(Channel.WEB, user, None, language),
            chat_id=user,
            text=text.strip(),
            key=f"web:{user}:{key}",
            received_at=now,
            choice=choice,
        )
        # What the page showed as the visitor's bubble: the words typed, or the button's label.
        # No more than a message may hold: a longer one is refused, and a flood of them must not
        # cost the database more than the address's budget counts.
        said = (storable(label or "") if choice is not None else message.text)[:MAX_TEXT_LENGTH]
        try:
            if quiet is not True and said:
                # Kept before it is handled, so it sorts before its replies; a retry of the
                # same message (same key) keeps nothing more.
                await transcript.record(
                    self._sessions,
                    self._dispatcher.services.writer,
                    channel=Channel.WEB.value,
                    chat_id=user,
                    key=message.key,
                    text=said,
                    choice=message.choice,
                    at=now,
                )
            replies = await self._dispatcher.handle(message, inline=InlinePolicy())
        except UNAVAILABLE:
            # Not handled: the person is told to send it again, not left guessing. Their line
            # may be kept already; the page's retry has the same key, so it stays one line.
            log.warning("web chat: the database is unreachable; message refused for now")
            return self._with_session(_error(503, texts.unavailable), cookie)
        shown = [render(m, now, self._links) for m in replies]
        response = json_response({"messages": shown}, headers=API_HEADERS)
        return self._with_session(response, cookie)

    async def _updates(self, request: web.Request) -> web.Response:
        texts = texts_for(language_of(request))
        try:
            after = min(MAX_CURSOR, max(0, int(request.query.get("after", "0"))))
        except ValueError:
            return _error(400, texts.bad_request)
        try:
            known = await self._known_visitor(request)
            if known is None:
                return json_response({"messages": [], "cursor": 0}, headers=API_HEADERS)
            user, cookie = known
            rows = await outbox.deliver_to_page(
                self._sessions, Channel.WEB.value, user, acknowledged=after, now=self._clock.now()
            )
        except UNAVAILABLE:
            log.warning("web chat: the database is unreachable; updates wait")
            return _error(503, texts.unavailable)
        messages = [
            {
                "id": row.id,
                **render(
                    OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload),
                    row.created_at,
                    self._links,
                ),
            }
            for row in rows
        ]
        cursor = max([after, *(row.id for row in rows)])
        response = json_response({"messages": messages, "cursor": cursor}, headers=API_HEADERS)
        return self._with_session(response, cookie)

    async def _refuse(self, address: str, now: datetime, text: str) -> web.Response:
        """The 429 for a message over its address's budget, after :data:`REFUSAL_DELAY`."""
        if self._per_address.refuse(address, now):
            log.warning(
                "web chat: %s sent %d characters within %s; refusing more for now",
                address,
                ADDRESS_BUDGET,
                ADDRESS_WINDOW,
            )
        await asyncio.sleep(REFUSAL_DELAY)
        return _error(429, text)

    def _address(self, request: web.Request) -> str:
        return client_address(
            request.remote, request.headers.getall("X-Forwarded-For", []), self._trusted
        )

    async def _known_visitor(self, request: web.Request) -> tuple[str, str | None] | None:
        """The visitor whose session cookie came with ``request``, if the server issued it.

        Returns:
            The user id and, for a cookie from before signing, the signed cookie to send
            back; ``None`` for no cookie or one the server did not issue (never adopted).
        """
        cookies = self._signer()
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        user = cookies.visitor(value)
        if user is not None:
            return user, None
        # From before signing: kept only by someone the bot knows (who has written before and
        # may have requests and replies waiting), so nobody loses them on upgrade.
        assert self._unsigned_until is not None
        if not _UNSIGNED.fullmatch(value) or self._clock.now() >= self._unsigned_until:
            return None
        user = visitor_of(value)
        if not await visitors.is_known(self._sessions, Channel.WEB.value, user):
            return None
        log.info("web chat: a session from before signing is signed now")
        return user, cookies.sign(value)

    async def _visitor(self, request: web.Request) -> str | None:
        """The visitor of ``request``'s session cookie, if the server issued it."""
        known = await self._known_visitor(request)
        return None if known is None else known[0]

    def _issue(self) -> tuple[str, str]:
        """A new session: its user id and its cookie."""
        cookie, user = self._signer().issue()
        return user, cookie

    def _signer(self) -> SessionCookies:
        if self._cookies is None:
            raise RuntimeError("the web chat was not started (its app's on_startup)")
        return self._cookies

    def _with_session(self, response: ResponseT, cookie: str | None) -> ResponseT:
        """``response``, setting the session cookie ``cookie`` if there is one to set."""
        if cookie is None:
            return response
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=self._secure,
            max_age=int(COOKIE_LIFETIME.total_seconds()),
            path="/",
        )
        return response


def _error(status: int, text: str) -> web.Response:
    return json_response({"error": text}, status=status, headers=API_HEADERS)
