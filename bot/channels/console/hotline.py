"""The console's hotline desk (policy article 6): a member records a call or a desk visit.

``GET /console/api/hotline`` gives the form its choices: the maker spaces the member's groups
are on duty for today, the categories and the intake channels. ``POST /console/api/hotline``
checks the form, saying in plain words what is wrong, and sends the desk an
:class:`~bot.desk.commands.OpenForCaller` as the member's roster ``web`` account, through the
dispatcher's dedup like every console move: the desk checks the member is in the duty group of
the caller's space, numbers and dates the request, and the answer carries the number and the
due date for the member to read out.

The caller's phone number is personal data: it is stored on the request and shown to the duty
group, and never logged here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.channels.console.auth import Commissioner, ConsoleAuth, account
from bot.channels.console.http import Refused, guarded, json_response, read_json
from bot.clock import Clock
from bot.desk import policy
from bot.desk.commands import Member, OpenForCaller, Outcome
from bot.desk.service import execute
from bot.domain.categories import CATEGORIES
from bot.domain.events import EventKind
from bot.domain.workdays import shanghai_date
from bot.messages import (
    MAX_TEXT_LENGTH,
    Channel,
    IncomingMessage,
    Intake,
    Language,
    OutgoingMessage,
    Sender,
)
from bot.routing import Context, Dispatcher, InlinePolicy
from bot.texts.console import CONSOLE_TEXTS, HOTLINE_ZH
from handlers.basics import answer
from storage import console
from storage.models import Request

__all__ = ["CALLER_LIMIT", "HotlineDesk", "caller_card", "caller_event", "normal_phone"]

log = logging.getLogger(__name__)

CALLER_LIMIT = 32
"""Longest caller's name."""
_INTAKES = (Intake.HOTLINE, Intake.VISIT)
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})$")
_LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(?:-[0-9]{1,6})?$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def normal_phone(typed: str) -> str | None:
    """The phone number as stored, or ``None`` when it is neither a mobile's nor a landline's.

    A mobile number is kept as its eleven digits, a landline as typed, without spaces.
    """
    compact = re.sub(r"[\s()（）]", "", typed)
    mobile = _MOBILE.match(compact.replace("-", ""))
    if mobile:
        return mobile.group(1)
    return compact if _LANDLINE.match(compact) else None


def caller_event(kind: str, data: dict[str, object], what: str, detail: str) -> tuple[str, str]:
    """How an event of a request without a chat reads on its card: what, and its detail.

    Its opening was a call or a visit a member recorded; a reply, question or result reached
    the caller by phone or face to face ("已电话告知").
    """
    if kind == EventKind.OPENED:
        what = HOTLINE_ZH.recorded.get(str(data.get("intake")), what)
    told = HOTLINE_ZH.told.get(str(data.get("told")))
    return what, f"{detail}（{told}）" if told else detail


def caller_card(request: Request) -> dict[str, str]:
    """What a card says of a request taken by phone or at the desk: how it came in."""
    intake = Intake(request.channel)
    if intake.chat is not None:
        return {}
    return {"intake": intake.value, "intake_label": HOTLINE_ZH.intakes[intake.value]}


