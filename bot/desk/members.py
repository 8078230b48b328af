"""A duty group member's moves: claim, reply, ask for information, resolve, transfer.

Who may act comes from the roster only (:mod:`bot.desk.policy`). Someone in no group is refused
before any lookup, and a member hears the same for another group's request as for none, so a
request number tells a refused sender nothing. Every refusal is logged and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.desk import policy
from bot.desk.commands import (
    REASON_LIMIT,
    Member,
    MemberMove,
    Note,
    Outcome,
    Transfer,
)
from bot.desk.compose import (
    card_update,
    due_text,
    group_name,
    post_card,
    resolution_buttons,
    to_entrepreneur,
    to_group,
)
from bot.desk.record import event, locked, next_status, redate
from bot.desk.turn import Turn
from bot.domain.events import EventKind
from bot.domain.lifecycle import Action, Role, Status
from bot.messages import Intake, OutgoingMessage
from bot.texts.chat import texts_for
from bot.texts.desk import GROUP_TEXTS, DeskTexts, desk_texts_for
from storage import requests
from storage.models import Person, Request

__all__ = ["check", "move", "refusal"]

log = logging.getLogger(__name__)

_NEEDS_TEXT = (Action.REPLY, Action.ASK, Action.RESOLVE, Action.TRANSFER)
_SAID = (Action.REPLY, Action.ASK, Action.RESOLVE)
"""The moves whose words are for the person who asked."""


def refusal(member: Member, text: str) -> Outcome:
    """``text``, the refusal for an account without the role; or why a listed one holds none.

    A commissioner writing through a channel that cannot vouch for them (WeChat's plain mode)
    is told that, and what the admin must change, rather than that they are not listed: they
    are, and would otherwise look for the fault in the roster.
    """
    if member.roles.unverified:
        log.warning(
            "refused: %s is in the roster, but the channel cannot vouch for the sender",
            member.account,
        )
        return Outcome.refused(texts_for(member.language).unverified)
    return Outcome.refused(text)


async def check(
    turn: Turn, member: Member, action: Action, number: str
) -> tuple[Request, Status] | Outcome:
    """The request and its next status, or the refusal when the member may not do this."""
    texts = desk_texts_for(member.language)
    if not policy.may_act(member.roles):
        log.warning("refused: %s is in no group (named request %r)", member.account, number)
        return refusal(member, texts.members_only)
    request = await locked(turn, number)
    if request is None or not policy.holds(member.roles, request):
        if request is None:
            log.info("refused: %s named unknown request %r", member.account, number)
        else:
            log.warning(
                "refused: %s is not in group %s (request %s)",
                member.account,
                request.group_id,
                number,
            )
        return Outcome.refused(texts.not_in_your_groups.format(number=number))
    return next_status(request, action, Role.MEMBER, texts)


async def move(turn: Turn, member: Member, command: MemberMove) -> Outcome:
    """Make ``command``'s move on its request, or say why not."""
    texts = desk_texts_for(member.language)
    action = command.action
    number, text = command.number, command.text
    wordless = not text and not (action is Action.REPLY and command.attachments)
    if not number or (action in _NEEDS_TEXT and wordless):
        return Outcome.refused(texts.member_usage)
    checked = await check(turn, member, action, number)
    if isinstance(checked, Outcome):
        return checked
    request, status = checked
    if isinstance(command, Transfer):
        return await _transfer(turn, member, request, command, status)
    messages = await _apply(turn, member, request, command, action=action, status=status)
    outcome = Outcome(messages=messages, request=request)
    if any(m.confirm is not None for m in messages):
        return outcome  # the ✓ under the member's message, once delivered, says it all
    done = texts.done.format(number=number, action=texts.moves_done[action.value])
    outcome.notes.append(Note(done))
    if action in _SAID and Intake(request.channel).chat is None:
        outcome.notes.append(Note(texts.tell_caller))
    return outcome


async def _apply(
    turn: Turn,
    member: Member,
    request: Request,
    command: MemberMove,
    *,
    action: Action,
    status: Status,
) -> list[OutgoingMessage]:
    now, text = turn.now, command.text
    if request.assignee is None or action is Action.CLAIM:
        request.assignee, request.assignee_name = member.account, member.name
    messages: list[OutgoingMessage] = []
    if action in _SAID and request.first_reply_at is None:
        request.first_reply_at = now
    if action is Action.ASK:
        requests.open_pause(turn.session, request, now)
    if action is Action.RESOLVE:
        request.resolved_at = now
        request.result = text
    if request.status == Status.WAITING and action is not Action.ASK:
        # The commissioner moved on without the information: the clock runs again.
        await requests.end_pause(turn.session, request, now)
        messages += await redate(turn, request)
    request.status = status
    told = Intake(request.channel)
    # A caller has no chat: the member tells them by phone or at the desk, and the log says so.
    said: dict[str, object] | None = None
    if told.chat is None and action in _SAID:
        said = {"told": told.value}
    files = [a.to_payload() for a in command.attachments if a.ref]
    if files:  # named in the log, so the console can link to them (bot.files)
        said = {**(said or {}), "files": files}
    event(turn, request, EventKind(action.value), member.account, text=text or None, data=said)

    def compose(texts: DeskTexts) -> str:
        template = {
            Action.REPLY: texts.reply_to_entrepreneur,
            Action.ASK: texts.ask_entrepreneur,
            Action.RESOLVE: texts.resolved_to_entrepreneur,
        }[action]
        return template.format(number=request.number, name=member.name, text=text)

    if action in _SAID:
        relays = await to_entrepreneur(
            turn,
            request,
            compose,
            (lambda texts: resolution_buttons(texts, request))
            if action is Action.RESOLVE
            else None,
            attachments=command.attachments,
        )
        if command.confirm is not None:
            confirm = command.confirm
            relays = [replace(r, confirm=confirm) if r.channel.pushed else r for r in relays]
        messages += relays
    messages += await card_update(turn, request)
    return messages


async def _transfer(
    turn: Turn, member: Member, request: Request, command: Transfer, status: Status
) -> Outcome:
    texts = desk_texts_for(member.language)
    target, reason = command.text, command.reason.strip()
    groups = {g.id: g for g in turn.roster.groups}
    group = groups.get(target)
    if group is None:
        return Outcome.refused(texts.unknown_group.format(group=target, groups="、".join(groups)))
    if len(reason) > REASON_LIMIT:
        return Outcome.refused(texts.reason_too_long.format(limit=REASON_LIMIT))
    messages: list[OutgoingMessage] = []
    if request.status == Status.WAITING:
        # The transfer ends the wait: the request is open again and its clock runs.
        await requests.end_pause(turn.session, request, turn.now)
        messages += await redate(turn, request)
    old = request.group_id
    request.group_id = group.id
    request.assignee = request.assignee_name = None
    request.status = status
    event(
        turn,
        request,
        EventKind.TRANSFERRED,
        member.account,
        text=reason or None,
        data={"from": old, "to": group.id},
    )

    def compose(reader: DeskTexts) -> str:
        shown, note = due_text(reader, request)
        return reader.transferred_to_entrepreneur.format(
            number=request.number, group=group.name, due=shown, provisional=note
        )

    messages += await to_entrepreneur(turn, request, compose)
    because = GROUP_TEXTS.transfer_reason.format(reason=reason) if reason else ""
    moved = GROUP_TEXTS.card_moved.format(number=request.number, group=group.name) + because
    messages += to_group(turn, request, moved, edit_card=True, group_id=old)
    person = await turn.session.get(Person, request.person_id)
    messages += post_card(turn, request, person)
    if reason:
        # The receiving group reads why under the new card (the card itself is redrawn on
        # every change, and would lose it).
        source = group_name(turn, old)
        arrived = GROUP_TEXTS.card_arrived.format(number=request.number, group=source) + because
        messages += to_group(turn, request, arrived)
    done = texts.done.format(number=request.number, action=group.name)
    return Outcome(notes=[Note(done)], messages=messages, request=request)
