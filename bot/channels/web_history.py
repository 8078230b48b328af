"""What a web chat visitor can read back: their conversation, and each request's whole thread.

``GET /api/transcript`` gives the conversation as the page shows it after a reload (or in a
second tab): the visitor's lines and the bot's messages with their times, and the step of a
request being opened, so the page can offer its way out. ``GET /chat/requests/<number>`` is a
request's own page: what was asked, every reply and result, the due date and the status. It
exists only for the request's owner; anyone else, signed in or not, gets the same 404 as for a
number that does not exist, so a number tells nobody whether it is in use.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.json_codec import json_response
from bot.channels.web_page import language_of, page_shell
from bot.clock import SHANGHAI
from bot.desk import policy
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import Status
from bot.domain.roster.model import Roster
from bot.files import FileLinks
from bot.messages import Channel, Language, OutgoingMessage
from bot.reloadable import Reloadable
from bot.texts.chat import PageTexts, page_texts_for
from bot.texts.desk import desk_texts_for
from storage import people, requests, transcript
from storage.database import UNAVAILABLE
from storage.models import Request, RequestEvent

__all__ = ["API_HEADERS", "WebHistory", "render"]

Visitor = Callable[[web.Request], Awaitable[str | None]]
"""The visitor a request's session cookie names, or ``None``."""

