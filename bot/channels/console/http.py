"""The console's HTTP plumbing: JSON in and out, refusals, small pages, security headers."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.json_codec import json_response as _json_response
from bot.channels.json_codec import loads
from bot.channels.web import SECURITY_HEADERS
from bot.texts.console import CONSOLE_TEXTS

__all__ = [
    "CONSOLE_HEADERS",
    "MAX_BODY",
    "SECRET",
    "Endpoint",
    "Refused",
    "guarded",
    "html_page",
    "json_response",
    "read_json",
]

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
"""The largest action is a reply of a couple of thousand characters."""
SECRET = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
"""A token or cookie as :func:`secrets.token_urlsafe` makes them; anything else is not ours."""

CONSOLE_HEADERS = {
    **SECURITY_HEADERS,  # the web chat's policy: no inline script or style, nothing from elsewhere
    # Requests, names and phone numbers: no cache should keep them.
    "Cache-Control": "no-store",
}


class Refused(Exception):
    """A request the console answers with an error and a Chinese reason, never a 5xx."""

    def __init__(self, status: int, text: str) -> None:
        """Refuse with HTTP ``status`` and the reason ``text``."""
        super().__init__(text)
        self.status = status
        self.text = text


Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, its :class:`Refused` answered as JSON ``{"error": …}``."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await endpoint(request)
        except Refused as refused:
            return json_response({"error": refused.text}, status=refused.status)

    return run


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; refused unless it is one, whole and small enough."""
    texts = CONSOLE_TEXTS
    if request.content_type != "application/json":
        raise Refused(415, texts.not_json)
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise Refused(413, texts.too_large) from None
    except BodyIncomplete as problem:
        log.info("console: request not read whole (%s)", problem)
        raise Refused(400, texts.incomplete) from None
    try:
        payload = loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, or more digits than int() takes
        raise Refused(400, texts.bad_request) from None
    if not isinstance(payload, dict):
        raise Refused(400, texts.bad_request)
    return payload


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    """``body`` as JSON, with the console's headers."""
    return _json_response(body, status=status, headers=CONSOLE_HEADERS)


def html_page(
    title: str, body: str, *, status: int = 200, raw: bool = False, script: str | None = None
) -> web.Response:
    """A small page of the console; ``body`` is plain text unless ``raw`` (escaped HTML)."""
    content = body if raw else f'<p class="problem">{html.escape(body)}</p>'
    tag = f'\n  <script src="{script}" defer></script>' if script else ""
    page = f"""<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)} · 众创助手</title>
  <link rel="stylesheet" href="/console/static/console.css">{tag}
</head>
<body class="plain">
  <header><h1>众创助手 · {html.escape(CONSOLE_TEXTS.title)}</h1></header>
  <main class="sheet">
    <h2>{html.escape(title)}</h2>
    {content}
    <p><a href="/">{html.escape(CONSOLE_TEXTS.back_to_chat)}</a></p>
  </main>
</body>
</html>
"""
    return web.Response(text=page, status=status, content_type="text/html", headers=CONSOLE_HEADERS)
