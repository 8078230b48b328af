"""The web chat: the Internet intake channel of Article 6, served by the bot itself.

The page sends with ``POST /api/messages`` (the replies come back in the response) and fetches
what arrives later (a commissioner's reply, a deadline notice) with ``GET /api/updates?after=N``,
which also acknowledges everything up to ``N``. A visitor is known by an anonymous session
cookie; its hash, never the cookie itself, is the user id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.clock import Clock
from bot.messages import (
    Channel,
    IncomingMessage,
    Language,
    OutgoingMessage,
    Sender,
)
from bot.routing import Dispatcher
from bot.texts import texts_for
from storage import outbox
from storage.database import UNAVAILABLE

__all__ = ["SECURITY_HEADERS", "SESSION_COOKIE", "WebChannel"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "md_session"
MAX_BODY = 64 * 1024
"""A question is at most a few thousand characters; anything bigger is not a chat message."""
MAX_CHOICE = 200
RATE_WINDOW = timedelta(seconds=10)
RATE_LIMIT = 20
"""Messages one session may send per window; generous for a person, a brake for a script."""

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

    def __init__(self, dispatcher: Dispatcher, clock: Clock) -> None:
        """Feed messages from the page to ``dispatcher``, timed by ``clock``."""
        self._dispatcher = dispatcher
        self._clock = clock
        self._recent: dict[str, deque[Any]] = {}

    def register(self, app: web.Application) -> None:
        """Add the page, its assets and the API to ``app``."""
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_post("/api/messages", self._message)
        app.router.add_get("/api/updates", self._updates)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)
        if not _session(request):
            _set_session(response, secrets.token_urlsafe(24))
        return response

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        # Only the files that ship in static/, never a path that climbs out of it.
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=SECURITY_HEADERS)

    async def _message(self, request: web.Request) -> web.Response:
        language = _language(request)
        texts = texts_for(language)
        session = _session(request)
        fresh_session = None
        if not session:
            session = fresh_session = secrets.token_urlsafe(24)
        if request.content_type != "application/json":
            return _error(415, texts.attachment_only)
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge as problem:
            return _error(413, texts.too_long.format(length=problem.size, limit=MAX_BODY))
        except BodyIncomplete as problem:
            log.info("web chat: message not read whole (%s)", problem)
            return _error(400, texts.incomplete)
        try:
            payload = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # bad UTF-8 or JSON, or more digits than int() takes
            return _error(400, texts.bad_request)
        if not isinstance(payload, dict):
            return _error(400, texts.bad_request)
        text, choice, client_id = payload.get("text", ""), payload.get("choice"), payload.get("id")
        if not isinstance(text, str) or not (choice is None or isinstance(choice, str)):
            return _error(400, texts.bad_request)
        if choice is not None and len(choice) > MAX_CHOICE:
            return _error(400, texts.bad_request)
        user = hashlib.sha256(session.encode()).hexdigest()[:32]
        if self._too_many(user):
            return _error(429, texts.busy)
        now = self._clock.now()
        key = str(client_id) if isinstance(client_id, str) and client_id else secrets.token_hex(8)
        message = IncomingMessage(
            sender=Sender(Channel.WEB, user, None, language),
            chat_id=user,
            text=text.strip(),
            key=f"web:{user}:{key[:64]}",
            received_at=now,
            choice=choice,
        )
        try:
            replies = await self._dispatcher.handle(message, inline=True)
        except UNAVAILABLE:
            # Nothing was stored: the person is told to send it again, not left guessing.
            log.warning("web chat: the database is unreachable; message refused for now")
            return _error(503, texts.unavailable)
        response = web.json_response({"messages": [_render(m) for m in replies]})
        if fresh_session:
            _set_session(response, fresh_session)
        return response

    async def _updates(self, request: web.Request) -> web.Response:
        session = _session(request)
        if not session:
            return web.json_response({"messages": [], "cursor": 0})
        try:
            after = max(0, int(request.query.get("after", "0")))
        except ValueError:
            return _error(400, texts_for(_language(request)).bad_request)
        user = hashlib.sha256(session.encode()).hexdigest()[:32]
        rows = await outbox.deliver_to_page(
            self._dispatcher.services.database.sessions,
            Channel.WEB.value,
            user,
            acknowledged=after,
            now=self._clock.now(),
        )
        messages = [
            {
                "id": row.id,
                **_render(OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload)),
            }
            for row in rows
        ]
        cursor = max([after, *(row.id for row in rows)])
        return web.json_response({"messages": messages, "cursor": cursor})

    def _too_many(self, user: str) -> bool:
        now = self._clock.now()
        window = self._recent.setdefault(user, deque())
        while window and now - window[0] > RATE_WINDOW:
            window.popleft()
        if len(window) >= RATE_LIMIT:
            return True
        window.append(now)
        if len(self._recent) > 10_000:  # forget idle sessions so memory stays bounded
            for idle in [u for u, w in self._recent.items() if not w or now - w[-1] > RATE_WINDOW]:
                del self._recent[idle]
        return False


def _render(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "source": message.source,
        "faq_id": message.faq_id,
        "buttons": [{"label": b.label, "payload": b.payload} for b in message.buttons],
    }


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def _session(request: web.Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and len(value) <= 64 else None


def _set_session(response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, value, httponly=True, samesite="Strict", max_age=180 * 24 * 3600, path="/"
    )


def _language(request: web.Request) -> Language:
    accepted = request.headers.get("Accept-Language", "")
    return Language.from_code(accepted.split(",", 1)[0].strip() or None)
