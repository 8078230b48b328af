"""The entrepreneur's side of a request in chat: see them, follow up, confirm, reopen, rate.

An entrepreneur only ever sees and touches their own requests: every lookup goes through the
person the message comes from, and the desk checks the request is theirs before any move.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.desk import policy
from bot.desk.commands import Confirm, FollowUp, Rate, Reopen
from bot.desk.compose import due_text
from bot.desk.service import execute
from bot.domain import categories
from bot.domain.lifecycle import BEING_WORKED_ON, Status
from bot.messages import IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.desk import desk_texts_for
from handlers.basics import answer, entrepreneur_of, person_of, reply
from knowledge.matcher import Band
from storage import requests

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("my-requests")

_MOVES: dict[str, type[Confirm | Reopen]] = {"confirm": Confirm, "reopen": Reopen}
_STARS = {"1", "2", "3", "4", "5"}


@router.command("tickets")
async def my_requests(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """List the sender's requests with status and due date, overdue ones marked."""
    texts = desk_texts_for(message.language)
    person = await person_of(context, message)
    mine = await requests.for_person(context.session, person.id)
    if not mine:
        return reply(message, texts.no_requests)
    lines = [texts.my_requests_head]
    for request in mine:
        shown, note = due_text(texts, request)
        lines.append(
            texts.request_line.format(
                number=request.number,
                category=categories.by_id(request.category).label(message.language),
                status=texts.status[request.status],
                due=shown,
                provisional=note if request.status in BEING_WORKED_ON else "",
                overdue=texts.overdue_mark if requests.is_overdue(request, context.now) else "",
            )
        )
    return reply(message, "\n".join(lines))


@router.choice("req:")
async def request_button(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Confirm, reopen or rate a resolved request: ``req:<action>:<number>[:<stars>]``."""
    assert message.choice is not None
    texts = desk_texts_for(message.language)
    parts = message.choice.split(":")
    if len(parts) < 3:
        return reply(message, texts.unknown_number.format(number="?"))
    verb, number = parts[1], parts[2]
    who = await entrepreneur_of(context, message)
    if verb == "rate" and len(parts) == 4 and parts[3] in _STARS:
        return answer(message, await execute(context, who, Rate(number, int(parts[3]))))
    move = _MOVES.get(verb)
    if move is not None:
        return answer(message, await execute(context, who, move(number)))
    # A press the bot never offered: whose request it names is still nobody else's business.
    request = await requests.by_number(context.session, number)
    if request is None or not policy.owns(who.person, request):
        log.warning("%s asked for request %s, not theirs", message.sender.user_id, number)
        return reply(message, texts.not_yours.format(number=number))
    return reply(message, texts.unknown_number.format(number=number))


@router.message()
async def follow_up(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage] | None:
    """Text from someone with an active request joins it, unless the FAQ answers it outright.

    A request waiting on the entrepreneur takes the text as the information asked for and
    restarts the deadline clock.
    """
    if _is_member(context, message):
        return None  # a commissioner's text is theirs to route (handlers.commissioners)
    request = await requests.active_for_account(
        context.session, message.channel.value, message.sender.user_id
    )
    if request is None:
        return None
    if request.status != Status.WAITING:
        result = context.knowledge.current.match(message.text)
        if result.band is Band.ANSWER:
            return None  # a policy question: the FAQ answers it
    who = await entrepreneur_of(context, message)
    command = FollowUp(request, message.text, message.attachments)
    return answer(message, await execute(context, who, command))


def _is_member(context: Context, message: IncomingMessage) -> bool:
    return bool(context.roster.roles_for(message.sender).member_of)
