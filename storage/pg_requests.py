"""Opening requests on PostgreSQL, each statement for a whole batch of ``/new text``.

PostgreSQL's writer (:mod:`storage.pg_writer`) calls these on its asyncpg connection inside a
batch's transaction, as :mod:`storage.pg_quick` for plain questions. Each does for every opening
of the batch at once what its SQLite counterpart in :mod:`storage.quick_requests` (named beside
it) does for one. Values are stored exactly as the ORM stores them (times in UTC, JSON as the
text ``json.dumps`` gives, statuses as their values): the ORM reads every row back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from storage.pg_quick import utc
from storage.requests import number_of

T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")

__all__ = [
    "Account",
    "Event",
    "Planned",
    "Touch",
    "accounts",
    "add_events",
    "insert_requests",
    "next_numbers",
    "touch",
]

_ACCOUNTS = """
SELECT asked.n, identities.person_id, people.display_name, people.language, people.space_id,
    EXISTS (
        SELECT 1 FROM conversations
        WHERE conversations.channel = asked.channel AND conversations.user_id = asked.user_id
    )
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS asked(channel, user_id, n)
JOIN identities ON identities.channel = asked.channel AND identities.user_id = asked.user_id
JOIN people ON people.id = identities.person_id
"""

# One row per account and per person (the writer takes one opening of an account per batch).
_IDENTITIES = """
UPDATE identities SET chat_id = seen.chat_id,
    last_seen_at = GREATEST(identities.last_seen_at, seen.at)
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS seen(channel, user_id,
    chat_id, at)
WHERE identities.channel = seen.channel AND identities.user_id = seen.user_id
"""

_PEOPLE = """
UPDATE people SET display_name = seen.display_name, language = seen.language
FROM unnest($1::int[], $2::text[], $3::text[]) AS seen(id, display_name, language)
WHERE people.id = seen.id
"""

# The counter row stays locked until the batch commits: another process's opening waits for
# it, then counts on from the batch's last number; a batch rolled back gives its numbers back.
_NUMBERS = """
INSERT INTO counters (name, value) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value RETURNING value
"""

# Inserted in the arrays' order, so ascending ids are the input order (as storage.pg_quick).
_REQUESTS = """
INSERT INTO requests (number, person_id, channel, chat_id, category, text, phone, space_id,
    group_id, status, opened_at, due_date, deadline, provisional, updated_at)
SELECT number, person_id, channel, chat_id, category, text, phone, space_id, group_id, status,
    opened_at, due_date, deadline, provisional, updated_at
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::date[], $13::timestamptz[],
    $14::bool[], $15::timestamptz[])
    WITH ORDINALITY AS opened(number, person_id, channel, chat_id, category, text, phone,
        space_id, group_id, status, opened_at, due_date, deadline, provisional, updated_at, n)
ORDER BY n RETURNING id
"""

_REQUEST_COLUMNS = (
    "number",
    "person_id",
    "channel",
    "chat_id",
    "category",
    "text",
    "phone",
    "space_id",
    "group_id",
    "status",
    "opened_at",
    "due_date",
    "deadline",
    "provisional",
    "updated_at",
)

_EVENTS = """
INSERT INTO request_events (request_id, at, kind, actor, text, data)
SELECT request_id, at, kind, actor, text, data::json
FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])
    WITH ORDINALITY AS logged(request_id, at, kind, actor, text, data, n)
