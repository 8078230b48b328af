"""The commissioners' web console: the duty group's requests in a browser, and the moves on them.

A commissioner signs in with a one-time link (``python -m bot console link WEB_ID``), or, on the
demo roster, by picking a person. The page lists the requests of every group they are a member
of (overdue, due within two working days, the other active ones, recently resolved) and polls
``GET /console/api/requests`` for changes.

The console changes nothing itself. Every button sends the command the chat would
(``/claim 2026-0001``, ``/reply 2026-0001 text``…) through :meth:`Dispatcher.handle`, as the
person's roster ``web`` account, so the handlers check membership and make the changes, and the
reply they give ("已认领", or a refusal) is what the page shows.

Sessions are cookies of their own (``md_console``, HttpOnly, SameSite=Strict, path
``/console``); only their hash is stored. The person behind a session is looked up in the roster
on every request, so someone removed from the roster loses access at the next reload. POSTs take
JSON only: with a SameSite=Strict cookie, that is what keeps other sites from posting for a
signed-in commissioner (a cross-site form cannot send ``application/json``).
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.web import SECURITY_HEADERS
from bot.clock import SHANGHAI, Clock
from bot.domain import categories
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.domain.roster.model import Person, Roles, Roster
from bot.domain.workdays import shanghai_date
from bot.messages import MAX_TEXT_LENGTH, Channel, IncomingMessage, Language, Sender
from bot.reports.engine import Quarter
from bot.reports.files import ReportMaker, report_spec
from bot.routing import Dispatcher
from bot.texts import CONSOLE_TEXTS
from storage import console, requests
from storage.database import Database
from storage.models import Person as Entrepreneur
from storage.models import Request, RequestEvent

__all__ = ["COOKIE", "Commissioner", "ConsoleChannel", "issue_link"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parents[1] / "static"
_ASSETS = frozenset({"console.html", "console.js", "console.css", "signin.js"})
COOKIE = "md_console"
MAX_BODY = 16 * 1024
"""The largest action is a reply of a couple of thousand characters."""
TEXT_LIMIT = MAX_TEXT_LENGTH - 100
"""Longest reply, question or result: the command and number must fit in a chat message too."""
SOON_WORKDAYS = 2
"""A request due within this many working days is "due soon"."""
RESOLVED_WINDOW = timedelta(days=14)
"""How far back "recently resolved" goes."""

_ACTIVE = ("open", "claimed", "waiting")
_MOVES = {
    "claim": Action.CLAIM,
    "reply": Action.REPLY,
    "ask": Action.ASK,
    "resolve": Action.RESOLVE,
    "transfer": Action.TRANSFER,
}
_NUMBER = re.compile(r"^[0-9]{4}-[0-9]{4,8}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_GROUP_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
"""A token or cookie as :func:`secrets.token_urlsafe` makes them; anything else is not ours."""

_SECURITY_HEADERS = {
    **SECURITY_HEADERS,  # the web chat's policy: no inline script or style, nothing from elsewhere
    # Requests, names and phone numbers: no cache should keep them.
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Commissioner:
    """The roster person a console session stands for.

    Attributes:
        web_id: Their roster ``web`` account, the user id their actions are sent as.
        person: Their roster listing.
        roles: What the roster lets them do, read at this request.
    """

    web_id: str
    person: Person
    roles: Roles


class _Refused(Exception):
    """A request the console answers with an error and a Chinese reason, never a 5xx."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


_Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(endpoint: _Endpoint) -> _Endpoint:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await endpoint(request)
        except _Refused as refused:
            return _json({"error": refused.text}, status=refused.status)

    return run


async def issue_link(
    database: Database,
    roster: Roster,
    web_id: str,
    *,
    now: datetime,
    lifetime: timedelta,
    base_url: str = "",
) -> tuple[Person, str]:
    """A one-time sign-in link for the roster person with ``web`` account ``web_id``.

    Args:
        database: Where the token's hash is kept.
        roster: The roster that must list ``web_id``.
        web_id: The person's ``web`` account in the roster.
        now: The time the link is issued at.
        lifetime: How long the link stays usable.
        base_url: The console's address as people reach it; empty gives a relative link.

    Returns:
        The person, and the link.

    Raises:
        KeyError: The roster lists nobody with this ``web`` account.
    """
    person = roster.roles_of(Channel.WEB.value, web_id).person
    if person is None:
        raise KeyError(web_id)
    async with database.sessions.begin() as session:
        token = await console.issue_token(session, _account(web_id), now, lifetime)
    log.info("console sign-in link issued for web:%s, valid until %s", web_id, now + lifetime)
    # The token travels in the fragment, which browsers never send: it stays out of proxies'
    # access logs while it is still unspent. signin.js reads it.
    return person, f"{base_url.rstrip('/')}/console/signin#token={token}"


