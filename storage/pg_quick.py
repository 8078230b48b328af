"""The quick lane's statements on PostgreSQL, each one statement for a whole batch.

PostgreSQL's writer (:mod:`storage.pg_writer`) calls these on its asyncpg connection inside a
batch's transaction. Each does for every message of the batch at once what its SQLite
counterpart in :mod:`storage.quick` (named beside it) does for one: the values travel as arrays
and ``unnest`` turns them into rows. The statements' texts never change, so asyncpg prepares
each once per connection and reuses it.

Values are stored exactly as the ORM stores them: times as ``timestamptz`` in UTC (a time
without a zone is refused), payloads as the JSON text ``json.dumps`` gives, statuses as their
values. The ORM reads every row back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.lifecycle import BEING_WORKED_ON
from storage.answers import AnswerRow
from storage.models import OutboxStatus
from storage.questions import GapRow
from storage.quick import StoredReply

__all__ = [
    "Queued",
    "claim_keys",
    "enqueue",
    "keep_answers",
    "keep_gaps",
    "replies_to",
    "spoken_for",
    "utc",
]

_WORKED_ON = [status.value for status in BEING_WORKED_ON]

_SPOKEN_FOR = """
SELECT asked.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS asked(channel, user_id, n)
WHERE EXISTS (
    SELECT 1 FROM conversations
    WHERE conversations.channel = asked.channel AND conversations.user_id = asked.user_id
) OR EXISTS (
    SELECT 1 FROM requests JOIN identities ON identities.person_id = requests.person_id
    WHERE identities.channel = asked.channel AND identities.user_id = asked.user_id
    AND requests.status = ANY($3::text[])
)
"""

# In the keys' order: two batches (two processes) claiming the same keys lock them in the same
# order, so neither waits for the other in a cycle.
_CLAIM = """
INSERT INTO inbound_keys (key, received_at)
SELECT key, received_at FROM unnest($1::text[], $2::timestamptz[]) AS claimed(key, received_at)
ORDER BY key
ON CONFLICT DO NOTHING RETURNING key
"""

_REPLIES = """
SELECT inbound_key, channel, chat_id, payload::text, status FROM outbox
WHERE inbound_key = ANY($1::text[]) ORDER BY id
"""

# Rows are inserted in the arrays' order (ORDER BY n), each taking the next id of its table's
# sequence: ascending ids are the input order, whatever order RETURNING gives them in.
_ANSWERS = """
INSERT INTO answered_questions (answered_at, channel, chat_id, text, faq_id, score, picked)
SELECT answered_at, channel, chat_id, text, faq_id, score, false
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
    WITH ORDINALITY AS kept(answered_at, channel, chat_id, text, faq_id, score, n)
ORDER BY n RETURNING id
"""

_GAPS = """
INSERT INTO unanswered_questions (asked_at, channel, chat_id, text, band, best_faq_id, best_score)
SELECT asked_at, channel, chat_id, text, band, best_faq_id, best_score
FROM unnest(
    $1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[]
) WITH ORDINALITY AS kept(asked_at, channel, chat_id, text, band, best_faq_id, best_score, n)
ORDER BY n RETURNING id
"""

_ENQUEUE = """
INSERT INTO outbox (channel, chat_id, payload, created_at, inbound_key, request_id, status,
    attempts, next_attempt_at, sent_at)
SELECT channel, chat_id, payload::json, created_at, inbound_key, request_id, status, 0,
    created_at, sent_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::int[],
    $7::text[], $8::timestamptz[])
    WITH ORDINALITY AS queued(channel, chat_id, payload, created_at, inbound_key, request_id,
        status, sent_at, n)
ORDER BY n
"""


def utc(moment: datetime) -> datetime:
    """``moment`` as the ORM stores a :class:`storage.models.UtcDateTime`."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    return moment.astimezone(UTC)


