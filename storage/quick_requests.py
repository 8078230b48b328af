"""Opening a request in plain SQL, for the SQLite writer's units (:mod:`storage.writer`).

The counterparts of the ORM's statements for ``/new text`` (named beside each), on the writer's
connection inside the unit's savepoint, writing the same rows the same way: the ORM reads them
back unchanged. The desk decides what goes in them (:mod:`bot.desk.quick_open`).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.instrumentation import ClassManager, manager_of_class

from storage.models import Base, Person, Request
from storage.requests import number_of
from storage.writer import stored_time

__all__ = ["add_event", "detached", "identify", "insert_request", "next_number", "settle"]

M = TypeVar("M", bound=Base)


def detached(model: type[M], **values: object) -> M:
    """An object of ``model`` holding ``values``, to read only: it never joins a session.

    Built as the ORM builds an object it loads, the values straight into its state, without
    the change tracking of the constructor: about ten times cheaper (some 60 µs a request,
    a fifth of a unit's work).
    """
    instance = cast(M, _manager(model).new_instance())
    instance.__dict__.update(values)
    return instance


@functools.cache
def _manager(model: type[Base]) -> ClassManager[Base]:
    # Ready the mappers as a constructor or a query would first (a unit may come before either).
    configure_mappers()
    return manager_of_class(model)


def identify(
    connection: sqlite3.Connection,
    *,
    channel: str,
    user_id: str,
    chat_id: str,
    display_name: str | None,
    language: str,
    now: datetime,
) -> Person | None:
    """The person behind a channel account that wrote before (:func:`people.identify`).

    Remembers the chat that reaches them and when they last wrote, their display name and
    language, as the ORM does. ``None`` for an account never seen: creating a person is the
    full path's.

    Returns:
        The person as stored now, detached (no session): its id, name, language and space.
    """
    row = connection.execute(
        "SELECT identities.person_id, identities.chat_id, identities.last_seen_at,"
        " people.display_name, people.language, people.space_id"
        " FROM identities JOIN people ON people.id = identities.person_id"
        " WHERE identities.channel = ? AND identities.user_id = ?",
        (channel, user_id),
    ).fetchone()
    if row is None:
        return None
    person_id, stored_chat, last_seen, stored_name, stored_language, space_id = row
    # Stored times sort as text (fixed width, UTC), like the instants they stand for.
    seen = max(last_seen, stored_time(now))
    if (stored_chat, last_seen) != (chat_id, seen):
        connection.execute(
            "UPDATE identities SET chat_id = ?, last_seen_at = ? WHERE channel = ? AND user_id = ?",
            (chat_id, seen, channel, user_id),
        )
    name = display_name if display_name else stored_name
    if (stored_name, stored_language) != (name, language):
        connection.execute(
            "UPDATE people SET display_name = ?, language = ? WHERE id = ?",
            (name, language, person_id),
        )
    return detached(Person, id=person_id, display_name=name, language=language, space_id=space_id)


def settle(connection: sqlite3.Connection, person: Person, space_id: str) -> None:
    """Remember ``space_id`` as ``person``'s maker space (``person.space_id = …`` and flush)."""
    connection.execute("UPDATE people SET space_id = ? WHERE id = ?", (space_id, person.id))
    person.space_id = space_id


def next_number(connection: sqlite3.Connection, year: int) -> str:
    """The next request number of ``year`` (:func:`requests.next_number`)."""
    row = connection.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1)"
        " ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        (f"request-{year}",),
    ).fetchone()
    return number_of(year, int(row[0]))


def insert_request(connection: sqlite3.Connection, request: Request) -> int:
    """Store a new request, built but not yet stored; its id (``session.add`` and flush)."""
    row = connection.execute(
        "INSERT INTO requests (number, person_id, channel, chat_id, category, text, phone,"
        " space_id, group_id, assignee, assignee_name, status, opened_at, due_date, deadline,"
        " provisional, first_reply_at, resolved_at, closed_at, result, satisfaction, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            request.number,
            request.person_id,
            request.channel,
            request.chat_id,
            request.category,
            request.text,
            request.phone,
            request.space_id,
            request.group_id,
            request.assignee,
            request.assignee_name,
            request.status.value,
            stored_time(request.opened_at),
            request.due_date.isoformat(),
            stored_time(request.deadline),
            int(request.provisional),
            _stored(request.first_reply_at),
            _stored(request.resolved_at),
            _stored(request.closed_at),
            request.result,
            request.satisfaction,
            stored_time(request.updated_at),
        ),
    ).fetchone()
    return int(row[0])


def add_event(
    connection: sqlite3.Connection,
    request_id: int,
    *,
    kind: str,
    actor: str,
    at: datetime,
    text: str | None,
    data: dict[str, object] | None,
) -> None:
    """Append to the request's log (:func:`requests.add_event`).

    The request's ``updated_at`` is the caller's to keep: a request just opened has it at
    ``at`` already.
    """
    connection.execute(
        "INSERT INTO request_events (request_id, at, kind, actor, text, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (request_id, stored_time(at), kind, actor, text, json.dumps(data)),
    )


def _stored(moment: datetime | None) -> str | None:
    return None if moment is None else stored_time(moment)
