"""The commissioners' side in chat: list, claim, reply, ask for information, resolve, transfer.

The moves arrive as commands (``/reply 2026-0001 text``), as a reply to the request's card in
the group chat, as ``#2026-0001 text`` (WeChat, WeCom), and as the buttons under a card; on
WeCom, where each member has the card in a chat of their own, the message after a card's "ask",
"resolve" or "reply" press is that move's text. This module
reads them into desk commands; the desk (:mod:`bot.desk`) checks who may make them and makes them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.desk import members, policy
from bot.desk.commands import MEMBER_MOVES, Ask, Claim, MemberMove, Reply, Transfer
from bot.desk.compose import due_text
from bot.desk.service import execute
from bot.domain import categories
from bot.domain.lifecycle import BEING_WORKED_ON
from bot.messages import Button, Channel, Confirmation, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.desk import desk_texts_for
from handlers.basics import answer, member_of, reply
from storage import conversations, requests
from storage.conversations import ConversationState

__all__ = ["NUMBERED_REPLY", "router"]

log = logging.getLogger(__name__)

router = Router("commissioners")

NUMBERED_REPLY = re.compile(r"^#(\d{4}-\d{4,})\s+(.+)$", re.DOTALL)
"""``#2026-0001 text``: a member's reply to a request, from anywhere."""
_QUOTED_CARD = re.compile(r"^📋 \S+ (\d{4}-\d{4,})")
"""The first line of a card as quoted by the platform: ``📋 工单 2026-0001｜…``."""
CARD_MOVE = "card-move"
"""Conversation kind: a member pressed "ask" or "resolve" and owes the text, by replying."""
CARD_MOVE_TTL = timedelta(hours=1)
ONE_BY_ONE = frozenset({Channel.WECOM})
"""Channels where each member gets the card in a chat of their own with the bot (WeCom): no
reply under the card, so "reply" is a button, and after a press the next message is the text."""


