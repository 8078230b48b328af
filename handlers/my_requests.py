"""The entrepreneur's side of a request: see them, follow up, confirm, reopen, rate.

An entrepreneur only ever sees and touches their own requests: every lookup goes through the
person the message comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.desk.compose import (
    GROUP_TEXTS,
    card_update,
    due_text,
    person_of,
    recompute_due,
    resolution_buttons,
    to_group,
)
from bot.domain import categories
from bot.domain.lifecycle import (
    REOPEN_WORKDAYS,
    Action,
    IllegalTransition,
    Role,
    Status,
    transition,
)
from bot.logs import concerning
from bot.messages import IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import desk_texts_for
from handlers.basics import reply
from knowledge.matcher import Band
from storage import requests
from storage.models import Person, Request

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("my-requests")

_ACTIONS = {"confirm": Action.CONFIRM, "reopen": Action.REOPEN}


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
                provisional=note if request.status in ("open", "claimed", "waiting") else "",
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
    person = await person_of(context, message)
    request = await requests.by_number(context.session, number, lock=True)
    concerning(request.number if request is not None else None)
    if request is None or request.person_id != person.id:
        log.warning("%s asked for request %s, not theirs", message.sender.user_id, number)
        return reply(message, texts.not_yours.format(number=number))
    if verb == "rate" and len(parts) == 4 and parts[3] in {"1", "2", "3", "4", "5"}:
        return await _rate(message, context, request, int(parts[3]))
    action = _ACTIONS.get(verb)
    if action is None:
        return reply(message, texts.unknown_number.format(number=number))
    try:
        status = transition(Status(request.status), action, Role.ENTREPRENEUR)
    except IllegalTransition as refusal:
        log.info("refused: request %s: %s", number, refusal)
        return reply(
            message,
            texts.not_allowed.format(number=number, status=texts.status[request.status]),
        )
    if action is Action.REOPEN:
        return await _reopen(message, context, request, status)
    request.status = status.value
    request.closed_at = context.now
    requests.add_event(
        context.session, request, kind="confirmed", actor="entrepreneur", at=context.now
    )
    return [
        *reply(message, texts.confirmed.format(number=number)),
        OutgoingMessage(
            message.chat_id,
            message.channel,
            texts.rate_prompt,
            resolution_buttons(texts, request)[2:],
        ),
        *await card_update(context, request),
    ]


async def _reopen(
    message: IncomingMessage, context: Context, request: Request, status: Status
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    assert request.resolved_at is not None
    elapsed = context.calendar.working_days_between(request.resolved_at, context.now)
    if elapsed > REOPEN_WORKDAYS:
        return list(
            reply(
                message, texts.reopen_too_late.format(number=request.number, days=REOPEN_WORKDAYS)
            )
        )
    # The days between the result and the reopening were not the commissioners' to count.
    requests.open_pause(context.session, request, request.resolved_at, until=context.now)
    request.status = status.value
    request.resolved_at = None
    requests.add_event(
        context.session, request, kind="reopened", actor="entrepreneur", at=context.now
    )
    replies = list(reply(message, texts.reopened.format(number=request.number)))
    replies += await recompute_due(context, request)
    notice = GROUP_TEXTS.reopened.format(number=request.number)
    replies += to_group(
        context,
        request,
        GROUP_TEXTS.card_follow_up.format(number=request.number, text=notice),
    )
    replies += await card_update(context, request)
    return replies


async def _rate(
    message: IncomingMessage, context: Context, request: Request, stars: int
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    try:
        transition(Status(request.status), Action.RATE, Role.ENTREPRENEUR)
    except IllegalTransition as refusal:
        log.info("refused: request %s: %s", request.number, refusal)
        return list(
            reply(
                message,
                texts.not_allowed.format(
                    number=request.number, status=texts.status[request.status]
                ),
            )
        )
    request.satisfaction = stars
    requests.add_event(
        context.session,
        request,
        kind="rated",
        actor="entrepreneur",
        at=context.now,
        data={"stars": stars},
    )
    return list(reply(message, texts.rated.format(stars=stars)))


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
    if request.status != Status.WAITING.value:
        result = context.knowledge.current.match(message.text)
        if result.band is Band.ANSWER:
            return None  # a policy question: the FAQ answers it
    return await _join(message, context, await person_of(context, message), request)


def _is_member(context: Context, message: IncomingMessage) -> bool:
    return bool(context.roster.roles_for(message.sender).member_of)


async def _join(
    message: IncomingMessage, context: Context, person: Person, request: Request
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    status = transition(Status(request.status), Action.FOLLOW_UP, Role.ENTREPRENEUR)
    replies: list[OutgoingMessage] = []
    requests.add_event(
        context.session,
        request,
        kind="follow_up",
        actor="entrepreneur",
        at=context.now,
        text=message.text,
    )
    if request.status == Status.WAITING.value:
        await requests.end_pause(context.session, request, context.now)
        request.status = status.value
        replies += await recompute_due(context, request)
        replies += await card_update(context, request)
    replies += to_group(
        context,
        request,
        GROUP_TEXTS.card_follow_up.format(number=request.number, text=message.text),
        attachments=message.attachments,
    )
    return [*reply(message, texts.follow_up_added.format(number=request.number)), *replies]
