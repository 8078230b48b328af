"""The hot paths' statements, in plain SQL for the SQLite writer's units (:mod:`storage.writer`).

Each function takes the writer's connection, inside the unit's savepoint, and does what its
ORM counterpart does (named beside it) with the same rows: the ORM reads them back unchanged.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from bot.domain.lifecycle import BEING_WORKED_ON
from storage.models import OutboxStatus
from storage.writer import stored_time

__all__ = [
    "StoredReply",
    "claim_key",
    "enqueue",
    "in_conversation",
    "keep_answer",
    "keep_unanswered",
    "replies_to",
    "spoken_for",
]

_WORKED_ON = tuple(status.value for status in BEING_WORKED_ON)
# Only placeholders are joined in, one per status.
_ACTIVE = (
    "SELECT 1 FROM requests JOIN identities ON identities.person_id = requests.person_id"  # noqa: S608
    " WHERE identities.channel = ? AND identities.user_id = ?"
    f" AND requests.status IN ({', '.join('?' for _ in _WORKED_ON)}) LIMIT 1"
)


def claim_key(connection: sqlite3.Connection, key: str, now: datetime) -> bool:
    """Record ``key`` as handled; ``False`` when it already was (:func:`outbox.claim_inbound`)."""
    found = connection.execute(
        "INSERT INTO inbound_keys (key, received_at) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING RETURNING key",
        (key, stored_time(now)),
    ).fetchone()
    return found is not None


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A reply stored for an incoming message, for its redelivery."""

    channel: str
    chat_id: str
    payload: dict[str, object]
    status: OutboxStatus


def replies_to(connection: sqlite3.Connection, key: str) -> list[StoredReply]:
    """What the bot answered to the message ``key``, in order (:func:`outbox.replies_to`)."""
    rows = connection.execute(
        "SELECT channel, chat_id, payload, status FROM outbox WHERE inbound_key = ? ORDER BY id",
        (key,),
    ).fetchall()
    return [
        StoredReply(channel, chat_id, json.loads(payload), OutboxStatus(status))
        for channel, chat_id, payload, status in rows
    ]


def spoken_for(connection: sqlite3.Connection, channel: str, user_id: str) -> bool:
    """Whether the account's next text may belong elsewhere than to the FAQ.

    True when it has a conversation in progress (:func:`conversations.load`) or a request
    still being worked on (:func:`requests.active_for_account`): those messages take the
    full path, whose handlers decide.
    """
    if in_conversation(connection, channel, user_id):
        return True
    return connection.execute(_ACTIVE, (channel, user_id, *_WORKED_ON)).fetchone() is not None


def in_conversation(connection: sqlite3.Connection, channel: str, user_id: str) -> bool:
    """Whether the account has a conversation in progress (:func:`conversations.load`)."""
    found = connection.execute(
        "SELECT 1 FROM conversations WHERE channel = ? AND user_id = ?", (channel, user_id)
    ).fetchone()
    return found is not None


def keep_answer(
    connection: sqlite3.Connection,
    *,
    answered_at: datetime,
    channel: str,
    chat_id: str,
    text: str,
    faq_id: str,
    score: float | None,
) -> int:
    """Keep one answer; its id for the rating buttons (:func:`answers.record_answer`)."""
    row = connection.execute(
        "INSERT INTO answered_questions (answered_at, channel, chat_id, text, faq_id, score,"
        " picked) VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING id",
        (stored_time(answered_at), channel, chat_id, text, faq_id, score),
    ).fetchone()
    return int(row[0])


def keep_unanswered(
    connection: sqlite3.Connection,
    *,
    asked_at: datetime,
    channel: str,
    chat_id: str,
    text: str,
    band: str,
    best_faq_id: str | None,
    best_score: float,
) -> int:
    """Keep a question not answered outright (:func:`questions.record_unanswered`)."""
    row = connection.execute(
        "INSERT INTO unanswered_questions (asked_at, channel, chat_id, text, band, best_faq_id,"
        " best_score) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (stored_time(asked_at), channel, chat_id, text, band, best_faq_id, best_score),
    ).fetchone()
    return int(row[0])


def enqueue(
    connection: sqlite3.Connection,
    *,
    channel: str,
    chat_id: str,
    payload: dict[str, object],
    now: datetime,
    inbound_key: str | None,
    handed_back: bool,
    request_id: int | None = None,
) -> None:
    """Add a message to deliver, or one handed back (:func:`outbox.enqueue`)."""
    at = stored_time(now)
    status = OutboxStatus.HANDED_BACK if handed_back else OutboxStatus.PENDING
    connection.execute(
        "INSERT INTO outbox (channel, chat_id, payload, created_at, inbound_key, request_id,"
        " status, attempts, next_attempt_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (
            channel,
            chat_id,
            json.dumps(payload),
            at,
            inbound_key,
            request_id,
            status.value,
            at,
            at if handed_back else None,
        ),
    )
