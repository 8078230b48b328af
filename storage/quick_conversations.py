"""An account's conversation in plain SQL, for the SQLite writer's units (:mod:`storage.writer`).

The counterparts of :mod:`storage.conversations` (named beside each), on the writer's connection
inside the unit's savepoint, writing the same rows the same way: the ORM reads them back
unchanged (the data as JSON text, the time as :func:`~storage.writer.stored_time`).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from storage.conversations import ConversationState
from storage.writer import stored_time

__all__ = ["clear", "load", "save"]


def load(connection: sqlite3.Connection, channel: str, user_id: str) -> ConversationState | None:
    """The account's conversation in progress, if any (:func:`conversations.load`)."""
    row = connection.execute(
        "SELECT kind, step, data FROM conversations WHERE channel = ? AND user_id = ?",
        (channel, user_id),
    ).fetchone()
    if row is None:
        return None
    kind, step, data = row
    return ConversationState(kind, step, json.loads(data))


def save(
    connection: sqlite3.Connection,
    channel: str,
    user_id: str,
    state: ConversationState,
    now: datetime,
) -> None:
    """Start or advance the account's conversation (:func:`conversations.save`)."""
    connection.execute(
        "INSERT INTO conversations (channel, user_id, kind, step, data, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, user_id) DO UPDATE SET"
        " kind = excluded.kind, step = excluded.step, data = excluded.data,"
        " updated_at = excluded.updated_at",
        (channel, user_id, state.kind, state.step, json.dumps(state.data), stored_time(now)),
    )


def clear(connection: sqlite3.Connection, channel: str, user_id: str) -> None:
    """End the account's conversation (:func:`conversations.clear`)."""
    connection.execute(
        "DELETE FROM conversations WHERE channel = ? AND user_id = ?", (channel, user_id)
    )