API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""On every JSON answer of the chat API: read as JSON only, and kept by no cache."""


def render(
    message: OutgoingMessage, at: datetime, links: FileLinks | None = None
) -> dict[str, Any]:
    """A bot message as the page draws it, with the time it was written (UTC, ISO 8601).

    Its files (a commissioner's photo from another channel) are signed links made now
    (:mod:`bot.files.links`); without ``links``, none are shown.
    """
    files = []
    for attachment in message.attachments:
        url = links.path(attachment) if links is not None else None
        if url is not None:
            files.append({"kind": attachment.kind, "name": attachment.name, "url": url})
    return {
        "text": message.text,
        "source": message.source,
        "faq_id": message.faq_id,
        "buttons": [{"label": b.label, "payload": b.payload} for b in message.buttons],
        "files": files,
        "at": at.isoformat(),
    }


class WebHistory:
    """The transcript API and the request pages of the web chat."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        roster: Reloadable[Roster],
        visitor: Visitor,
        headers: dict[str, str],
        links: FileLinks | None = None,
    ) -> None:
        """Read from ``sessions``; ``visitor`` tells who asks; pages go with ``headers``.

        ``links`` signs the links to the files in the bot's messages.
        """
        self._links = links
        self._sessions = sessions
        self._roster = roster
        self._visitor = visitor
        self._headers = headers

    def register(self, app: web.Application) -> None:
        """Add the transcript API and the request pages to ``app``."""
        app.router.add_get("/api/transcript", self._transcript)
        app.router.add_get("/chat/requests/{number}", self._thread)

    async def _transcript(self, request: web.Request) -> web.Response:
        try:
            user = await self._visitor(request)
            if user is None:
                empty = {"entries": [], "cursor": 0, "step": None}
                return json_response(empty, headers=API_HEADERS)
            kept = await transcript.read(self._sessions, Channel.WEB.value, user)
        except UNAVAILABLE:
            return json_response({"error": "unavailable"}, status=503, headers=API_HEADERS)
        entries: list[dict[str, Any]] = []
        for entry in kept.entries:
            if entry.mine:
                shown = {"mine": True, "text": entry.text, "at": entry.at.isoformat()}
                entries.append({**shown, "choice": entry.choice})
                continue
            assert entry.payload is not None
            assert entry.message_id is not None
            message = OutgoingMessage.from_payload(Channel.WEB.value, user, entry.payload)
            shown = render(message, entry.at, self._links)
            entries.append({"mine": False, "id": entry.message_id, **shown})
        cursor = max((e.message_id or 0 for e in kept.entries), default=0)
        step = None if kept.step is None else {"kind": kept.step[0], "step": kept.step[1]}
        body = {"entries": entries, "cursor": cursor, "step": step}
        return json_response(body, headers=API_HEADERS)

    async def _thread(self, request: web.Request) -> web.Response:
        language = language_of(request)
        texts = page_texts_for(language)
        number = request.match_info["number"]
        try:
            user = await self._visitor(request)
            found = None if user is None else await self._own(user, number)
        except UNAVAILABLE:
            raise web.HTTPServiceUnavailable() from None
        if found is None:
            missing = f"<p>{_e(texts.thread_missing)}</p>{_back(texts)}"
            page = page_shell(texts, texts.thread_missing, missing)
            return web.Response(
                text=page, status=404, content_type="text/html", headers=self._headers
            )
        shown, events = found
        page = page_shell(
            texts,
            texts.thread_title.format(number=shown.number),
            self._thread_body(texts, language, shown, events),
        )
        return web.Response(text=page, content_type="text/html", headers=self._headers)

    async def _own(self, user: str, number: str) -> tuple[Request, list[RequestEvent]] | None:
        """The visitor's request ``number`` and its log; ``None`` if there is none of theirs."""
        async with self._sessions() as session:
            person = await people.find_person(session, Channel.WEB.value, user)
            if person is None:
                return None
            found = await requests.by_number(session, number)
            if found is None or not policy.owns(person, found):
                return None
            return found, list(await requests.events_of(session, found.id))

    def _thread_body(
        self, texts: PageTexts, language: Language, request: Request, events: list[RequestEvent]
    ) -> str:
        desk = desk_texts_for(language)
        roster = self._roster.current
        due = request.due_date.isoformat() + (
            texts.thread_provisional if request.provisional else ""
        )
        facts = [
            (texts.thread_status, desk.status.get(request.status, str(request.status))),
            (texts.thread_due, due),
            (texts.thread_category, categories.by_id(request.category).label(language)),
            (texts.thread_opened, _local(request.opened_at)),
            (texts.thread_space, roster.space_name(request.space_id, language)),
            (texts.thread_group, roster.group_name(request.group_id)),
        ]
        if request.result and request.status in (Status.RESOLVED, Status.CLOSED):
            # Only a result that stands: a reopened request's old one is in the history below.
            facts.append((texts.thread_result, request.result))
        listed = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in facts)
        history = "".join(
            _event_item(texts, roster, event)
            for event in events
            if event.kind in texts.thread_events
        )
        if not history:
            history = f'<li class="event none">{_e(texts.thread_nothing_yet)}</li>'
        title = _e(texts.thread_title.format(number=request.number))
        return (
            f'<article class="request" data-number="{_e(request.number)}">'
            f"<h2>{title}</h2>"
            f'<dl class="facts">{listed}</dl>'
            f"<h3>{_e(texts.thread_asked)}</h3>"
            f'<p class="asked">{_e(request.text)}</p>'
            f"<h3>{_e(texts.thread_history)}</h3>"
            f'<ol class="history">{history}</ol>'
            f"</article>{_back(texts)}"
        )


def _event_item(texts: PageTexts, roster: Roster, event: RequestEvent) -> str:
    data = event.data or {}
    to = str(data.get("to", ""))
    if event.kind == EventKind.TRANSFERRED:
        to = roster.group_name(to)
    what = texts.thread_events[event.kind].format(
        name=_actor(roster, event.actor), to=to, stars=data.get("stars", "")
    )
    said = f'<p class="said">{_e(event.text)}</p>' if event.text else ""
    local = event.at.astimezone(SHANGHAI)
    return (
        f'<li class="event {_e(event.kind)}"><p class="what">{_e(what)} '
        f'<time datetime="{_e(event.at.isoformat())}">{_e(_local(local))}</time></p>{said}</li>'
    )


def _actor(roster: Roster, actor: str) -> str:
    channel, _, user_id = actor.partition(":")
    person = roster.roles_of(channel, user_id).person if user_id else None
    return person.name if person else ""


def _local(at: datetime) -> str:
    """A moment as people in Tianjin read it."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _back(texts: PageTexts) -> str:
    return f'<p class="back"><a href="/">{_e(texts.thread_back)}</a></p>'


def _e(text: str) -> str:
    return html.escape(text, quote=True)
