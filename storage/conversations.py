"""Multi-step conversations (request intake), kept in the database across restarts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

__all__ = ["ConversationState", "clear", "load", "save"]


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Where a user is in a conversation."""

    kind: str
    step: str
    data: dict[str, object]


async def load(session: AsyncSession, channel: str, user_id: str) -> ConversationState | None:
    """The user's conversation in progress, if any."""
    row = await session.get(Conversation, (channel, user_id), with_for_update=True)
    return None if row is None else ConversationState(row.kind, row.step, dict(row.data))


async def save(
    session: AsyncSession,
    channel: str,
    user_id: str,
    state: ConversationState,
    now: datetime,
) -> None:
    """Start or advance the user's conversation."""
    row = await session.get(Conversation, (channel, user_id))
    if row is None:
        session.add(
            Conversation(
                channel=channel,
                user_id=user_id,
                kind=state.kind,
                step=state.step,
                data=state.data,
                updated_at=now,
            )
        )
    else:
        row.kind, row.step, row.data, row.updated_at = state.kind, state.step, state.data, now


async def clear(session: AsyncSession, channel: str, user_id: str) -> None:
    """End the user's conversation."""
    await session.execute(
        delete(Conversation).where(Conversation.channel == channel, Conversation.user_id == user_id)
    )
