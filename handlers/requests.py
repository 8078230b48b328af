"""Service requests (工单). Intake arrives with the request lifecycle; until then, say how."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import texts_for
from handlers.basics import reply
from handlers.faq import ASK_COMMISSIONER

__all__ = ["router"]

router = Router("requests")


@router.command("new", "tickets", "space", "cancel")
async def not_ready(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Explain how to reach the commissioners until online requests open."""
    return reply(message, texts_for(message.language).request_not_ready)


@router.choice(ASK_COMMISSIONER)
async def ask_commissioner(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The "ask a commissioner" button."""
    return await not_ready(message, context)
