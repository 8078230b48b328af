"""Admin commands; the roster alone says who is an admin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time

from bot.admin_files import FileReload, reload_all
from bot.clock import SHANGHAI
from bot.messages import IncomingMessage, Language, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import Texts, texts_for
from handlers.basics import reply
from handlers.desk import redate_all
from storage.stats import day_counts

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("admin")

_MAX_FAULTS_SHOWN = 10


@router.command("stats")
async def stats(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Today's counts: for an admin every group's, for a supervisor their districts'."""
    texts = texts_for(message.language)
    roles = context.roster.roles_of(message.channel.value, message.sender.user_id)
    if not (roles.is_admin or roles.supervisor_of):
        log.warning("/stats refused: %s:%s", message.channel, message.sender.user_id)
        return reply(message, texts.stats_only)
    roster = context.roster
    today = context.now.astimezone(SHANGHAI).date()
    start = datetime.combine(today, time.min, SHANGHAI)
    if roles.is_admin:
        groups, scope = None, "全部" if message.language is Language.ZH else "all"
    else:
        groups = [g.id for g in roster.groups if g.district in roles.supervisor_of]
        scope = "、".join(d.name for d in roster.districts if d.id in roles.supervisor_of)
    counts = await day_counts(context.session, groups, start, context.now)
    lines = [
        texts.stats.format(
            day=today.isoformat(),
            scope=scope,
            opened=counts.opened,
            resolved=counts.resolved,
            active=counts.active,
            overdue=counts.overdue,
            waiting=counts.waiting,
        )
    ]
    if roles.is_admin:
        lines.append(texts.stats_unanswered.format(count=counts.unanswered))
    return reply(message, "\n".join(lines))


@router.command("reload")
async def reload(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Reload FAQ files, roster and calendar; a faulty file is refused and its old one serves.

    After the calendar reloads, open requests are dated again and their entrepreneurs told
    of any date that moved, in this same transaction.
    """
    texts = texts_for(message.language)
    if not context.roster.roles_of(message.channel.value, message.sender.user_id).is_admin:
        log.warning("/reload refused: %s:%s is no admin", message.channel, message.sender.user_id)
        return reply(message, texts.admin_only)
    results = await reload_all(context.services, context.now)
    lines = [_line(texts, result) for result in results]
    notices: list[OutgoingMessage] = []
    if any(result.name == "calendar" and result.ok for result in results):
        moved, notices = await redate_all(context)
        if moved:
            lines.append(texts.redated.format(count=moved))
    return [*reply(message, "\n".join(lines)), *notices]


def _line(texts: Texts, result: FileReload) -> str:
    shown = "\n".join(result.faults[:_MAX_FAULTS_SHOWN])
    count = len(result.faults)
    if result.name == "knowledge":
        if result.ok:
            return texts.reload_ok.format(entries=result.size)
        return texts.reload_failed.format(count=count, faults=shown)
    if result.name == "roster":
        if result.ok:
            return texts.roster_reload_ok.format(groups=result.size)
        return texts.roster_reload_failed.format(count=count, faults=shown)
    if result.ok:
        return texts.calendar_reload_ok
    return texts.calendar_reload_failed.format(count=count, faults=shown)