class ConsoleChannel:
    """Adapter between the console page and the dispatcher."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        demo: bool,
        reports: ReportMaker | None = None,
    ) -> None:
        """Serve the console for ``dispatcher``'s services, timed by ``clock``.

        Args:
            dispatcher: Handles the commands the console sends.
            clock: The bot's clock.
            demo: The bot runs on the demo roster: anyone may sign in as any person in it.
            reports: Makes the quarterly report that supervisors and admins download here.
        """
        self._dispatcher = dispatcher
        self._services = dispatcher.services
        self._clock = clock
        self._demo = demo
        self._reports = reports
        settings = dispatcher.services.settings
        self._https = settings is not None and settings.served_over_https

    def register(self, app: web.Application) -> None:
        """Add the console's pages, assets and API to ``app``."""
        app.router.add_get("/console", self._page)
        app.router.add_get("/console/static/{name}", self._asset)
        app.router.add_get("/console/signin", self._signin_page)
        app.router.add_post("/console/api/signin-check", _guarded(self._signin_check))
        app.router.add_post("/console/api/signin", _guarded(self._signin))
        app.router.add_post("/console/api/demo-signin", _guarded(self._demo_signin))
        app.router.add_post("/console/api/signout", _guarded(self._signout))
        app.router.add_get("/console/api/requests", _guarded(self._board))
        app.router.add_post("/console/api/act", _guarded(self._act))
        app.router.add_get("/console/report", self._report)

    @property
    def _roster(self) -> Roster:
        return self._services.roster.current

    # --- pages ---------------------------------------------------------------------------

    async def _page(self, _: web.Request) -> web.StreamResponse:
        # One static page; it asks the API whether the browser is signed in.
        return web.FileResponse(STATIC / "console.html", headers=_SECURITY_HEADERS)

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers=_SECURITY_HEADERS)

    async def _signin_page(self, request: web.Request) -> web.StreamResponse:
        """The sign-in link's page: it checks the link and offers a button that spends it.

        Opening the link does not spend it: chat apps and mail scanners fetch links to preview
        them, and would use up a one-time link before its owner could. The button posts it.
        Links carry the token in the fragment (``#token=…``), which reaches only the page's
        script; a link of an earlier release (``?token=…``) is still checked here.
        """
        texts = CONSOLE_TEXTS
        if "token" in request.query:
            token = request.query["token"]
            check, person = await self._check_link(token)
            if person is None:
                _log_refusal(check, token, "opened")
                return _html_page(texts.link_title, _token_refusal(check), status=403)
            prompt, hidden = texts.link_prompt.format(name=person.name), ""
        else:
            prompt, hidden = texts.link_checking, " hidden"
        body = (
            f'<p class="prompt" id="prompt">{html.escape(prompt)}</p>'
            f'<p><button type="button" id="redeem"{hidden}>'
            f"{html.escape(texts.signin_button)}</button></p>"
            '<p id="problem" class="problem" role="alert"></p>'
        )
        return _html_page(texts.title, body, raw=True, script="/console/static/signin.js")

    async def _signin_check(self, request: web.Request) -> web.StreamResponse:
        """Whose link this is, for the sign-in page to greet them; spends nothing."""
        payload = await _read_json(request)
        token = payload.get("token")
        token = token if isinstance(token, str) else ""
        check, person = await self._check_link(token)
        if person is None:
            _log_refusal(check, token, "opened")
            raise _Refused(403, _token_refusal(check))
        return _json({"prompt": CONSOLE_TEXTS.link_prompt.format(name=person.name)})

    async def _check_link(self, token: str) -> tuple[console.TokenCheck, Person | None]:
        """The token's state, and its roster person when it can sign in."""
        if not _SECRET.match(token):
            return console.TokenCheck(console.TokenState.UNKNOWN), None
        async with self._services.database.sessions() as session:
            check = await console.check_token(session, token, self._clock.now())
        person = self._person_for(check.person)
        return check, person if check.state is console.TokenState.VALID else None

    # --- sign-in and sign-out ------------------------------------------------------------

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        texts = CONSOLE_TEXTS
        payload = await _read_json(request)
        token = payload.get("token")
        if not isinstance(token, str) or not _SECRET.match(token):
            _log_refusal(console.TokenCheck(console.TokenState.UNKNOWN), "", "posted")
            raise _Refused(403, texts.link_unknown)
        now = self._clock.now()
        async with self._services.database.sessions.begin() as session:
            check = await console.redeem_token(session, token, now)
            person = self._person_for(check.person)
            if check.state is not console.TokenState.VALID or person is None:
                # Raised inside the transaction: a link of someone no longer in the roster
                # stays unspent, and nothing else was written.
                _log_refusal(check, token, "posted")
                raise _Refused(403, _token_refusal(check))
            await console.forget_expired(session, now)
            cookie = await console.open_session(session, str(check.person), now)
        log.info("console: %s signed in with a link", check.person)
        return self._signed_in(request, cookie)

    async def _demo_signin(self, request: web.Request) -> web.StreamResponse:
        if not self._demo:
            raise web.HTTPNotFound()
        payload = await _read_json(request)
        web_id = payload.get("web_id")
        if not isinstance(web_id, str) or len(web_id) > 128:
            raise _Refused(400, CONSOLE_TEXTS.bad_request)
        if self._roster.roles_of(Channel.WEB.value, web_id).person is None:
            raise _Refused(403, CONSOLE_TEXTS.not_in_roster)
        now = self._clock.now()
        async with self._services.database.sessions.begin() as session:
            await console.forget_expired(session, now)
            cookie = await console.open_session(session, _account(web_id), now)
        log.info("console: web:%s signed in (demo roster)", web_id)
        return self._signed_in(request, cookie)

    def _signed_in(self, request: web.Request, cookie: str) -> web.Response:
        response = _json({"ok": True})
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(console.SESSION_LIFETIME.total_seconds()),
            path="/console",
            httponly=True,
            samesite="Strict",
            # Behind a proxy that ends TLS, aiohttp cannot see it: BOT_PUBLIC_URL says so.
            secure=self._https or request.secure,
        )
        return response

    async def _signout(self, request: web.Request) -> web.StreamResponse:
        await _read_json(request)
        cookie = _cookie(request)
        if cookie:
            async with self._services.database.sessions.begin() as session:
                await console.close_session(session, cookie)
        response = _json({"ok": True, "message": CONSOLE_TEXTS.signed_out})
        response.del_cookie(COOKIE, path="/console")
        return response

    async def _commissioner(self, request: web.Request) -> Commissioner:
        """The signed-in person, from the roster as it is now; refused (401) otherwise."""
        cookie = _cookie(request)
        account = None
        if cookie:
            async with self._services.database.sessions() as session:
                account = await console.session_person(session, cookie, self._clock.now())
        channel, _, web_id = (account or "").partition(":")
        roles = self._roster.roles_of(channel, web_id)
        if account is None or channel != Channel.WEB.value or roles.person is None:
            if account is not None:
                log.warning("console: %s is no longer in the roster; access refused", account)
            text = CONSOLE_TEXTS.not_in_roster if account else CONSOLE_TEXTS.signin_needed
            raise _Refused(401, text)
        return Commissioner(web_id, roles.person, roles)

    def _person_for(self, account: str | None) -> Person | None:
        channel, _, user_id = (account or "").partition(":")
        return self._roster.roles_of(channel, user_id).person if account else None

    # --- the quarterly report ------------------------------------------------------------

    async def _report(self, request: web.Request) -> web.StreamResponse:
        """``/console/report?quarter=2026Q4&format=pdf&district=ID``: the report as a download.

        An admin may have any district's or the whole city's (no ``district``); a supervisor
        only their districts'. Everyone else is refused.
        """
        try:
            who = await self._commissioner(request)
            quarter, fmt, district = self._report_wanted(request, who)
        except _Refused as refused:
            return web.Response(status=refused.status, text=refused.text, headers=_SECURITY_HEADERS)
        assert self._reports is not None
        made = await self._reports.make(report_spec(quarter, fmt, district))
        log.info("console: %s downloaded %s", _account(who.web_id), made.name)
        disposition = f"attachment; filename*=UTF-8''{quote(made.name)}"
        return web.Response(
            body=made.content,
            headers={
                **_SECURITY_HEADERS,
                "Content-Type": made.media_type,
                "Content-Disposition": disposition,
            },
        )

    def _report_wanted(
        self, request: web.Request, who: Commissioner
    ) -> tuple[Quarter, str, str | None]:
        texts = CONSOLE_TEXTS
        allowed = self._report_districts(who)
        if allowed is None:
            raise _Refused(403, texts.report_only)
        query = request.query
        fmt = query.get("format", "pdf")
        try:
            quarter = Quarter.parse(query["quarter"]) if "quarter" in query else None
        except ValueError:
            quarter = None
            fmt = ""
        if fmt not in ("pdf", "html", "csv"):
            raise _Refused(400, texts.report_bad_quarter)
        district = query.get("district") or None
        if not who.roles.is_admin:
            if district is None and len(allowed) == 1:
                district = allowed[0]
            if district is None:
                raise _Refused(400, texts.report_district_needed)
            if district not in allowed:
                raise _Refused(403, texts.report_only)
        elif district is not None and district not in allowed:
            raise _Refused(400, texts.report_bad_quarter)
        return quarter or Quarter.of(self._clock.now()), fmt, district

    def _report_districts(self, who: Commissioner) -> list[str] | None:
        """The districts whose report ``who`` may have; ``None``: no report at all."""
        if self._reports is None or not (who.roles.is_admin or who.roles.supervisor_of):
            return None
        if who.roles.is_admin:
            return [d.id for d in self._roster.districts]
        return sorted(who.roles.supervisor_of)

    def _report_links(self, who: Commissioner) -> list[dict[str, str]]:
        allowed = self._report_districts(who)
        if allowed is None:
            return []
        quarter = Quarter.of(self._clock.now())
        names = {d.id: d.name for d in self._roster.districts}
        scopes: list[str | None] = [None] if who.roles.is_admin else [*allowed]
        return [
            {
                "label": CONSOLE_TEXTS.report_link.format(
                    quarter=quarter.label, scope=names.get(scope, scope) if scope else "全市"
                ),
                "href": f"/console/report?quarter={quarter}&format=pdf"
                + (f"&district={quote(scope)}" if scope else ""),
            }
            for scope in scopes
        ]

    # --- the board -----------------------------------------------------------------------

    async def _board(self, request: web.Request) -> web.StreamResponse:
        try:
            who = await self._commissioner(request)
        except _Refused as refused:
            # The page shows the sign-in view from this answer; on the demo roster, with the
            # people to pick from.
            body: dict[str, Any] = {"error": refused.text, "demo": self._demo}
            if self._demo:
                body["note"] = CONSOLE_TEXTS.demo_signin
                body["people"] = self._demo_people()
            return _json(body, status=401)
        return _json(await self._listing(who))

    async def _listing(self, who: Commissioner) -> dict[str, Any]:
        roster = self._roster
        now = self._clock.now()
        groups = sorted(who.roles.member_of)
        async with self._services.database.sessions() as session:
            active = await console.requests_for_groups(session, groups, _ACTIVE)
            resolved = await console.resolved_since(session, groups, now - RESOLVED_WINDOW)
            shown = [*active, *resolved]
            logs = await console.events_for(session, [r.id for r in shown])
            people = await console.people_by_id(session, [r.person_id for r in shown])
        calendar = self._services.calendar.current
        soon = shanghai_date(now)
        for _ in range(SOON_WORKDAYS):
            soon = calendar.next_workday(soon)
        sections: dict[str, list[dict[str, Any]]] = {
            "overdue": [],
            "due_soon": [],
            "active": [],
            "resolved": [],
        }
        for item in active:
            overdue = requests.is_overdue(item, now)
            if overdue:
                section = "overdue"
            # A request waiting on the entrepreneur has its clock stopped: its due date will
            # move, so it is not "due soon" whatever it says now.
            elif item.status != Status.WAITING.value and item.due_date <= soon:
                section = "due_soon"
            else:
                section = "active"
            card = self._card(item, people.get(item.person_id), logs[item.id], overdue=overdue)
            sections[section].append(card)
        for item in resolved:
            card = self._card(item, people.get(item.person_id), logs[item.id], overdue=False)
            sections["resolved"].append(card)
        return {
            "person": {
                "name": who.person.name,
                "web_id": who.web_id,
                "roles": _role_labels(roster, who.roles),
            },
            "groups": [{"id": g, "name": _group_name(roster, g)} for g in groups],
            "reports": self._report_links(who),
            "all_groups": [{"id": g.id, "name": g.name} for g in roster.groups],
            "notice": "" if groups else CONSOLE_TEXTS.no_groups,
            "sections": sections,
            "soon_until": soon.isoformat(),
        }

    def _card(
        self,
        request: Request,
        entrepreneur: Entrepreneur | None,
        events: Sequence[RequestEvent],
        *,
        overdue: bool,
    ) -> dict[str, Any]:
        texts = CONSOLE_TEXTS
        roster = self._roster
        try:
            space = roster.space(request.space_id).name
        except KeyError:  # the space left the roster on a reload; its requests stay
            space = request.space_id
        return {
            "number": request.number,
            "group_id": request.group_id,
            "group": _group_name(roster, request.group_id),
            "category": categories.by_id(request.category).zh,
            "space": space,
            "entrepreneur": (entrepreneur.display_name if entrepreneur else None)
            or texts.anonymous,
            "phone": request.phone,
            "text": request.text,
            "status": request.status,
            "status_label": texts.status.get(request.status, request.status),
            "due_date": request.due_date.isoformat(),
            "provisional": request.provisional,
            "overdue": overdue,
            "assignee": request.assignee_name,
            "opened_at": _local(request.opened_at),
            "result": request.result,
            "events": [self._event(event) for event in events],
            "actions": [name for name, action in _MOVES.items() if _allowed(request, action)],
        }

    def _event(self, event: RequestEvent) -> dict[str, Any]:
        texts = CONSOLE_TEXTS
        data = event.data or {}
        detail = event.text or ""
        if event.kind == "opened":
            detail = ""  # the request's own text, shown above the timeline
        elif event.kind == "transferred":
            detail = texts.moved.format(
                old=_group_name(self._roster, str(data.get("from", ""))),
                new=_group_name(self._roster, str(data.get("to", ""))),
            )
        elif event.kind == "due_changed":
            detail = texts.moved.format(old=data.get("from", ""), new=data.get("to", ""))
        elif event.kind == "rated":
            detail = texts.stars.format(stars=data.get("stars", ""))
        return {
            "at": _local(event.at),
            "kind": event.kind,
            "what": texts.event.get(event.kind, event.kind),
            "who": self._actor(event.actor),
            "text": detail,
        }

    def _actor(self, actor: str) -> str:
        if actor == "entrepreneur":
            return CONSOLE_TEXTS.actor_entrepreneur
        if actor == "system":
            return CONSOLE_TEXTS.actor_system
        channel, _, user_id = actor.partition(":")
        person = self._roster.roles_of(channel, user_id).person
        return person.name if person else actor

    def _demo_people(self) -> list[dict[str, Any]]:
        roster = self._roster
        people = []
        for person in roster.people:
            web_id = person.id_on(Channel.WEB.value)
            if web_id:
                roles = roster.roles_of(Channel.WEB.value, web_id)
                people.append(
                    {"web_id": web_id, "name": person.name, "roles": _role_labels(roster, roles)}
                )
        return people

    # --- actions -------------------------------------------------------------------------

    async def _act(self, request: web.Request) -> web.StreamResponse:
        texts = CONSOLE_TEXTS
        who = await self._commissioner(request)
        payload = await _read_json(request)
        move, number, client_id = payload.get("action"), payload.get("number"), payload.get("id")
        if (
            not isinstance(move, str)
            or move not in _MOVES
            or not isinstance(number, str)
            or not _NUMBER.match(number)
            or not isinstance(client_id, str)
            or not _CLIENT_ID.match(client_id)
        ):
            raise _Refused(400, texts.bad_request)
        command = f"/{move} {number}"
        if move == "transfer":
            group = payload.get("group")
            if not isinstance(group, str) or not _GROUP_ID.match(group) or len(group) > 64:
                raise _Refused(400, texts.group_needed)
            command += f" {group}"
        elif move != "claim":
            text = payload.get("text")
            if not isinstance(text, str):
                raise _Refused(400, texts.bad_request)
            text = text.strip()
            if not text:
                raise _Refused(400, texts.text_needed)
            if len(text) > TEXT_LIMIT:
                raise _Refused(400, texts.text_too_long.format(length=len(text), limit=TEXT_LIMIT))
            command += f" {text}"
        message = IncomingMessage(
            sender=Sender(Channel.WEB, who.web_id, who.person.name, Language.ZH),
            chat_id=who.web_id,
            text=command,
            key=_dedup_key(who.web_id, client_id),
            received_at=self._clock.now(),
        )
        log.info("console: web:%s sends /%s %s", who.web_id, move, number)
        replies = await self._dispatcher.handle(message, inline=True)
        return _json({"messages": [{"text": reply.text} for reply in replies]})


