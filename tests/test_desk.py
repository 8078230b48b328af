"""The desk on its own: the one writer of a request's changes, driven as the console and the
scheduler drive it (no chat text), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Bot
from bot.clock import ManualClock
from bot.desk.commands import SYSTEM, Claim, Confirm, Entrepreneur, Member, Redate, Resolve
from bot.desk.service import execute
from bot.desk.turn import Moment
from bot.domain.events import EventKind, status_after
from bot.domain.lifecycle import Action, IllegalTransition, Role, Status, transition
from bot.messages import Channel, Language
from bot.texts.desk import DESK_ZH
from storage.models import Person, RequestEvent
from tests.support.desk import ZHANG, open_one, the_request


def moment(bot: Bot, session: AsyncSession) -> Moment:
    """The desk's view of ``session`` at the bot's clock, as the scheduler builds it."""
    services = bot.services
    return Moment(session, bot.clock.now(), services.roster.current, services.calendar.current)


def member(bot: Bot, user_id: str) -> Member:
    roles = bot.services.roster.current.roles_of(Channel.TELEGRAM.value, user_id)
    name = roles.person.name if roles.person else ""
    return Member(f"telegram:{user_id}", name, roles, Language.ZH)


def test_the_report_replays_an_event_as_the_lifecycle_moved_the_request() -> None:
    # status_after is what the quarterly report replays; it must agree with every transition
    # the desk can make, or the report would count a request in a state it never was in.
    checked = 0
    for status, action, role in itertools.product(Status, Action, Role):
        try:
            after = transition(status, action, role)
        except IllegalTransition:
            continue
        (kind,) = [k for k in EventKind if k.value in {action.value, _LOGGED.get(action)}]
        assert status_after(kind, status) is after, (status, action)
        checked += 1
    assert checked == 20  # every move the lifecycle allows, from every status it allows it in


_LOGGED = {
    Action.TRANSFER: "transferred",
    Action.CONFIRM: "confirmed",
    Action.REOPEN: "reopened",
    Action.RATE: "rated",
    Action.AUTO_CLOSE: "closed",
}
"""The actions whose event kind is not the action's own name."""


async def test_moves_sent_as_commands_are_checked_against_the_roster_and_logged(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    async with running.database.transaction() as session:
        turn = moment(running, session)
        # 王芳 is in the other duty group: the request is not hers to touch, and nothing moves.
        refused = await execute(turn, member(running, "2003"), Claim(number))
        assert not refused.done
        assert [note.text for note in refused.notes] == [
            DESK_ZH.not_in_your_groups.format(number=number)
        ]
        claimed = await execute(turn, member(running, ZHANG.user_id), Claim(number))
        assert claimed.done
        done = DESK_ZH.done.format(number=number, action=DESK_ZH.moves_done["claim"])
        assert [note.text for note in claimed.notes] == [done]
        resolved = await execute(turn, member(running, ZHANG.user_id), Resolve(number, "已办好"))
        # The entrepreneur's message with the confirm, reopen and star buttons, and the card.
        to_entrepreneur = [m for m in resolved.messages if m.chat_id == "e1"]
        (relayed,) = to_entrepreneur
        assert "已办好" in relayed.text
        assert len(relayed.buttons) == 7
    request = await the_request(running, number)
    assert (request.status, request.assignee, request.result) == (
        Status.RESOLVED,
        "telegram:2001",
        "已办好",
    )
    async with running.database.sessions() as session:
        kinds = (
            await session.scalars(
                select(RequestEvent.kind)
                .where(RequestEvent.request_id == request.id)
                .order_by(RequestEvent.id)
            )
        ).all()
    assert kinds == [EventKind.OPENED, EventKind.CLAIM, EventKind.RESOLVE]


async def test_an_entrepreneur_moves_only_their_own_request(bot: tuple[Bot, ManualClock]) -> None:
    running, _ = bot
    number = await open_one(running)
    async with running.database.transaction() as session:
        turn = moment(running, session)
        await execute(turn, member(running, ZHANG.user_id), Resolve(number, "已办好"))
        stranger = Person(display_name="小王", language="zh", created_at=turn.now)
        session.add(stranger)
        await session.flush()
        refused = await execute(turn, Entrepreneur(stranger), Confirm(number))
        assert not refused.done
        assert [note.text for note in refused.notes] == [DESK_ZH.not_yours.format(number=number)]
    assert (await the_request(running, number)).status == Status.RESOLVED


async def test_a_command_its_actor_cannot_give_is_a_programming_error(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, _ = bot
    number = await open_one(running)
    async with running.database.transaction() as session:
        turn = moment(running, session)
        with pytest.raises(TypeError, match="System cannot Confirm"):
            await execute(turn, SYSTEM, Confirm(number))
        with pytest.raises(TypeError, match="Member cannot Redate"):
            await execute(turn, member(running, ZHANG.user_id), Redate())
