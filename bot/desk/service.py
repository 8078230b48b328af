"""The desk's one entry point: every change to a request goes through :func:`execute`.

A command is checked against the actor's roles (from the roster), applied by the lifecycle's
rules, written to the request's log as one event, and answered with the messages it causes, all
inside the caller's transaction. The caller commits them together, with the outbox rows, so a
crash leaves both or neither.
"""

from __future__ import annotations

from bot.desk import callers, entrepreneurs, members, timed
from bot.desk.commands import (
    AutoClose,
    Command,
    Confirm,
    Entrepreneur,
    FollowUp,
    Member,
    MemberMove,
    Notify,
    Open,
    OpenForCaller,
    Outcome,
    Rate,
    Redate,
    Reopen,
    System,
)
from bot.desk.turn import Turn

__all__ = ["execute"]

Actor = Member | Entrepreneur | System


async def execute(turn: Turn, actor: Actor, command: Command) -> Outcome:
    """Carry out ``command`` for ``actor`` in ``turn``'s transaction.

    Args:
        turn: The transaction, the moment, the roster and the calendar.
        actor: Who asks: a duty group member, the request's entrepreneur, or the desk on time.
        command: What they ask for.

    Returns:
        What changed, what the actor is told, and the messages to send.

    Raises:
        TypeError: The command is not one this kind of actor makes (a programming error: a
            client built the wrong pair; no input can cause it).
    """
    match actor, command:
        case Member(), MemberMove():
            return await members.move(turn, actor, command)
        case Member(), OpenForCaller():
            return await callers.open_for_caller(turn, actor, command)
        case Entrepreneur(), Open():
            return await entrepreneurs.open_request(turn, actor, command)
        case Entrepreneur(), FollowUp():
            return await entrepreneurs.follow_up(turn, actor, command)
        case Entrepreneur(), Confirm():
            return await entrepreneurs.confirm(turn, actor, command)
        case Entrepreneur(), Reopen():
            return await entrepreneurs.reopen(turn, actor, command)
        case Entrepreneur(), Rate():
            return await entrepreneurs.rate(turn, actor, command)
        case System(), Notify():
            return await timed.notify(turn, command)
        case System(), AutoClose():
            return await timed.auto_close(turn, command)
        case System(), Redate():
            return await timed.redate_all(turn, command)
    raise TypeError(f"{type(actor).__name__} cannot {type(command).__name__}")
