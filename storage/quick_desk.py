"""A request's moves in plain SQL, for the SQLite writer's units (:mod:`storage.writer`).

The counterparts of the ORM's statements for an entrepreneur's rating, confirmation and
follow-up (named beside each) and for the 👍/👎 under an answer, on the writer's connection
inside the unit's savepoint. A request is read into a detached :class:`~storage.models.Request`
(:func:`storage.quick_requests.detached`) holding what the ORM would load, so the desk's own
functions work on it; what they change is written back column by column (:func:`save`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

from sqlalchemy import Boolean, Date

from bot.domain.events import EventKind
from bot.domain.lifecycle import BEING_WORKED_ON, Status
from storage.models import MAX_INTEGER, Request, UtcDateTime
from storage.quick_requests import detached
from storage.writer import stored_time

__all__ = [
    "active_request",
    "end_pause",
    "pauses_of",
    "rate_answer",
    "rating_of_result",
    "request_by_number",
    "save",
]

_COLUMNS = tuple(column.name for column in Request.__table__.columns)
_TIMES = frozenset(c.name for c in Request.__table__.columns if isinstance(c.type, UtcDateTime))
_DATES = frozenset(c.name for c in Request.__table__.columns if isinstance(c.type, Date))
_FLAGS = frozenset(c.name for c in Request.__table__.columns if isinstance(c.type, Boolean))
_WORKED_ON = tuple(status.value for status in BEING_WORKED_ON)
# Only the model's own column names and placeholders are joined in.
_SELECT = f"SELECT {', '.join(f'requests.{name}' for name in _COLUMNS)} FROM requests"  # noqa: S608
_ACTIVE = (
    f"{_SELECT} JOIN identities ON identities.person_id = requests.person_id"
    " WHERE identities.channel = ? AND identities.user_id = ?"
    f" AND requests.status IN ({', '.join('?' for _ in _WORKED_ON)})"
    " ORDER BY requests.opened_at DESC, requests.id DESC LIMIT 1"
)


def request_by_number(connection: sqlite3.Connection, number: str) -> Request | None:
    """The request with this number (:func:`requests.by_number`), detached.

    The batch's ``BEGIN IMMEDIATE`` holds the database for the unit: the row is the
    unit's until it commits, as the ORM's lock holds it.
    """
    row = connection.execute(f"{_SELECT} WHERE requests.number = ?", (number,)).fetchone()
    return None if row is None else _loaded(row)


def active_request(connection: sqlite3.Connection, channel: str, user_id: str) -> Request | None:
    """The account's newest request still being worked on (:func:`requests.active_for_account`)."""
    row = connection.execute(_ACTIVE, (channel, user_id, *_WORKED_ON)).fetchone()
    return None if row is None else _loaded(row)


def save(connection: sqlite3.Connection, request: Request, *names: str) -> None:
    """Store the columns ``names`` of ``request`` as the desk left them (the ORM's flush)."""
    assignments = ", ".join(f"{name} = ?" for name in names)
    values = [_stored(name, getattr(request, name)) for name in names]
    connection.execute(
        f"UPDATE requests SET {assignments} WHERE id = ?",  # noqa: S608 - the model's own names
        (*values, request.id),
    )


def rating_of_result(connection: sqlite3.Connection, request_id: int) -> int | None:
    """The stars given the request's latest result, if any (:func:`requests.rating_of_result`)."""
    row = connection.execute(
        "SELECT json_extract(data, '$.stars') FROM request_events"
        " WHERE request_id = ? AND kind = ? AND id > coalesce("
        "  (SELECT max(id) FROM request_events WHERE request_id = ? AND kind = ?), 0)"
        " ORDER BY id DESC LIMIT 1",
        (request_id, EventKind.RATED.value, request_id, EventKind.RESOLVE.value),
    ).fetchone()
    if row is None:
        return None
    stars = row[0]
    # json_extract gives a JSON number as an integer, anything else as something else.
    return stars if isinstance(stars, int) else None


def end_pause(connection: sqlite3.Connection, request_id: int, at: datetime) -> None:
    """Restart the request's deadline clock at ``at`` (:func:`requests.end_pause`)."""
    connection.execute(
        "UPDATE request_pauses SET ended_at = ? WHERE request_id = ? AND ended_at IS NULL",
        (stored_time(at), request_id),
    )


def pauses_of(
    connection: sqlite3.Connection, request_id: int
) -> list[tuple[datetime, datetime | None]]:
    """Every stretch the request's clock stood still, oldest first (:func:`requests.pauses_of`)."""
    rows = connection.execute(
        "SELECT started_at, ended_at FROM request_pauses WHERE request_id = ? ORDER BY started_at",
        (request_id,),
    ).fetchall()
    return [(_time(started), None if ended is None else _time(ended)) for started, ended in rows]


def rate_answer(
    connection: sqlite3.Connection,
    answer_id: int,
    *,
    channel: str,
    chat_id: str,
    rating: str,
    at: datetime,
) -> bool:
    """Rate an answer given in this chat (:func:`answers.rate_answer`).

    Returns:
        ``False`` when there is no such answer in this chat: nothing changed, and the ORM's
        path tells which it is.
    """
    if not 0 < answer_id <= MAX_INTEGER:
        return False
    changed = connection.execute(
        "UPDATE answered_questions SET rating = ?, rated_at = ?"
        " WHERE id = ? AND channel = ? AND chat_id = ?",
        (rating, stored_time(at), answer_id, channel, chat_id),
    )
    return changed.rowcount == 1


def _loaded(row: tuple[object, ...]) -> Request:
    """A request as the ORM loads it: aware UTC times, dates, flags and its status."""
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _TIMES:
        value = values[name]
        values[name] = None if value is None else _time(str(value))
    for name in _DATES:
        values[name] = date.fromisoformat(str(values[name]))
    for name in _FLAGS:
        values[name] = bool(values[name])
    values["status"] = Status(values["status"])
    return detached(Request, **values)


def _time(stored: str) -> datetime:
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


def _stored(name: str, value: object) -> object:
    """``value`` of the column ``name`` as the ORM stores it on SQLite."""
    if value is None:
        return None
    if name in _TIMES:
        assert isinstance(value, datetime)
        return stored_time(value)
    if name in _DATES:
        assert isinstance(value, date)
        return value.isoformat()
    if name in _FLAGS:
        return int(bool(value))
    if isinstance(value, Status):
        return value.value
    return value
