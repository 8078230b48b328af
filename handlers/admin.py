"""Admin commands; the roster alone says who is an admin."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import texts_for
from handlers.basics import reply

__all__ = ["router"]

router = Router("admin")

_MAX_FAULTS_SHOWN = 10


@router.command("reload")
async def reload(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Reload the knowledge base; a faulty one is refused and the old one keeps serving."""
    texts = texts_for(message.language)
    if not context.roster.roles_of(message.channel.value, message.sender.user_id).is_admin:
        return reply(message, texts.admin_only)
    report = await context.knowledge.reload(context.now)
    if report.ok:
        return reply(message, texts.reload_ok.format(entries=report.entries))
    shown = "\n".join(str(f) for f in report.faults[:_MAX_FAULTS_SHOWN])
    return reply(message, texts.reload_failed.format(count=len(report.faults), faults=shown))
