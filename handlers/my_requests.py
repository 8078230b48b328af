"""The entrepreneur's side of a request in chat: see them, follow up, confirm, reopen, rate.

An entrepreneur only ever sees and touches their own requests: every lookup goes through the
person the message comes from, and the desk checks the request is theirs before any move.

With a request being worked on, text the FAQ does not answer outright joins it, unless it looks
like a new matter (:func:`new_matter`): then it is held in the conversation and the
entrepreneur chooses [补充到工单 …] or [作为新工单提交].
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from enum import Enum

from bot.desk import policy
from bot.desk.commands import Confirm, FollowUp, Rate, Reopen
from bot.desk.compose import due_text
from bot.desk.service import execute
from bot.domain import categories
from bot.domain.lifecycle import BEING_WORKED_ON, Status
from bot.messages import Button, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.desk import desk_texts_for
from handlers.basics import answer, as_the_group_reads, entrepreneur_of, person_of, reply
from handlers.intake import HELD, begin
from knowledge.matcher import Band
from knowledge.service import KnowledgeBase
from storage import conversations, requests
from storage.conversations import ConversationState
from storage.models import Request

__all__ = ["Taken", "new_matter", "request_move", "router", "taken_as"]

log = logging.getLogger(__name__)

router = Router("my-requests")

_MOVES: dict[str, type[Confirm | Reopen]] = {"confirm": Confirm, "reopen": Reopen}
_STARS = {"1", "2", "3", "4", "5"}
HELD_ADD = "held:add"
HELD_NEW = "held:new"
_QUESTION = re.compile(
    r"[?？]|吗|什么|怎么|怎样|如何|哪|多少|多久|是否|能否|可否|能不能|可不可以|有没有"
    r"|^\s*(what|how|when|where|which|who|why|can|could|is|are|do|does|should|may)\b",
    re.IGNORECASE,
)


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
    number = parts[2]
    who = await entrepreneur_of(context, message)
    move = request_move(message.choice)
    if move is not None:
        return answer(message, await execute(context, who, move))
    # A press the bot never offered: whose request it names is still nobody else's business.
    request = await requests.by_number(context.session, number)
    if request is None or not policy.owns(who.person, request):
        log.warning("%s asked for request %s, not theirs", message.sender.user_id, number)
        return reply(message, texts.not_yours.format(number=number))
    return reply(message, texts.unknown_number.format(number=number))


def request_move(choice: str) -> Confirm | Reopen | Rate | None:
    """The move a ``req:<action>:<number>[:<stars>]`` button asks for; ``None``: none."""
    parts = choice.split(":")
    if len(parts) < 3:
        return None
    verb, number = parts[1], parts[2]
    if verb == "rate" and len(parts) == 4 and parts[3] in _STARS:
        return Rate(number, int(parts[3]))
    move = _MOVES.get(verb)
    return None if move is None else move(number)


@router.message()
async def follow_up(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage] | None:
    """Text from someone with an active request joins it, unless it is another matter.

    The FAQ answers what it answers outright; text that looks like a new matter is held for
    the entrepreneur's choice. A request waiting on the entrepreneur takes any text as the
    information asked for and restarts the deadline clock.
    """
    if _is_member(context, message):
        return None  # a commissioner's text is theirs to route (handlers.commissioners)
    request = await requests.active_for_account(
        context.session, message.channel.value, message.sender.user_id
    )
    if request is None:
        return None
    taken = taken_as(message, request, context.knowledge.current)
    if taken is Taken.QUESTION:
        return None  # a policy question: the FAQ answers it
    if taken is Taken.NEW_MATTER:
        return await _hold(message, context, request)
    who = await entrepreneur_of(context, message)
    command = FollowUp(request, as_the_group_reads(message, message.text), message.attachments)
    return answer(message, await execute(context, who, command))


class Taken(Enum):
    """What an entrepreneur's text is to their request being worked on."""

    FOLLOW_UP = "follow-up"
    """It joins the request."""
    QUESTION = "question"
    """A policy question the FAQ answers outright."""
    NEW_MATTER = "new matter"
    """Another matter: held for the entrepreneur's choice."""


def taken_as(message: IncomingMessage, request: Request, base: KnowledgeBase) -> Taken:
    """What ``message`` is to ``request``, the sender's request being worked on.

    A request waiting on the entrepreneur takes any text as the information asked for.
    The quick lane asks the same (:mod:`handlers.quick_moves`).
    """
    if request.status != Status.WAITING:
        if base.match(message.text).band is Band.ANSWER:
            return Taken.QUESTION
        if message.text and not message.attachments and new_matter(message.text, request):
            return Taken.NEW_MATTER
    return Taken.FOLLOW_UP


def new_matter(text: str, request: Request) -> bool:
    """Whether ``text``, sent while ``request`` is worked on, looks like a matter of its own.

    The rule: text whose words name a kind of matter (:func:`categories.guess`) is the
    request's own when that is the request's kind, and a new matter otherwise; text naming no
    kind is a new matter when it is shaped as a question (a question mark or word: 吗, 什么,
    怎么, 多少…; "how", "what"… in English). A statement naming no other kind ("补充：是有限
    责任公司") is a detail for the request.
    """
    guessed = categories.guess(text)
    if guessed.id != "other":
        return guessed.id != request.category
    return _QUESTION.search(text) is not None


async def _hold(
    message: IncomingMessage, context: Context, request: Request
) -> list[OutgoingMessage]:
    """Keep the text until the entrepreneur says where it goes."""
    texts = desk_texts_for(message.language)
    await conversations.save(
        context.session,
        message.channel.value,
        message.sender.user_id,
        ConversationState(
            HELD,
            "choose",
            {"text": as_the_group_reads(message, message.text), "number": request.number},
        ),
        context.now,
    )
    buttons = (
        Button(texts.add_to_request_button.format(number=request.number), HELD_ADD),
        Button(texts.new_request_button, HELD_NEW),
    )
    offer = texts.new_question_offer.format(number=request.number)
    return [OutgoingMessage(message.chat_id, message.channel, offer, buttons)]


@router.choice("held:")
async def held_choice(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """[补充到工单 …] or [作为新工单提交] under a held question; an old press changes nothing."""
    channel, user = message.channel.value, message.sender.user_id
    state = await conversations.load(context.session, channel, user)
    if state is None or state.kind != HELD or message.choice not in (HELD_ADD, HELD_NEW):
        return reply(message, desk_texts_for(message.language).intake_stale)
    await conversations.clear(context.session, channel, user)
    text = str(state.data["text"])
    if message.choice == HELD_NEW:
        return await begin(message, context, text)
    who = await entrepreneur_of(context, message)
    request = await requests.by_number(context.session, str(state.data["number"]))
    if request is None or not policy.owns(who.person, request):  # gone since: nothing to add to
        return reply(message, desk_texts_for(message.language).intake_stale)
    return answer(message, await execute(context, who, FollowUp(request, text, ())))


def _is_member(context: Context, message: IncomingMessage) -> bool:
    return bool(context.roster.roles_for(message.sender).member_of)