def _allowed(request: Request, action: Action) -> bool:
    try:
        transition(Status(request.status), action, Role.MEMBER)
    except (IllegalTransition, ValueError):
        return False
    return True


def _account(web_id: str) -> str:
    return f"{Channel.WEB.value}:{web_id}"


def _dedup_key(web_id: str, client_id: str) -> str:
    key = f"console:{web_id}:{client_id}"
    # Inbound keys hold 200 characters; an unusually long roster id is shortened by its hash.
    return key if len(key) <= 200 else f"console:{console.digest(web_id)[:32]}:{client_id}"


def _group_name(roster: Roster, group_id: str) -> str:
    try:
        return roster.group(group_id).name
    except KeyError:  # the group left the roster on a reload
        return group_id


def _role_labels(roster: Roster, roles: Roles) -> list[str]:
    texts = CONSOLE_TEXTS
    labels = [
        texts.role_member.format(group=g.name) for g in roster.groups if g.id in roles.member_of
    ]
    labels += [
        texts.role_supervisor.format(district=d.name)
        for d in roster.districts
        if d.id in roles.supervisor_of
    ]
    if roles.is_admin:
        labels.append(texts.role_admin)
    return labels


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _token_refusal(check: console.TokenCheck) -> str:
    texts = CONSOLE_TEXTS
    if check.state is console.TokenState.VALID:
        return texts.not_in_roster  # a good link for someone the roster no longer lists
    return {
        console.TokenState.USED: texts.link_used,
        console.TokenState.EXPIRED: texts.link_expired,
    }.get(check.state, texts.link_unknown)


def _log_refusal(check: console.TokenCheck, token: str, how: str) -> None:
    # Never the token itself: the start of its hash finds its row in the table.
    reason = "not in roster" if check.state is console.TokenState.VALID else check.state.value
    fingerprint = console.digest(token)[:12] if token else "-"
    log.warning(
        "console sign-in link refused when %s: %s (token %s, for %s)",
        how,
        reason,
        fingerprint,
        check.person or "nobody",
    )


def _cookie(request: web.Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and _SECRET.match(value) else None


async def _read_json(request: web.Request) -> dict[str, Any]:
    texts = CONSOLE_TEXTS
    if request.content_type != "application/json":
        raise _Refused(415, texts.not_json)
    try:
        body = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        raise _Refused(413, texts.too_large) from None
    except BodyIncomplete as problem:
        log.info("console: request not read whole (%s)", problem)
        raise _Refused(400, texts.incomplete) from None
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, or more digits than int() takes
        raise _Refused(400, texts.bad_request) from None
    if not isinstance(payload, dict):
        raise _Refused(400, texts.bad_request)
    return payload


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=_SECURITY_HEADERS)


def _html_page(
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
    return web.Response(
        text=page, status=status, content_type="text/html", headers=_SECURITY_HEADERS
    )
