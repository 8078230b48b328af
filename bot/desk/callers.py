"""Requests taken by phone or at the on-site desk (policy article 6: intake by hotline).

A duty group member records what the caller asked; the request is then like any other (its
number, due date, reminders, reports and archive), except that it has no chat: nothing is ever
queued for the caller, and the member tells them the number, the due date, every reply and the
result by phone or face to face, which the log records.
"""

from __future__ import annotations

import logging

from bot.desk import policy
from bot.desk.commands import Member, Note, OpenForCaller, Outcome
from bot.desk.compose import due_text, post_card
from bot.desk.members import refusal
from bot.desk.record import Opening, open_new
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.workdays import shanghai_date
from bot.texts.desk import desk_texts_for
from storage.models import Person

__all__ = ["open_for_caller"]

log = logging.getLogger(__name__)


async def open_for_caller(turn: Turn, member: Member, command: OpenForCaller) -> Outcome:
    """Open the caller's request for their space's duty group, if the member is in it.

    The caller becomes a person of their own, known by the name they gave; the phone number
    stays on the request (and out of the log).
    """
    texts = desk_texts_for(member.language)
    if not policy.may_act(member.roles):
        log.warning("refused: %s is in no group (recording a call)", member.account)
        return refusal(member, texts.members_only)
    space = turn.roster.space(command.space_id)
    group = turn.roster.duty_group(space.id, shanghai_date(turn.now))
    if group.id not in member.roles.member_of:
        log.warning(
            "refused: %s is not in group %s, on duty for %s", member.account, group.id, space.id
        )
        return Outcome.refused(texts.not_on_duty_for.format(space=space.name, group=group.name))
    caller = Person(
        display_name=command.caller,
        language=member.language.value,
        space_id=space.id,
        created_at=turn.now,
    )
    turn.session.add(caller)
    await turn.session.flush()
    opening = Opening(
        person_id=caller.id,
        channel=command.intake.value,
        chat_id="",  # no chat: see bot.desk.compose.to_entrepreneur
        category_id=command.category_id,
        text=command.text,
        phone=command.phone,
        space_id=space.id,
    )
    request, group, space = await open_new(
        turn, opening, member.account, intake=command.intake.value
    )
    category = categories.by_id(request.category)
    shown, note = due_text(texts, request)
    taken = texts.taken.format(
        number=request.number,
        caller=command.caller,
        group=group.name,
        space=space.name,
        due=shown,
        provisional=note,
        days=category.workdays,
    )
    return Outcome(notes=[Note(taken)], messages=post_card(turn, request, caller), request=request)
