"""Service requests, their event log and their pauses."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.events import EventKind
from bot.domain.lifecycle import BEING_WORKED_ON, CLOCK_RUNNING, Status
from storage.models import (
    Card,
    Counter,
    Identity,
    OutboxMessage,
    OutboxStatus,
    Pause,
    Request,
    RequestEvent,
)
from storage.upsert import insert_for

__all__ = [
    "active_for_account",
    "active_for_person",
    "add_card",
    "add_event",
    "by_number",
    "card_in",
    "card_pending",
    "closable",
    "dated",
    "end_pause",
    "events_of",
    "for_group",
    "for_person",
    "is_overdue",
    "locked_by_id",
    "next_number",
    "number_of",
    "open_pause",
    "outside",
    "pauses_of",
    "provisional_span",
    "rating_of_result",
    "request_for_card",
]


async def next_number(session: AsyncSession, year: int) -> str:
    """The next request number of ``year`` (``2026-0042``), unique across processes.

    The counter row is locked by the update until the transaction ends, so two processes
    opening requests at once get consecutive numbers, never the same one.
    """
    statement = (
        insert_for(session, Counter)
        .values(name=f"request-{year}", value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    value = (await session.execute(statement)).scalar_one()
    return number_of(year, value)


def number_of(year: int, value: int) -> str:
    """The request number that counter ``value`` of ``year`` stands for (``2026-0042``)."""
    return f"{year}-{value:04d}"


async def by_number(session: AsyncSession, number: str, *, lock: bool = False) -> Request | None:
    """The request with this number; ``lock`` holds its row until the transaction ends."""
    query = select(Request).where(Request.number == number)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def locked_by_id(session: AsyncSession, request_id: int) -> Request | None:
    """The request, its row locked until the transaction ends (PostgreSQL; SQLite serialises).

    Read afresh, so a request another process changed meanwhile is seen as it is now.
    """
    return await session.get(Request, request_id, with_for_update=True, populate_existing=True)


async def closable(session: AsyncSession, resolved_before: datetime) -> Sequence[tuple[int, str]]:
    """Resolved requests (id, number) whose result came before ``resolved_before``, by id."""
    query = (
        select(Request.id, Request.number)
        .where(Request.status == Status.RESOLVED, Request.resolved_at <= resolved_before)
        .order_by(Request.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def provisional_span(session: AsyncSession) -> tuple[datetime | None, date | None, int]:
    """The span of the requests dated on a year the calendar only estimates.

    Returns:
        Of those still being worked on: the earliest opening, the latest due date, and how
        many there are.
    """
    query = select(func.min(Request.opened_at), func.max(Request.due_date), func.count()).where(
        Request.provisional == True,  # noqa: E712 - a column comparison, not a truth test
        Request.status.in_(BEING_WORKED_ON),
    )
    first, last, count = (await session.execute(query)).one()
    return first, last, count


async def for_person(session: AsyncSession, person_id: int, limit: int = 20) -> Sequence[Request]:
    """A person's requests, newest first."""
    query = (
        select(Request)
        .where(Request.person_id == person_id)
        .order_by(Request.opened_at.desc(), Request.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def active_for_account(session: AsyncSession, channel: str, user_id: str) -> Request | None:
    """The newest request still being worked on of whoever holds this channel account.

    Looks through the account without creating a person: most messages are questions from
    people with no request at all.
    """
    query = (
        select(Request)
        .join(Identity, Identity.person_id == Request.person_id)
        .where(
            Identity.channel == channel,
            Identity.user_id == user_id,
            Request.status.in_(BEING_WORKED_ON),
        )
        .order_by(Request.opened_at.desc(), Request.id.desc())
        .limit(1)
        .with_for_update(of=Request)
    )
    return await session.scalar(query)


async def active_for_person(session: AsyncSession, person_id: int) -> Request | None:
    """The person's newest request that is still being worked on, if any."""
    query = (
        select(Request)
        .where(
            Request.person_id == person_id,
            Request.status.in_(BEING_WORKED_ON),
        )
        .order_by(Request.opened_at.desc(), Request.id.desc())
        .limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def dated(
    session: AsyncSession, *, provisional_only: bool = False, lock: bool = False
) -> Sequence[Request]:
    """The requests whose clock runs (open or claimed), to date again after a calendar change.

    Args:
        session: The transaction.
        provisional_only: Only those dated on an estimated year.
        lock: Hold their rows until the transaction ends, so two processes re-dating at once
            tell the entrepreneur once.
    """
    query = select(Request).where(Request.status.in_(CLOCK_RUNNING))
    if provisional_only:
        query = query.where(Request.provisional == True)  # noqa: E712 - SQL, and indexable
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query.order_by(Request.id))).all()


async def for_group(
    session: AsyncSession, group_id: str, statuses: Sequence[Status], limit: int = 200
) -> Sequence[Request]:
    """A duty group's requests in ``statuses``, the earliest deadline first."""
    query = (
        select(Request)
        .where(Request.group_id == group_id, Request.status.in_(statuses))
        .order_by(Request.deadline, Request.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def outside(
    session: AsyncSession,
    *,
    spaces: Collection[str],
    groups: Collection[str],
    statuses: Sequence[Status],
) -> Sequence[Request]:
    """The requests in ``statuses`` whose space is not in ``spaces`` or group not in ``groups``.

    In the order they were opened: what a roster listing only those would strand.
    """
    query = select(Request).where(
        Request.status.in_(statuses),
        Request.space_id.not_in(spaces) | Request.group_id.not_in(groups),
    )
    return (await session.scalars(query.order_by(Request.id))).all()


def add_event(
    session: AsyncSession,
    request: Request,
    *,
    kind: str,
    actor: str,
    at: datetime,
    text: str | None = None,
    data: dict[str, object] | None = None,
) -> RequestEvent:
    """Append to the request's log; events are never changed or removed."""
    event = RequestEvent(request_id=request.id, at=at, kind=kind, actor=actor, text=text, data=data)
    session.add(event)
    request.updated_at = at
    return event


async def events_of(session: AsyncSession, request_id: int) -> Sequence[RequestEvent]:
    """The request's log, oldest first."""
    query = (
        select(RequestEvent)
        .where(RequestEvent.request_id == request_id)
        .order_by(RequestEvent.at, RequestEvent.id)
    )
    return (await session.scalars(query)).all()


async def rating_of_result(session: AsyncSession, request_id: int) -> int | None:
    """The stars the entrepreneur gave the request's latest result, if they rated it yet.

    A rating counts for the result it follows: one given before a reopening and a new result
    does not stand for the new one.
    """
    resolved = (
        select(func.max(RequestEvent.id))
        .where(RequestEvent.request_id == request_id, RequestEvent.kind == EventKind.RESOLVE)
        .scalar_subquery()
    )
    rated = await session.scalar(
        select(RequestEvent)
        .where(
            RequestEvent.request_id == request_id,
            RequestEvent.kind == EventKind.RATED,
            RequestEvent.id > func.coalesce(resolved, 0),
        )
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
    if rated is None:
        return None
    stars = (rated.data or {}).get("stars")
    return stars if isinstance(stars, int) else None


def open_pause(
    session: AsyncSession, request: Request, at: datetime, until: datetime | None = None
) -> None:
    """Stop the deadline clock from ``at`` (until ``until``, when that is already known)."""
    session.add(Pause(request_id=request.id, started_at=at, ended_at=until))


async def end_pause(session: AsyncSession, request: Request, at: datetime) -> None:
    """Restart the deadline clock at ``at``."""
    query = select(Pause).where(Pause.request_id == request.id, Pause.ended_at.is_(None))
    for pause in (await session.scalars(query)).all():
        pause.ended_at = at


async def pauses_of(
    session: AsyncSession, request_id: int
) -> list[tuple[datetime, datetime | None]]:
    """Every stretch the request's clock stood still, oldest first."""
    query = select(Pause).where(Pause.request_id == request_id).order_by(Pause.started_at)
    return [(p.started_at, p.ended_at) for p in (await session.scalars(query)).all()]


def add_card(
    session: AsyncSession,
    request_id: int,
    *,
    channel: str,
    chat_id: str,
    message_id: str,
    at: datetime,
) -> None:
    """Remember that a group message stands for the request ``request_id``."""
    session.add(
        Card(
            channel=channel,
            chat_id=chat_id,
            message_id=message_id,
            request_id=request_id,
            created_at=at,
        )
    )


async def request_for_card(
    session: AsyncSession, channel: str, chat_id: str, message_id: str
) -> Request | None:
    """The request a group message stands for, if it is one of our cards."""
    card = await session.get(Card, (channel, chat_id, message_id))
    return None if card is None else await session.get(Request, card.request_id)


async def card_in(session: AsyncSession, request_id: int, channel: str, chat_id: str) -> str | None:
    """The platform id of the request's latest card in a chat, if it has one there."""
    query = (
        select(Card.message_id)
        .where(Card.request_id == request_id, Card.channel == channel, Card.chat_id == chat_id)
        .order_by(Card.created_at.desc())
        .limit(1)
    )
    found: str | None = await session.scalar(query)
    return found


async def card_pending(session: AsyncSession, request_id: int, channel: str, chat_id: str) -> bool:
    """Whether the request's card for a chat is still waiting in the outbox."""
    query = select(OutboxMessage).where(
        OutboxMessage.request_id == request_id,
        OutboxMessage.channel == channel,
        OutboxMessage.chat_id == chat_id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    return any(row.payload.get("card") for row in (await session.scalars(query)).all())


def is_overdue(request: Request, now: datetime) -> bool:
    """Whether the request is past its deadline without a result.

    A request waiting on the entrepreneur is not overdue: its clock stands still, and the
    deadline moves when the wait ends.
    """
    return request.status in CLOCK_RUNNING and now >= request.deadline
