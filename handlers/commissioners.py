"""The commissioners' side: list, claim, reply, ask for information, resolve, transfer.

Who may act comes from the roster only, for a sender the channel vouched for: a member of the
duty group that holds the request. Anyone else is refused, the refusal is logged, and nothing
changes. A request number tells a refused sender nothing: someone in no group is refused before
any lookup, and a member hears the same for another group's request as for none.

The same moves arrive as commands (``/reply 2026-0001 text``), as a reply to the request's card
in the group chat, as ``#2026-0001 text`` (WeChat), and from the web console, which sends the
same commands.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.desk.compose import (
    actor_of,
    card_update,
    due_text,
    post_card,
    recompute_due,
    resolution_buttons,
    to_entrepreneur,
    to_group,
)
from bot.domain import categories
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.logs import concerning
from bot.messages import Button, Confirmation, IncomingMessage, Language, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import GROUP_TEXTS, DeskTexts, desk_texts_for
from handlers.basics import refusal, reply
from storage import conversations, requests
from storage.conversations import ConversationState
from storage.models import Person, Request

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("commissioners")

_HASH_REPLY = re.compile(r"^#(\d{4}-\d{4,})\s+(.+)$", re.DOTALL)
_QUOTED_CARD = re.compile(r"^📋 \S+ (\d{4}-\d{4,})")
"""The first line of a card as quoted by the platform: ``📋 工单 2026-0001｜…``."""
_OPEN_STATUSES = ("open", "claimed", "waiting")
CARD_MOVE = "card-move"
"""Conversation kind: a member pressed "ask" or "resolve" and owes the text, by replying."""
CARD_MOVE_TTL = timedelta(hours=1)
_NEEDS_TEXT = (Action.REPLY, Action.ASK, Action.RESOLVE, Action.TRANSFER)
_VERB = {
    "claim": Action.CLAIM,
    "reply": Action.REPLY,
    "ask": Action.ASK,
    "resolve": Action.RESOLVE,
    "transfer": Action.TRANSFER,
}
_DONE = {
    Action.CLAIM: ("已认领", "claimed"),
    Action.REPLY: ("已回复创业者", "replied"),
    Action.ASK: ("已请创业者补充，计时暂停", "asked the entrepreneur; the clock pauses"),
    Action.RESOLVE: ("已办结", "resolved"),
    Action.TRANSFER: ("已转交", "transferred"),
}


@router.command("open")
async def open_list(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The open requests of the sender's groups, overdue first."""
    texts = desk_texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    if not any(g.chat.get(message.channel.value) == message.chat_id for g in context.roster.groups):
        # Admins find a new group's id here, to put it in the roster.
        log.info("/open in %s chat %s, which no group has", message.channel, message.chat_id)
    if not roles.member_of:
        return refusal(message, roles, texts.member_usage)
    here = {
        g.id
        for g in context.roster.groups
        if g.chat.get(message.channel.value) == message.chat_id and g.id in roles.member_of
    }
    lines: list[str] = []
    for group_id in sorted(here or roles.member_of):
        group = context.roster.group(group_id)
        found = await requests.for_group(context.session, group_id, _OPEN_STATUSES)
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


