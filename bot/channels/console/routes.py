"""The commissioners' web console: the duty group's requests in a browser, and the moves on them.

The page lists the requests of every group the signed-in person is a member of (overdue, due
within two working days, the other active ones, recently resolved) and polls
``GET /console/api/requests`` for changes. Sign-in is :mod:`bot.channels.console.auth`'s.

The console changes nothing itself. Every button sends a desk command (:mod:`bot.desk`) as the
person's roster ``web`` account, through :meth:`Dispatcher.handle` for its dedup and its outbox,
so the desk checks membership and makes the change, and what it says ("已认领", or a refusal) is
what the page shows. POSTs take JSON only: with a SameSite=Strict cookie, that is what keeps
other sites from posting for a signed-in commissioner (a cross-site form cannot send
``application/json``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.channels.console import board
from bot.channels.console.auth import Commissioner, ConsoleAuth, account
from bot.channels.console.district import DistrictView, report_picker
from bot.channels.console.hotline import HotlineDesk
from bot.channels.console.http import (
    CONSOLE_HEADERS,
    Refused,
    guarded,
    json_response,
    read_json,
)
from bot.channels.console.uploads import PostedForm
from bot.clock import Clock
from bot.desk import policy, queries
from bot.desk.commands import MEMBER_MOVES, REASON_LIMIT, Member, MemberMove, Transfer
from bot.desk.service import execute
from bot.domain.roster.model import Roster
from bot.files import MB, FileCarrier, FileLinks, FileRefused, keep_upload
from bot.messages import (
    MAX_TEXT_LENGTH,
    Channel,
    IncomingMessage,
    Language,
    OutgoingMessage,
    Sender,
)
from bot.reports.files import ReportMaker, report_spec
from bot.reports.period import Quarter
from bot.routing import Context, Dispatcher, InlinePolicy
from bot.texts.console import CONSOLE_TEXTS
from handlers.basics import answer
from storage import console, requests

__all__ = ["ConsoleChannel"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parents[1] / "static"
_ASSETS = frozenset(
    {"console.html", "console.js", "console.css", "signin.js", "hotline.js", "district.js"}
)
TEXT_LIMIT = MAX_TEXT_LENGTH - 100
"""Longest reply, question or result: the command and number must fit in a chat message too."""

_NUMBER = re.compile(r"^[0-9]{4}-[0-9]{4,8}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_GROUP_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CARRY_FILES = frozenset({"reply", "ask", "resolve"})
"""The moves whose words go to the entrepreneur, and so may carry files."""


class ConsoleChannel:
    """Adapter between the console page and the desk."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        demo: bool,
        reports: ReportMaker | None = None,
        links: FileLinks | None = None,
        files: FileCarrier | None = None,
    ) -> None:
        """Serve the console for ``dispatcher``'s services, timed by ``clock``.

        Args:
            dispatcher: Runs the desk commands the console sends, once each.
            clock: The bot's clock.
            demo: The bot runs on the demo roster: anyone may sign in as any person in it.
            reports: Makes the quarterly report that supervisors and admins download here.
            links: Signs the links to the files in the requests' stories.
            files: Keeps the files a commissioner attaches; without it, the console takes none.
        """
        self._links = links
        self._files = files
        self._dispatcher = dispatcher
        self._services = dispatcher.services
        self._clock = clock
        self._demo = demo
        self._reports = reports
        settings = dispatcher.services.settings
        self._auth = ConsoleAuth(
            self._services.database,
            self._services.roster,
            clock,
            demo=demo,
            https=settings is not None and settings.served_over_https,
        )
        self._district = DistrictView(self._services, self._auth)

    def register(self, app: web.Application) -> None:
        """Add the console's pages, assets and API to ``app``."""
        app.router.add_get("/console", self._page)
        app.router.add_get("/console/static/{name}", self._asset)
        self._auth.register(app)
        app.router.add_get("/console/api/requests", guarded(self._board))
        app.router.add_post("/console/api/act", guarded(self._act))
        app.router.add_get("/console/report", self._report)
        HotlineDesk(self._dispatcher, self._clock, self._auth).register(app)
        self._district.register(app)

    @property
    def _roster(self) -> Roster:
        return self._services.roster.current

    # --- pages ---------------------------------------------------------------------------

    async def _page(self, _: web.Request) -> web.StreamResponse:
        # One static page; it asks the API whether the browser is signed in.
        return web.FileResponse(STATIC / "console.html", headers=CONSOLE_HEADERS)

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers=CONSOLE_HEADERS)

    # --- the quarterly report ------------------------------------------------------------

    async def _report(self, request: web.Request) -> web.StreamResponse:
        """``/console/report?quarter=2026Q4&format=pdf&district=ID``: the report as a download.

        An admin may have any district's or the whole city's (no ``district``); a supervisor
        only their districts'. Everyone else is refused.
        """
        try:
            who = await self._auth.commissioner(request)
            quarter, fmt, district = self._report_wanted(request, who)
        except Refused as refused:
            return web.Response(status=refused.status, text=refused.text, headers=CONSOLE_HEADERS)
        assert self._reports is not None
        made = await self._reports.make(report_spec(quarter, fmt, district))
        log.info("console: %s downloaded %s", account(who.web_id), made.name)
        disposition = f"attachment; filename*=UTF-8''{quote(made.name)}"
        return web.Response(
            body=made.content,
            headers={
                **CONSOLE_HEADERS,
                "Content-Type": made.media_type,
                "Content-Disposition": disposition,
            },
        )

    def _report_wanted(
        self, request: web.Request, who: Commissioner
    ) -> tuple[Quarter, str, str | None]:
        texts = CONSOLE_TEXTS
        scope = self._report_scope(who)
        if scope is None:
            raise Refused(403, texts.report_only)
        query = request.query
        fmt = query.get("format", "pdf")
        try:
            quarter = Quarter.parse(query["quarter"]) if "quarter" in query else None
        except ValueError:
            quarter = None
            fmt = ""
        if fmt not in ("pdf", "html", "csv"):
            raise Refused(400, texts.report_bad_quarter)
        district = query.get("district") or None
        if not scope.city:
            if district is None and len(scope.districts) == 1:
                district = scope.districts[0]
            if district is None:
                raise Refused(400, texts.report_district_needed)
            if not scope.allows(district):
                raise Refused(403, texts.report_only)
        elif not scope.allows(district):
            raise Refused(400, texts.report_bad_quarter)
        return quarter or Quarter.of(self._clock.now()), fmt, district

    def _report_scope(self, who: Commissioner) -> policy.ReportScope | None:
        """The reports ``who`` may have here; ``None``: none at all."""
        if self._reports is None:
            return None
        return policy.report_scope(who.roles, self._roster)

    # --- the board -----------------------------------------------------------------------

    async def _board(self, request: web.Request) -> web.StreamResponse:
        try:
            who = await self._auth.commissioner(request)
        except Refused as refused:
            # The page shows the sign-in view from this answer; on the demo roster, with the
            # people to pick from.
            body: dict[str, Any] = {"error": refused.text, "demo": self._demo}
            if self._demo:
                body["note"] = CONSOLE_TEXTS.demo_signin
                body["people"] = board.demo_people(self._roster)
            return json_response(body, status=401)
        groups = sorted(who.roles.member_of)
        async with self._services.database.sessions() as session:
            found = await queries.board(
                session, groups, self._services.calendar.current, self._clock.now()
            )
        scope = self._report_scope(who)
        picker = await report_picker(self._services, scope, self._roster) if scope else None
        return json_response(board.listing(self._roster, who, found, picker, self._links))

    # --- actions -------------------------------------------------------------------------

    async def _act(self, request: web.Request) -> web.StreamResponse:
        who = await self._auth.commissioner(request)
        if request.content_type == "multipart/form-data":
            return await self._act_with_files(request, who)
        payload = await read_json(request)
        move, client_id, command = _command(payload)
        return await self._send(who, move, client_id, command)

    async def _act_with_files(self, request: web.Request, who: Commissioner) -> web.StreamResponse:
        """A reply, question or result with files: checked, kept, then sent like any other.

        Everything is checked before a file is read or kept: the move and its words, and that
        the request is in one of the person's groups (the desk checks that again when it moves).
        """
        texts = CONSOLE_TEXTS
        if self._files is None:
            raise Refused(415, texts.not_json)  # no file store: the page sends no files either
        store = self._files.store
        form = await PostedForm.open(request, store.cap)
        move, client_id, command = _command(await form.fields())
        if move not in _CARRY_FILES:
            raise Refused(400, texts.files_not_here)
        async with self._services.database.sessions() as session:
            found = await requests.by_number(session, command.number)
        if found is None or not policy.holds(who.roles, found):
            log.warning(
                "console: web:%s posted files about %s, not in their groups; nothing kept",
                who.web_id,
                command.number,
            )
            raise Refused(403, texts.files_not_yours.format(number=command.number))
        attachments = []
        for posted in await form.files():
            try:
                attachments.append(
                    await keep_upload(store, posted.data, posted.name, now=self._clock.now())
                )
            except FileRefused as refused:
                raise Refused(*_refusal(refused, posted.name, store.cap)) from None
        log.info("console: web:%s uploaded %d file(s) for %s", who.web_id, len(attachments), move)
        return await self._send(
            who, move, client_id, replace(command, attachments=tuple(attachments))
        )

    async def _send(
        self, who: Commissioner, move: str, client_id: str, command: MemberMove
    ) -> web.StreamResponse:
        """Send ``command`` as ``who``, once per ``client_id``; what the desk said."""
        member = Member(account(who.web_id), who.person.name, who.roles, Language.ZH)

        async def run(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
            return answer(message, await execute(context, member, command))

        # The message only carries who sent it and the key that makes a resend change nothing.
        message = IncomingMessage(
            sender=Sender(Channel.WEB, who.web_id, who.person.name, Language.ZH),
            chat_id=who.web_id,
            text="",
            key=_dedup_key(who.web_id, client_id),
            received_at=self._clock.now(),
        )
        log.info("console: web:%s sends %s %s", who.web_id, move, command.number)
        replies = await self._dispatcher.handle(message, inline=InlinePolicy(), handler=run)
        return json_response({"messages": [{"text": reply.text} for reply in replies]})


def _command(payload: Mapping[str, Any]) -> tuple[str, str, MemberMove]:
    """The move a form names: its name, the page's id for it, and the desk command."""
    texts = CONSOLE_TEXTS
    move, number, client_id = payload.get("action"), payload.get("number"), payload.get("id")
    if (
        not isinstance(move, str)
        or move not in MEMBER_MOVES
        or not isinstance(number, str)
        or not _NUMBER.match(number)
        or not isinstance(client_id, str)
        or not _CLIENT_ID.match(client_id)
    ):
        raise Refused(400, texts.bad_request)
    command: MemberMove
    if move == "transfer":
        group = payload.get("group")
        if not isinstance(group, str) or not _GROUP_ID.match(group) or len(group) > 64:
            raise Refused(400, texts.group_needed)
        reason = _words(payload, texts.reason_needed, texts.reason_too_long, REASON_LIMIT)
        command = Transfer(number, group, reason=reason)
    elif move == "claim":
        command = MEMBER_MOVES[move](number)
    else:
        words = _words(payload, texts.text_needed, texts.text_too_long, TEXT_LIMIT)
        command = MEMBER_MOVES[move](number, words)
    return move, client_id, command


def _refusal(refused: FileRefused, name: str, cap: int) -> tuple[int, str]:
    """The status and plain words for an upload the store refused."""
    texts = CONSOLE_TEXTS
    if refused.reason == "too_big":
        return 413, texts.file_too_big.format(name=name, limit=cap // MB)
    if refused.reason == "executable":
        return 415, texts.file_program.format(name=name)
    return 415, texts.file_unknown.format(name=name)


def _words(payload: Mapping[str, Any], needed: str, too_long: str, limit: int) -> str:
    """The payload's ``text``, trimmed; refused when missing, empty or over ``limit``."""
    text = payload.get("text")
    if not isinstance(text, str):
        raise Refused(400, CONSOLE_TEXTS.bad_request)
    words = text.strip()
    if not words:
        raise Refused(400, needed)
    if len(words) > limit:
        raise Refused(400, too_long.format(length=len(words), limit=limit))
    return words


def _dedup_key(web_id: str, client_id: str) -> str:
    key = f"console:{web_id}:{client_id}"
    # Inbound keys hold 200 characters; an unusually long roster id is shortened by its hash.
    return key if len(key) <= 200 else f"console:{console.digest(web_id)[:32]}:{client_id}"