ORDER BY n
"""


@dataclass(frozen=True, slots=True)
class Account:
    """An account that wrote before, with its person, as an opening finds it."""

    person_id: int
    display_name: str | None
    language: str
    space_id: str | None
    in_conversation: bool
    """Whether a conversation is in progress (:func:`storage.quick.in_conversation`)."""


async def accounts(connection: Any, asked: Sequence[tuple[str, str]]) -> dict[int, Account]:
    """The ``asked`` accounts (channel, user id) that wrote before, by position (from 0)."""
    rows = await connection.fetch(_ACCOUNTS, [c for c, _ in asked], [u for _, u in asked])
    return {
        int(n) - 1: Account(person_id, name, language, space_id, busy)
        for n, person_id, name, language, space_id, busy in rows
    }


@dataclass(frozen=True, slots=True)
class Planned(Generic[T_co]):
    """A request the desk decided to open, all but its number and id."""

    year: int
    """The year whose numbers it takes."""
    at: datetime
    """The moment it opens: its opening event's, and its account's last seen."""
    columns: Callable[[str], Mapping[str, object]]
    """Its columns by name, once given its number."""
    kind: str
    actor: str
    text: str | None
    data: dict[str, object]
    """Its opening event: kind, who opened it, the words and the event's data."""
    replies: Callable[[int, str], T_co]
    """Given the request's id and number, what it says (runs in the batch, maybe twice)."""

    def then(self, more: Callable[[T_co], U]) -> Planned[U]:
        """The same request, what it says handed on to ``more``."""

        def replies(request_id: int, number: str) -> U:
            return more(self.replies(request_id, number))

        return Planned(
            self.year, self.at, self.columns, self.kind, self.actor, self.text, self.data, replies
        )


@dataclass(frozen=True, slots=True)
class Touch:
    """What an opening remembers of its account (:func:`storage.quick_requests.identify`)."""

    channel: str
    user_id: str
    chat_id: str
    """The chat that reaches the person now."""
    at: datetime
    """When they wrote: the account's last seen, unless it was later already."""
    person_id: int
    display_name: str | None
    """The person's name from now on: the one given, or the one stored."""
    language: str


async def touch(connection: Any, touched: Sequence[Touch]) -> None:
    """Remember each account's chat and time, and its person's name and language.

    At most one per account and per person: which of two would win is not said.
    """
    await connection.execute(
        _IDENTITIES,
        [t.channel for t in touched],
        [t.user_id for t in touched],
        [t.chat_id for t in touched],
        [utc(t.at) for t in touched],
    )
    await connection.execute(
        _PEOPLE,
        [t.person_id for t in touched],
        [t.display_name for t in touched],
        [t.language for t in touched],
    )


async def next_numbers(connection: Any, year: int, count: int) -> list[str]:
    """The next ``count`` request numbers of ``year``, in order (:func:`next_number`)."""
    last = int(await connection.fetchval(_NUMBERS, f"request-{year}", count))
    return [number_of(year, value) for value in range(last - count + 1, last + 1)]


async def insert_requests(connection: Any, rows: Sequence[Mapping[str, object]]) -> list[int]:
    """Store new requests, each its columns by name; their ids in the rows' order.

    Columns not named (the assignee, the result…) are empty, as a request just opened has them.
    """
    arrays = [[_stored(row.get(column)) for row in rows] for column in _REQUEST_COLUMNS]
    return sorted(int(row[0]) for row in await connection.fetch(_REQUESTS, *arrays))


@dataclass(frozen=True, slots=True)
class Event:
    """An entry of a request's log (:func:`storage.quick_requests.add_event`)."""

    request_id: int
    at: datetime
    kind: str
    actor: str
    text: str | None
    data: dict[str, object]


async def add_events(connection: Any, events: Sequence[Event]) -> None:
    """Append to the requests' logs, in order (:func:`storage.quick_requests.add_event`)."""
    await connection.execute(
        _EVENTS,
        [e.request_id for e in events],
        [utc(e.at) for e in events],
        [e.kind for e in events],
        [e.actor for e in events],
        [e.text for e in events],
        [json.dumps(e.data) for e in events],
    )


def _stored(value: object) -> object:
    """A column's value as asyncpg takes it: times in UTC, enums (statuses) as their values."""
    if isinstance(value, datetime):
        return utc(value)
    enum_value = getattr(value, "value", None)
    return enum_value if isinstance(enum_value, str) else value
