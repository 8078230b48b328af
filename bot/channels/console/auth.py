"""Who is at the console: one-time sign-in links, session cookies, the roster person behind them.

A commissioner signs in with a one-time link (``python -m bot console link WEB_ID``), or, on the
demo roster, by picking a person. Sessions are cookies of their own (``md_console``, HttpOnly,
SameSite=Strict, path ``/console``); only their hash is stored. The person behind a session is
looked up in the roster on every request, so someone removed from the roster loses access at
the next reload.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from bot.channels.console.http import (
    SECRET,
    Refused,
    guarded,
    html_page,
    json_response,
    read_json,
)
from bot.clock import Clock
from bot.domain.roster.model import Person, Roles, Roster
from bot.messages import Channel
from bot.reloadable import Reloadable
from bot.texts.console import CONSOLE_TEXTS
from storage import console
from storage.database import Database

__all__ = ["COOKIE", "Commissioner", "ConsoleAuth", "account", "issue_link"]

log = logging.getLogger(__name__)

COOKIE = "md_console"


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
        token = await console.issue_token(session, account(web_id), now, lifetime)
    log.info("console sign-in link issued for web:%s, valid until %s", web_id, now + lifetime)
    # The token travels in the fragment, which browsers never send: it stays out of proxies'
    # access logs while it is still unspent. signin.js reads it.
    return person, f"{base_url.rstrip('/')}/console/signin#token={token}"


class ConsoleAuth:
    """The sign-in pages and API, and the signed-in person of every console request."""

    def __init__(
        self,
        database: Database,
        roster: Reloadable[Roster],
        clock: Clock,
        *,
        demo: bool,
        https: bool,
    ) -> None:
        """Sign people in to the console.

        Args:
            database: Where tokens and sessions are kept (their hashes).
            roster: Who may sign in, read at every request.
            clock: The bot's clock.
            demo: The bot runs on the demo roster: anyone may sign in as any person in it.
            https: Cookies are marked Secure (the operator's public address is https).
        """
        self._database = database
        self._rosters = roster
        self._clock = clock
        self._demo = demo
        self._https = https

    def register(self, app: web.Application) -> None:
        """Add the sign-in page and API to ``app``."""
        app.router.add_get("/console/signin", self._signin_page)
        app.router.add_post("/console/api/signin-check", guarded(self._signin_check))
        app.router.add_post("/console/api/signin", guarded(self._signin))
        app.router.add_post("/console/api/demo-signin", guarded(self._demo_signin))
        app.router.add_post("/console/api/signout", guarded(self._signout))

    @property
    def _roster(self) -> Roster:
        return self._rosters.current

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
                return html_page(texts.link_title, _token_refusal(check), status=403)
            prompt, hidden = texts.link_prompt.format(name=person.name), ""
        else:
            prompt, hidden = texts.link_checking, " hidden"
        body = (
            f'<p class="prompt" id="prompt">{html.escape(prompt)}</p>'
            f'<p><button type="button" id="redeem"{hidden}>'
            f"{html.escape(texts.signin_button)}</button></p>"
            '<p id="problem" class="problem" role="alert"></p>'
        )
        return html_page(texts.title, body, raw=True, script="/console/static/signin.js")

    async def _signin_check(self, request: web.Request) -> web.StreamResponse:
        """Whose link this is, for the sign-in page to greet them; spends nothing."""
        payload = await read_json(request)
        token = payload.get("token")
        token = token if isinstance(token, str) else ""
        check, person = await self._check_link(token)
        if person is None:
            _log_refusal(check, token, "opened")
            raise Refused(403, _token_refusal(check))
        return json_response({"prompt": CONSOLE_TEXTS.link_prompt.format(name=person.name)})

    async def _check_link(self, token: str) -> tuple[console.TokenCheck, Person | None]:
        """The token's state, and its roster person when it can sign in."""
        if not SECRET.match(token):
            return console.TokenCheck(console.TokenState.UNKNOWN), None
        async with self._database.sessions() as session:
            check = await console.check_token(session, token, self._clock.now())
        person = self._person_for(check.person)
        return check, person if check.state is console.TokenState.VALID else None

    # --- sign-in and sign-out ------------------------------------------------------------

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        texts = CONSOLE_TEXTS
        payload = await read_json(request)
        token = payload.get("token")
        if not isinstance(token, str) or not SECRET.match(token):
            _log_refusal(console.TokenCheck(console.TokenState.UNKNOWN), "", "posted")
            raise Refused(403, texts.link_unknown)
        now = self._clock.now()
        async with self._database.sessions.begin() as session:
            check = await console.redeem_token(session, token, now)
            person = self._person_for(check.person)
            if check.state is not console.TokenState.VALID or person is None:
                # Raised inside the transaction: a link of someone no longer in the roster
                # stays unspent, and nothing else was written.
                _log_refusal(check, token, "posted")
                raise Refused(403, _token_refusal(check))
            await console.forget_expired(session, now)
            cookie = await console.open_session(session, str(check.person), now)
        log.info("console: %s signed in with a link", check.person)
        return self._signed_in(request, cookie)

    async def _demo_signin(self, request: web.Request) -> web.StreamResponse:
        if not self._demo:
            raise web.HTTPNotFound()
        payload = await read_json(request)
        web_id = payload.get("web_id")
        if not isinstance(web_id, str) or len(web_id) > 128:
            raise Refused(400, CONSOLE_TEXTS.bad_request)
        if self._roster.roles_of(Channel.WEB.value, web_id).person is None:
            raise Refused(403, CONSOLE_TEXTS.not_in_roster)
        now = self._clock.now()
        async with self._database.sessions.begin() as session:
            await console.forget_expired(session, now)
            cookie = await console.open_session(session, account(web_id), now)
        log.info("console: web:%s signed in (demo roster)", web_id)
        return self._signed_in(request, cookie)

    def _signed_in(self, request: web.Request, cookie: str) -> web.Response:
        response = json_response({"ok": True})
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
        await read_json(request)
        cookie = _cookie(request)
        if cookie:
            async with self._database.sessions.begin() as session:
                await console.close_session(session, cookie)
        response = json_response({"ok": True, "message": CONSOLE_TEXTS.signed_out})
        response.del_cookie(COOKIE, path="/console")
        return response

    async def commissioner(self, request: web.Request) -> Commissioner:
        """The signed-in person, from the roster as it is now; refused (401) otherwise."""
        cookie = _cookie(request)
        account = None
        if cookie:
            async with self._database.sessions() as session:
                account = await console.session_person(session, cookie, self._clock.now())
        channel, _, web_id = (account or "").partition(":")
        roles = self._roster.roles_of(channel, web_id)
        if account is None or channel != Channel.WEB.value or roles.person is None:
            if account is not None:
                log.warning("console: %s is no longer in the roster; access refused", account)
            text = CONSOLE_TEXTS.not_in_roster if account else CONSOLE_TEXTS.signin_needed
            raise Refused(401, text)
        return Commissioner(web_id, roles.person, roles)

    def _person_for(self, account: str | None) -> Person | None:
        channel, _, user_id = (account or "").partition(":")
        return self._roster.roles_of(channel, user_id).person if account else None


def account(web_id: str) -> str:
    """How the log and the sessions name a console person: their ``web`` account."""
    return f"{Channel.WEB.value}:{web_id}"


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
    return value if value and SECRET.match(value) else None