async def spoken_for(connection: Any, accounts: Sequence[tuple[str, str]]) -> set[int]:
    """The positions (from 0) of the ``accounts`` (channel, user id) that are spoken for.

    Spoken for: a conversation in progress or a request still being worked on
    (:func:`storage.quick.spoken_for`).
    """
    rows = await connection.fetch(
        _SPOKEN_FOR, [c for c, _ in accounts], [u for _, u in accounts], _WORKED_ON
    )
    return {int(row[0]) - 1 for row in rows}


async def claim_keys(connection: Any, claims: Sequence[tuple[str, datetime]]) -> set[str]:
    """Record each key as handled at its time; the keys that were not already.

    :func:`storage.quick.claim_key` for a batch. On a key another transaction has just claimed,
    the statement waits for that transaction, then finds the key taken or free.
    """
    rows = await connection.fetch(_CLAIM, [k for k, _ in claims], [utc(t) for _, t in claims])
    return {str(row[0]) for row in rows}


async def replies_to(connection: Any, keys: Sequence[str]) -> dict[str, list[StoredReply]]:
    """What the bot answered to each of ``keys``, in order (:func:`storage.quick.replies_to`)."""
    found: dict[str, list[StoredReply]] = {key: [] for key in keys}
    for key, channel, chat_id, payload, status in await connection.fetch(_REPLIES, list(keys)):
        found[key].append(StoredReply(channel, chat_id, json.loads(payload), OutboxStatus(status)))
    return found


async def keep_answers(connection: Any, rows: Sequence[AnswerRow]) -> list[int]:
    """Keep answers; their ids, in the order of ``rows`` (:func:`storage.quick.keep_answer`)."""
    columns = ("answered_at", "channel", "chat_id", "text", "faq_id", "score")
    return await _kept(connection, _ANSWERS, rows, columns)


async def keep_gaps(connection: Any, rows: Sequence[GapRow]) -> list[int]:
    """Keep questions not answered; their ids in the order of ``rows`` (``keep_unanswered``)."""
    columns = ("asked_at", "channel", "chat_id", "text", "band", "best_faq_id", "best_score")
    return await _kept(connection, _GAPS, rows, columns)


async def _kept(
    connection: Any, insert: str, rows: Sequence[Mapping[str, object]], columns: Sequence[str]
) -> list[int]:
    """Run ``insert`` on the arrays of ``rows``' ``columns``; the new ids in the rows' order."""
    arrays = [
        [utc(value) if isinstance(value, datetime) else value for value in values]
        for values in ([row[column] for row in rows] for column in columns)
    ]
    return sorted(int(row[0]) for row in await connection.fetch(insert, *arrays))


@dataclass(frozen=True, slots=True)
class Queued:
    """A reply to keep in the outbox."""

    channel: str
    chat_id: str
    payload: dict[str, object]
    handed_back: bool
    """Handed back in the HTTP response: stored sent, never pushed; otherwise pending."""
    request_id: int | None = None
    """The request the reply is about, if any (a request's confirmation names it)."""


async def enqueue(connection: Any, replies: Sequence[tuple[str, datetime, Queued]]) -> None:
    """Add replies to the outbox in order (:func:`storage.quick.enqueue`).

    Each comes with the key of the message it answers and the time that was handled at.
    """
    at = [utc(now) for _, now, _ in replies]
    await connection.execute(
        _ENQUEUE,
        [reply.channel for _, _, reply in replies],
        [reply.chat_id for _, _, reply in replies],
        [json.dumps(reply.payload) for _, _, reply in replies],
        at,
        [key for key, _, _ in replies],
        [reply.request_id for _, _, reply in replies],
        [
            (OutboxStatus.HANDED_BACK if reply.handed_back else OutboxStatus.PENDING).value
            for _, _, reply in replies
        ],
        [t if reply.handed_back else None for t, (_, _, reply) in zip(at, replies, strict=True)],
    )