class HotlineDesk:
    """The hotline desk's part of the console."""

    def __init__(self, dispatcher: Dispatcher, clock: Clock, auth: ConsoleAuth) -> None:
        """Serve the desk for ``dispatcher``'s services, signed in through ``auth``."""
        self._dispatcher = dispatcher
        self._services = dispatcher.services
        self._clock = clock
        self._auth = auth

    def register(self, app: web.Application) -> None:
        """Add the desk's API to ``app``."""
        app.router.add_get("/console/api/hotline", guarded(self._form))
        app.router.add_post("/console/api/hotline", guarded(self._record))

    async def _member(self, request: web.Request) -> Commissioner:
        who = await self._auth.commissioner(request)
        if not policy.may_act(who.roles):
            raise Refused(403, HOTLINE_ZH.members_only)
        return who

    def _spaces(self, who: Commissioner) -> list[dict[str, str]]:
        """The maker spaces one of ``who``'s groups is on duty for today."""
        roster, today = self._services.roster.current, shanghai_date(self._clock.now())
        found = []
        for space in roster.spaces:
            group = roster.duty_group(space.id, today)
            if group.id in who.roles.member_of:
                found.append({"id": space.id, "name": space.name, "group": group.name})
        return found

    async def _form(self, request: web.Request) -> web.StreamResponse:
        texts = HOTLINE_ZH
        who = await self._member(request)
        spaces = self._spaces(who)
        return json_response(
            {
                "spaces": spaces,
                "categories": [{"id": c.id, "label": c.zh} for c in CATEGORIES],
                "intakes": [{"id": i.value, "label": texts.intakes[i.value]} for i in _INTAKES],
                "notice": "" if spaces else texts.no_spaces,
            }
        )

    async def _record(self, request: web.Request) -> web.StreamResponse:
        who = await self._member(request)
        payload = await read_json(request)
        client_id = payload.get("id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise Refused(400, CONSOLE_TEXTS.bad_request)  # not the page's doing
        command = self._command(payload)
        member = Member(account(who.web_id), who.person.name, who.roles, Language.ZH)
        done: list[Outcome] = []

        async def run(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
            outcome = await execute(context, member, command)
            done.append(outcome)
            return answer(message, outcome)

        message = IncomingMessage(
            sender=Sender(Channel.WEB, who.web_id, who.person.name, Language.ZH),
            chat_id=who.web_id,
            text="",
            key=f"hotline:{console.digest(who.web_id)[:32]}:{client_id}",
            received_at=self._clock.now(),
        )
        # Neither the caller's name nor their phone number goes into the log.
        log.info("console: web:%s records a %s request", who.web_id, command.intake.value)
        replies = await self._dispatcher.handle(message, inline=InlinePolicy(), handler=run)
        texts = [reply.text for reply in replies if reply.chat_id == who.web_id]
        if done and not done[0].done:
            raise Refused(403, "\n".join(texts))
        body: dict[str, Any] = {"messages": texts}
        if done and done[0].request is not None:
            # A resent form (same id) is answered with the same words, without the panel's parts.
            body["request"] = _taken(done[0].request, command)
        return json_response(body)

    def _command(self, payload: dict[str, Any]) -> OpenForCaller:
        """The form as a desk command, or the first thing wrong with it, in plain words."""
        texts = HOTLINE_ZH
        roster = self._services.roster.current
        fields = {
            key: value.strip() if isinstance(value, str) else ""
            for key in ("intake", "caller", "phone", "space", "category", "text")
            for value in (payload.get(key),)
        }
        if fields["intake"] not in {i.value for i in _INTAKES}:
            raise Refused(400, texts.intake_needed)
        if not fields["caller"]:
            raise Refused(400, texts.caller_needed)
        if len(fields["caller"]) > CALLER_LIMIT:
            raise Refused(400, texts.caller_too_long.format(limit=CALLER_LIMIT))
        if not fields["phone"]:
            raise Refused(400, texts.phone_needed)
        phone = normal_phone(fields["phone"])
        if phone is None:
            raise Refused(400, texts.phone_shape)
        if fields["space"] not in {s.id for s in roster.spaces}:
            raise Refused(400, texts.space_unknown)
        if fields["category"] not in {c.id for c in CATEGORIES}:
            raise Refused(400, texts.category_unknown)
        text, limit = fields["text"], MAX_TEXT_LENGTH
        if not text:
            raise Refused(400, texts.text_needed)
        if len(text) > limit:
            raise Refused(400, texts.text_too_long.format(length=len(text), limit=limit))
        return OpenForCaller(
            Intake(fields["intake"]),
            caller=fields["caller"],
            phone=phone,
            space_id=fields["space"],
            category_id=fields["category"],
            text=text,
        )


def _taken(request: Request, command: OpenForCaller) -> dict[str, Any]:
    """What the confirmation panel shows, to read out to the caller."""
    return {
        "number": request.number,
        "due_date": request.due_date.isoformat(),
        "provisional": request.provisional,
        "caller": command.caller,
        "intake": HOTLINE_ZH.intakes[command.intake.value],
    }
