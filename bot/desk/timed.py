"""The desk's moves on time: reminders and escalations, closing, re-dating.

The scheduler decides *when* (:mod:`bot.scheduler`); these decide what a notice says and to whom,
and write its event. Each runs in the caller's transaction with the request's row locked, so two
processes never both act on one request.
"""

from __future__ import annotations

import logging

from bot.desk.commands import AutoClose, NoticeKind, Notify, Outcome, Redate
from bot.desk.compose import (
    GROUP_TEXTS,
    card_update,
    due_text,
    group_name,
    space_name,
    to_entrepreneur,
    to_group,
    wecom_ids,
)
from bot.desk.record import SYSTEM_ACTOR, event, redate
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import AUTO_CLOSE_WORKDAYS, Action, Role, Status, transition
from bot.domain.roster.model import District
from bot.messages import Channel, OutgoingMessage
from bot.texts.desk import DeskTexts
from storage import notices, requests
from storage.models import Request

__all__ = ["auto_close", "notify", "redate_all"]

log = logging.getLogger(__name__)


async def notify(turn: Turn, command: Notify) -> Outcome:
    """Send one notice unless another process did, or the request moved on meanwhile."""
    request = await requests.locked_by_id(turn.session, command.request_id)
    if request is None or not request.status.is_active or request.due_date != command.day:
        return Outcome(done=False)
    if not await notices.claim(turn.session, request.id, command.kind, command.day, turn.now):
        return Outcome(done=False)
    messages = await _compose(turn, request, command.kind)
    event(
        turn,
        request,
        EventKind.NOTICE,
        SYSTEM_ACTOR,
        data={"notice": command.kind.value, "day": command.day.isoformat()},
    )
    log.info("request %s: %s sent", request.number, command.kind.value)
    return Outcome(messages=messages, request=request)


async def _compose(turn: Turn, request: Request, kind: NoticeKind) -> list[OutgoingMessage]:
    texts = GROUP_TEXTS
    shown, note = due_text(texts, request)
    status = texts.status[request.status]
    if kind is NoticeKind.REMIND_BEFORE:
        text = texts.remind_before.format(number=request.number, status=status, due=shown)
        return to_group(turn, request, text)
    if kind is NoticeKind.REMIND_DUE:
        text = texts.remind_due.format(number=request.number, status=status, due=shown)
        return to_group(turn, request, text)
    text = texts.escalation.format(
        number=request.number,
        due=shown + note,
        status=status,
        group=group_name(turn, request.group_id),
        space=space_name(turn, request.space_id),
        category=categories.by_id(request.category).zh,
    )
    messages = to_group(turn, request, text)
    district = _district(turn, request)
    chats = [(Channel(name), chat_id) for name, chat_id in district.supervisors_chat.items()]
    # WeCom has no group chat: each supervisor with a WeCom account is told one by one.
    chats += [(Channel.WECOM, userid) for userid in wecom_ids(district.supervisors)]
    messages += [
        OutgoingMessage(chat_id, channel, text, request_id=request.id)
        for channel, chat_id in chats
        if channel.pushed
    ]

    def apology(texts: DeskTexts) -> str:
        shown, _ = due_text(texts, request)
        return texts.overdue_apology.format(
            number=request.number, due=shown, status=texts.status[request.status]
        )

    messages += await to_entrepreneur(turn, request, apology)
    return messages


def _district(turn: Turn, request: Request) -> District:
    """The district whose supervisors hear of the request's escalation.

    It is its group's, or its space's once the group has left the roster; one with no
    supervisors when neither is there.
    """
    roster = turn.roster
    for lookup, item_id in ((roster.group, request.group_id), (roster.space, request.space_id)):
        try:
            return roster.district(lookup(item_id).district)
        except KeyError:
            continue
    log.warning("request %s: neither its group nor its space is in the roster", request.number)
    return District("", "")


async def auto_close(turn: Turn, command: AutoClose) -> Outcome:
    """Close a resolved request once it can no longer be reopened."""
    request = await requests.locked_by_id(turn.session, command.request_id)
    if request is None or request.status != Status.RESOLVED:
        return Outcome(done=False)
    assert request.resolved_at is not None
    # The same count the reopen button uses, so a request closes exactly when it can no longer
    # be reopened.
    if turn.calendar.working_days_between(request.resolved_at, turn.now) <= AUTO_CLOSE_WORKDAYS:
        return Outcome(done=False)
    status = transition(request.status, Action.AUTO_CLOSE, Role.SYSTEM)
    request.status, request.closed_at = status, turn.now
    event(turn, request, EventKind.CLOSED, SYSTEM_ACTOR)

    def compose(texts: DeskTexts) -> str:
        return texts.auto_closed.format(number=request.number, days=AUTO_CLOSE_WORKDAYS)

    closing = await to_entrepreneur(turn, request, compose)
    log.info(
        "request %s closed %d working days after its result", request.number, AUTO_CLOSE_WORKDAYS
    )
    return Outcome(messages=[*closing, *await card_update(turn, request)], request=request)


async def redate_all(turn: Turn, command: Redate) -> Outcome:
    """Date every request whose clock runs again, after the calendar changed.

    The outcome counts the requests that got a new due date, and holds the notices to their
    entrepreneurs.
    """
    moved, messages = 0, []
    for request in await requests.dated(
        turn.session, provisional_only=command.provisional_only, lock=True
    ):
        before = (request.due_date, request.provisional)
        messages += await redate(turn, request)
        moved += (request.due_date, request.provisional) != before
    if moved:
        log.info("calendar change: %d requests re-dated", moved)
    return Outcome(messages=messages, count=moved)