@router.command("open")
async def open_list(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The open requests of the sender's groups, overdue first."""
    texts = desk_texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    if not any(g.chat.get(message.channel.value) == message.chat_id for g in context.roster.groups):
        # Admins find a new group's id here, to put it in the roster.
        log.info("/open in %s chat %s, which no group has", message.channel, message.chat_id)
    if not policy.may_act(roles):
        return answer(message, members.refusal(member_of(message, context), texts.member_usage))
    here = {
        g.id
        for g in context.roster.groups
        if g.chat.get(message.channel.value) == message.chat_id and g.id in roles.member_of
    }
    lines: list[str] = []
    for group_id in sorted(here or roles.member_of):
        group = context.roster.group(group_id)
        found = await requests.for_group(context.session, group_id, BEING_WORKED_ON)
        if not found:
            lines.append(texts.open_list_empty.format(group=group.name))
            continue
        lines.append(texts.open_list_head.format(group=group.name))
        for request in found:  # earliest deadline first: the overdue ones lead
            shown, note = due_text(texts, request)
            overdue = requests.is_overdue(request, context.now)
            lines.append(
                texts.request_line.format(
                    number=request.number,
                    category=categories.by_id(request.category).label(message.language),
                    status=texts.status[request.status],
                    due=shown,
                    provisional=note,
                    overdue=texts.overdue_mark if overdue else "",
                )
            )
    return reply(message, "\n".join(lines))


@router.command(*MEMBER_MOVES)
async def act(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """``/claim N``, ``/reply N text``, ``/ask N text``, ``/resolve N text``, ``/transfer N g``."""
    assert message.command is not None
    number, _, text = message.command_args.partition(" ")
    return await _act(message, context, MEMBER_MOVES[message.command], number.strip(), text.strip())


@router.choice("act:")
async def act_button(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """A card button: ``act:<verb>:<number>``, or ``act:transfer:<number>:<group>``.

    "Claim" acts at once. "Ask" and "resolve" need words, so the bot asks the member to reply
    to the card and takes their next reply as that move. "Transfer" offers the other groups.
    """
    assert message.choice is not None
    _, verb, number, target = [*message.choice.split(":", 3), "", "", ""][:4]
    move = MEMBER_MOVES.get(verb)
    one_by_one = message.channel in ONE_BY_ONE
    if move is None or (move is Reply and not one_by_one) or not number:
        return reply(message, desk_texts_for(message.language).member_usage)
    if move is Claim or (move is Transfer and target):
        return await _act(message, context, move, number, target)
    checked = await members.check(context, member_of(message, context), move.action, number)
    if not isinstance(checked, tuple):
        return answer(message, checked)
    request, _status = checked
    texts = desk_texts_for(message.language)
    if move is Transfer:
        choices = tuple(
            Button(g.name, f"act:transfer:{number}:{g.id}")
            for g in context.roster.groups
            if g.id != request.group_id
        )
        return [
            OutgoingMessage(
                message.chat_id,
                message.channel,
                texts.transfer_prompt.format(number=number),
                buttons=choices,
            )
        ]
    await conversations.save(
        context.session,
        message.channel.value,
        message.sender.user_id,
        ConversationState(CARD_MOVE, verb, {"number": number, "at": context.now.isoformat()}),
        context.now,
    )
    if one_by_one:
        prompt = texts.next_message_prompt[verb]
    else:
        prompt = texts.ask_prompt if move is Ask else texts.resolve_prompt
    return reply(message, prompt.format(name=member_of(message, context).name, number=number))


@router.message()
async def reply_in_chat(
    message: IncomingMessage, context: Context
) -> Sequence[OutgoingMessage] | None:
    """A reply to a request's card, or ``#number text``, answers that request.

    After the member pressed "ask" or "resolve" on the card, their reply is that move.
    """
    if message.reply_to is not None:
        request = await requests.request_for_card(
            context.session, message.channel.value, message.chat_id, message.reply_to
        )
        # A card the sender delivered but could not record (the process died in between) is
        # still a card: the platform quotes it. Who may act is checked the same way after.
        quoted = _QUOTED_CARD.match(message.quoted or "")
        number = request.number if request is not None else quoted and quoted.group(1)
        if number:
            move = await _pending_move(message, context, number)
            return await _act(message, context, move, number, message.text)
    found = NUMBERED_REPLY.match(message.text)
    if found:
        return await _act(message, context, Reply, found.group(1), found.group(2).strip())
    if message.channel in ONE_BY_ONE and not message.command:
        owed = await _owed_move(message, context)
        if owed is not None:
            move, number = owed
            return await _act(message, context, move, number, message.text)
    return None


async def _owed_move(
    message: IncomingMessage, context: Context
) -> tuple[type[MemberMove], str] | None:
    """The move, and its request, the member pressed for within the hour; spent by this message.

    Where the bot messages members one by one (WeCom), a card has no thread to reply under:
    the member's next message after the press is the move's words. A picture without words
    before them is a reply on the request, and leaves the press waiting.
    """
    channel, user = message.channel.value, message.sender.user_id
    state = await conversations.load(context.session, channel, user)
    if state is None or state.kind != CARD_MOVE:
        return None
    pressed = datetime.fromisoformat(str(state.data.get("at")))
    move = MEMBER_MOVES.get(state.step)
    number = str(state.data.get("number", ""))
    if move is None or context.now - pressed > CARD_MOVE_TTL:
        await conversations.clear(context.session, channel, user)
        return None  # an old press, long forgotten: the message is what it says
    if move is not Reply and not message.text and message.attachments:
        # A WeCom message is words or a picture, never both: the picture goes on as a reply,
        # and the press still waits for its words.
        return Reply, number
    await conversations.clear(context.session, channel, user)
    return move, number


async def _pending_move(
    message: IncomingMessage, context: Context, number: str
) -> type[MemberMove]:
    """The move the member owes words for on request ``number``; a plain reply otherwise."""
    channel, user = message.channel.value, message.sender.user_id
    state = await conversations.load(context.session, channel, user)
    if state is None or state.kind != CARD_MOVE or state.data.get("number") != number:
        return Reply
    await conversations.clear(context.session, channel, user)
    pressed = datetime.fromisoformat(str(state.data.get("at")))
    if context.now - pressed > CARD_MOVE_TTL:
        return Reply  # an old press, long forgotten: the reply is just a reply
    return MEMBER_MOVES.get(state.step, Reply)


async def _act(
    message: IncomingMessage,
    context: Context,
    move: type[MemberMove],
    number: str,
    text: str,
) -> list[OutgoingMessage]:
    confirm = None
    if message.message_id is not None:
        confirm = Confirmation(message.channel, message.chat_id, message.message_id)
    if move is Transfer:
        # ``/transfer N group [reason]``; a button carries only the group.
        target, _, reason = text.partition(" ")
        command: MemberMove = Transfer(
            number, target, message.attachments, confirm, reason=reason.strip()
        )
    else:
        command = move(number, text, message.attachments, confirm)
    return answer(message, await execute(context, member_of(message, context), command))
