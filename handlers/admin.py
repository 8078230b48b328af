"""Admin commands; the roster alone says who is an admin."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time

from bot.admin_files import FileReload, reload_all
from bot.clock import SHANGHAI
from bot.desk import policy
from bot.desk.commands import SYSTEM, Redate
from bot.desk.service import execute
from bot.messages import Attachment, Channel, IncomingMessage, OutgoingMessage
from bot.reports.files import FORMATS, report_spec
from bot.reports.period import Quarter
from bot.routing import Context, Router
from bot.texts.chat import Texts, texts_for
from handlers.basics import refusal, reply
from storage.stats import day_counts

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("admin")

_MAX_FAULTS_SHOWN = 10
_FILE_CHANNELS = frozenset({Channel.TELEGRAM})
"""Where the bot can send a file it made. WeChat's customer-service messages carry no files,
and the web chat is the entrepreneurs' intake, where no supervisor is listed."""


@router.command("stats")
async def stats(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Today's counts: for an admin every group's, for a supervisor their districts'."""
    texts = texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    if not (roles.is_admin or roles.supervisor_of):
        log.warning("/stats refused: %s:%s", message.channel, message.sender.user_id)
        return refusal(message, roles, texts.stats_only)
    roster = context.roster
    today = context.now.astimezone(SHANGHAI).date()
    start = datetime.combine(today, time.min, SHANGHAI)
    if roles.is_admin:
        groups, scope = None, texts.all_groups
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


@router.command("report")
async def report(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The quarter's report as a file: ``/report [2026Q4] [pdf|html|csv]``.

    An admin gets the whole city's, a supervisor one file per district they supervise. Each
    file is a job of its own (:mod:`bot.file_maker`): counted and rendered moments after this
    answer, off the delivery loop, and sent once made.
    """
    texts = texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    scope = policy.report_scope(roles, context.roster)
    if scope is None:
        log.warning("/report refused: %s:%s", message.channel, message.sender.user_id)
        return refusal(message, roles, texts.report_only)
    quarter, fmt = Quarter.of(context.now), "pdf"
    for word in message.command_args.split():
        if word.lower() in FORMATS:
            fmt = word.lower()
            continue
        try:
            quarter = Quarter.parse(word)
        except ValueError:
            return reply(message, texts.report_usage)
    if quarter.start > context.now:
        return reply(message, texts.report_not_started.format(quarter=quarter))
    if message.channel not in _FILE_CHANNELS:
        return reply(message, texts.report_no_files.format(quarter=quarter))
    roster = context.roster
    districts = scope.default
    names = {d.id: d.name for d in roster.districts}
    everywhere = texts.whole_city
    shown = "、".join(names.get(d, d) for d in districts if d) or everywhere
    answers = list(reply(message, texts.report_making.format(quarter=quarter, scope=shown)))
    for district in districts:
        title = f"{quarter.label} · {names.get(district, everywhere) if district else everywhere}"
        answers.append(
            OutgoingMessage(
                message.chat_id,
                message.channel,
                texts.report_caption.format(title=title),
                attachments=(Attachment("document", made=report_spec(quarter, fmt, district)),),
                language=message.language,
            )
        )
    return answers


@router.command("reload")
async def reload(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Reload FAQ files, roster and calendar; a faulty file is refused and its old one serves.

    After the calendar reloads, open requests are dated again and their entrepreneurs told
    of any date that moved, in this same transaction.
    """
    texts = texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    if not roles.is_admin:
        log.warning("/reload refused: %s:%s is no admin", message.channel, message.sender.user_id)
        return refusal(message, roles, texts.admin_only)
    results = await reload_all(context.services, context.now)
    lines = [_line(texts, result) for result in results]
    notices: list[OutgoingMessage] = []
    if any(result.name == "calendar" and result.ok for result in results):
        redated = await execute(context, SYSTEM, Redate())
        notices = redated.messages
        if redated.count:
            lines.append(texts.redated.format(count=redated.count))
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