@router.command(*_VERB)
async def act(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """``/claim N``, ``/reply N text``, ``/ask N text``, ``/resolve N text``, ``/transfer N g``."""
    assert message.command is not None
    action = _VERB[message.command]
    number, _, text = message.command_args.partition(" ")
    return await _act(message, context, action, number.strip(), text.strip())


@router.choice("act:")
async def act_button(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """A card button: ``act:<verb>:<number>``, or ``act:transfer:<number>:<group>``.

    "Claim" acts at once. "Ask" and "resolve" need words, so the bot asks the member to reply
    to the card and takes their next reply as that move. "Transfer" offers the other groups.
    """
    assert message.choice is not None
    _, verb, number, target = [*message.choice.split(":", 3), "", "", ""][:4]
    action = _VERB.get(verb)
    if action is None or action is Action.REPLY or not number:
        return reply(message, desk_texts_for(message.language).member_usage)
    if action is Action.CLAIM or (action is Action.TRANSFER and target):
        return await _act(message, context, action, number, target)
    checked = await _check(message, context, action, number)
    if isinstance(checked, list):
        return checked
    request, _status = checked
    texts = desk_texts_for(message.language)
    if action is Action.TRANSFER:
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
    prompt = texts.ask_prompt if action is Action.ASK else texts.resolve_prompt
    return reply(message, prompt.format(name=_name_of(message, context), number=number))


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
            action = await _pending_move(message, context, number)
            return await _act(message, context, action, number, message.text)
    found = _HASH_REPLY.match(message.text)
    if found:
        return await _act(message, context, Action.REPLY, found.group(1), found.group(2).strip())
    return None


async def _pending_move(message: IncomingMessage, context: Context, number: str) -> Action:
    """The move the member owes words for on request ``number``; a plain reply otherwise."""
    channel, user = message.channel.value, message.sender.user_id
    state = await conversations.load(context.session, channel, user)
    if state is None or state.kind != CARD_MOVE or state.data.get("number") != number:
        return Action.REPLY
    await conversations.clear(context.session, channel, user)
    pressed = datetime.fromisoformat(str(state.data.get("at")))
    if context.now - pressed > CARD_MOVE_TTL:
        return Action.REPLY  # an old press, long forgotten: the reply is just a reply
    return _VERB.get(state.step, Action.REPLY)


async def _check(
    message: IncomingMessage, context: Context, action: Action, number: str
) -> tuple[Request, Status] | list[OutgoingMessage]:
    """The request and its next status, or the refusal when the sender may not do this.

    Which requests exist, and which group holds them, is for the log alone: a sender in no
    group gets one answer without a lookup, a member the same for "none" as for "not yours".
    """
    texts = desk_texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    if not roles.member_of:
        log.warning("refused: %s is in no group (named request %r)", actor_of(message), number)
        return refusal(message, roles, texts.members_only)
    request = await requests.by_number(context.session, number, lock=True)
    concerning(request.number if request is not None else None)
    if request is None or request.group_id not in roles.member_of:
        if request is None:
            log.info("refused: %s named unknown request %r", actor_of(message), number)
        else:
            log.warning(
                "refused: %s is not in group %s (request %s)",
                actor_of(message),
                request.group_id,
                number,
            )
        return list(reply(message, texts.not_in_your_groups.format(number=number)))
    try:
        return request, transition(Status(request.status), action, Role.MEMBER)
    except IllegalTransition as illegal:
        log.warning("refused: request %s: %s", number, illegal)
        return list(
            reply(
                message,
                texts.not_allowed.format(number=number, status=texts.status[request.status]),
            )
        )


async def _act(
    message: IncomingMessage, context: Context, action: Action, number: str, text: str
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    wordless = not text and not (action is Action.REPLY and message.attachments)
    if not number or (action in _NEEDS_TEXT and wordless):
        return list(reply(message, texts.member_usage))
    checked = await _check(message, context, action, number)
    if isinstance(checked, list):
        return checked
    request, status = checked
    if action is Action.TRANSFER:
        return await _transfer(message, context, request, text, status)
    replies = await _apply(message, context, request, action=action, status=status, text=text)
    if any(r.confirm is not None for r in replies):
        return replies  # the ✓ under the member's message, once delivered, says it all
    zh, en = _DONE[action]
    done = texts.done.format(number=number, action=zh if message.language is Language.ZH else en)
    return [*reply(message, done), *replies]


async def _apply(
    message: IncomingMessage,
    context: Context,
    request: Request,
    *,
    action: Action,
    status: Status,
    text: str,
) -> list[OutgoingMessage]:
    now = context.now
    actor = actor_of(message)
    name = _name_of(message, context)
    if request.assignee is None or action is Action.CLAIM:
        request.assignee, request.assignee_name = actor, name
    replies: list[OutgoingMessage] = []
    if action in (Action.REPLY, Action.ASK, Action.RESOLVE) and request.first_reply_at is None:
        request.first_reply_at = now
    if action is Action.ASK:
        requests.open_pause(context.session, request, now)
    if action is Action.RESOLVE:
        request.resolved_at = now
        request.result = text
    if request.status == Status.WAITING.value and action is not Action.ASK:
        # The commissioner moved on without the information: the clock runs again.
        await requests.end_pause(context.session, request, now)
        replies += await recompute_due(context, request)
    request.status = status.value
    requests.add_event(
        context.session, request, kind=action.value, actor=actor, at=now, text=text or None
    )

    def compose(texts: DeskTexts) -> str:
        template = {
            Action.REPLY: texts.reply_to_entrepreneur,
            Action.ASK: texts.ask_entrepreneur,
            Action.RESOLVE: texts.resolved_to_entrepreneur,
        }[action]
        return template.format(number=request.number, name=name, text=text)

    if action in (Action.REPLY, Action.ASK, Action.RESOLVE):
        relay = await to_entrepreneur(
            context,
            request,
            compose,
            (lambda texts: resolution_buttons(texts, request))
            if action is Action.RESOLVE
            else None,
            attachments=message.attachments,
        )
        if message.message_id is not None and relay.channel.pushed:
            relay = replace(
                relay, confirm=Confirmation(message.channel, message.chat_id, message.message_id)
            )
        replies.append(relay)
    replies += await card_update(context, request)
    return replies


def _name_of(message: IncomingMessage, context: Context) -> str:
    """The member's name as the roster has it (as the entrepreneur will read it)."""
    person = context.roster.roles_for(message.sender).person
    return person.name if person else (message.sender.display_name or "")


async def _transfer(
    message: IncomingMessage, context: Context, request: Request, target: str, status: Status
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    groups = {g.id: g for g in context.roster.groups}
    group = groups.get(target)
    if group is None:
        return list(
            reply(message, texts.unknown_group.format(group=target, groups="、".join(groups)))
        )
    replies: list[OutgoingMessage] = []
    if request.status == Status.WAITING.value:
        # The transfer ends the wait: the request is open again and its clock runs.
        await requests.end_pause(context.session, request, context.now)
        replies += await recompute_due(context, request)
    old = request.group_id
    request.group_id = group.id
    request.assignee = request.assignee_name = None
    request.status = status.value
    requests.add_event(
        context.session,
        request,
        kind="transferred",
        actor=actor_of(message),
        at=context.now,
        data={"from": old, "to": group.id},
    )

    def compose(reader: DeskTexts) -> str:
        shown, note = due_text(reader, request)
        return reader.transferred_to_entrepreneur.format(
            number=request.number, group=group.name, due=shown, provisional=note
        )

    replies.append(await to_entrepreneur(context, request, compose))
    moved = GROUP_TEXTS.card_moved.format(number=request.number, group=group.name)
    replies += to_group(context, request, moved, edit_card=True, group_id=old)
    person = await context.session.get(Person, request.person_id)
    replies += post_card(context, request, person)
    done = texts.done.format(number=request.number, action=group.name)
    return [*reply(message, done), *replies]
