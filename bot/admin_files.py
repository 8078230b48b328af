"""What admins edit (FAQ files, roster, working-day overrides), reloaded together.

``/reload`` and SIGHUP both come here. Each file is read and checked on its own: a faulty one is
refused with its faults (file and line) and the version that was serving stays, while the others
still reload.

A roster is also checked against the requests still being worked on: one that drops a maker
space or a duty group they name would leave them unworkable, so it is refused like a typo,
naming the requests and what to do first. A roster that lacks such ids already (at start-up)
is served, with a warning: the requests show their stored ids, and a group that is gone has
no chats to post to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.domain.lifecycle import BEING_WORKED_ON, REOPEN_WORKDAYS, Status
from bot.domain.roster.faults import RosterError, RosterFault
from bot.domain.roster.model import Roster
from bot.domain.workday_overrides import CalendarError
from bot.routing import Services
from storage import requests
from storage.database import UNAVAILABLE

__all__ = ["FileReload", "Stranded", "reload_all", "stranded", "warn_stranded"]

log = logging.getLogger(__name__)

STILL_WORKED = (*BEING_WORKED_ON, Status.RESOLVED)
"""Statuses of a request someone may still act on: a resolved one can be reopened."""
NUMBERS_SHOWN = 5
"""Request numbers named in a fault or warning; the count says how many more there are."""

# Messages to the admin, in the roster's words (bot.domain.roster.faults), with file and line.
_SPACE_STRANDED = (
    "众创空间 {id}（{name}）不在新名册中，但还有 {count} 个未关闭的工单属于它：{numbers}。"
    "请保留这个众创空间，直到这些工单关闭。"
)
_GROUP_STRANDED = (
    "服务小组 {id}（{name}）不在新名册中，但还有 {count} 个未关闭的工单由它承办：{numbers}。"
    "请先让组员用 /transfer 编号 小组编号 把它们转交给其他小组，"
    "或保留这个小组，直到这些工单关闭。"
)
_UNCHECKED = (
    "数据库暂时无法访问，没能核对未关闭的工单会不会失去众创空间或服务小组，请稍后再重新加载。"
)
_MORE = " 等"


@dataclass(frozen=True, slots=True)
class FileReload:
    """How reloading one kind of file went.

    Attributes:
        name: ``knowledge``, ``roster`` or ``calendar``.
        ok: The new version serves.
        faults: Each fault as ``file:line: 说明``; empty when ``ok``.
        size: Entries (knowledge), duty groups (roster); 0 for the calendar.
    """

    name: str
    ok: bool
    faults: tuple[str, ...] = ()
    size: int = 0


@dataclass(frozen=True, slots=True)
class Stranded:
    """A maker space or duty group a roster lacks, and the requests still naming it.

    Attributes:
        section: ``spaces`` or ``groups``: the roster section it belongs in.
        id: The space's or group's id, as the requests store it.
        numbers: The requests' numbers, in the order they were opened.
    """

    section: str
    id: str
    numbers: tuple[str, ...]

    def shown(self) -> str:
        """The first few numbers, and a mark when there are more."""
        more = _MORE if len(self.numbers) > NUMBERS_SHOWN else ""
        return "、".join(self.numbers[:NUMBERS_SHOWN]) + more


async def stranded(services: Services, roster: Roster, now: datetime) -> tuple[Stranded, ...]:
    """The spaces and groups ``roster`` lacks that requests still being worked on name.

    A resolved request counts while its entrepreneur may still reopen it; after that it only
    waits to close itself, which needs no space or group.
    """
    spaces = {space.id for space in roster.spaces}
    groups = {group.id for group in roster.groups}
    calendar = services.calendar.current
    async with services.database.sessions() as session:
        found = await requests.outside(session, spaces=spaces, groups=groups, statuses=STILL_WORKED)
    named: dict[tuple[str, str], list[str]] = {}
    for request in found:
        if request.status == Status.RESOLVED and (
            request.resolved_at is None
            or calendar.working_days_between(request.resolved_at, now) > REOPEN_WORKDAYS
        ):
            continue
        if request.space_id not in spaces:
            named.setdefault(("spaces", request.space_id), []).append(request.number)
        if request.group_id not in groups:
            named.setdefault(("groups", request.group_id), []).append(request.number)
    return tuple(
        Stranded(section, item_id, tuple(numbers))
        for (section, item_id), numbers in sorted(named.items())
    )


async def warn_stranded(services: Services, now: datetime) -> tuple[Stranded, ...]:
    """Log a warning for each space or group the serving roster lacks but requests name.

    At start-up such a roster still serves (refusing to start would stop every other
    request too); the warning tells the admin which ids to put back or requests to transfer.
    """
    try:
        found = await stranded(services, services.roster.current, now)
    except UNAVAILABLE:
        log.warning("could not check the roster against open requests: database unavailable")
        return ()
    for item in found:
        _warn(item)
    return found


def _warn(item: Stranded) -> None:
    kind = "space" if item.section == "spaces" else "group"
    numbers = ", ".join(item.numbers[:NUMBERS_SHOWN])
    more = "…" if len(item.numbers) > NUMBERS_SHOWN else ""
    log.warning(
        "the roster lacks %s %s, yet %d requests still being worked on name it: %s%s; %s",
        kind,
        item.id,
        len(item.numbers),
        numbers,
        more,
        "they show its id"
        if kind == "space"
        else "nothing is posted for them (the console shows them); transfer them or restore it",
    )


async def reload_all(services: Services, now: datetime) -> tuple[FileReload, ...]:
    """Reload the knowledge base, the roster and the calendar; keep each old one on faults."""
    knowledge = await services.knowledge.reload(now)
    results = [
        FileReload(
            "knowledge", knowledge.ok, tuple(str(f) for f in knowledge.faults), knowledge.entries
        )
    ]
    serving = services.roster.current

    async def keeps_requests_workable(fresh: Roster) -> None:
        try:
            found = await stranded(services, fresh, now)
        except UNAVAILABLE:
            raise RosterError([RosterFault(_file_of(fresh), 0, _UNCHECKED)]) from None
        removed = [item for item in found if _listed(serving, item)]
        if removed:
            raise RosterError(_fault(fresh, serving, item) for item in removed)
        for item in found:  # missing before this reload too: not this file's doing
            _warn(item)

    try:
        roster = await services.roster.reload(keeps_requests_workable)
    except RosterError as error:
        faults = tuple(str(f) for f in error.faults)
        log.warning("roster reload refused: %d faults; still serving the old one", len(faults))
        for fault in faults:
            log.warning("  %s", fault)
        results.append(FileReload("roster", False, faults, len(services.roster.current.groups)))
    else:
        log.info("roster reloaded: %d groups, %d spaces", len(roster.groups), len(roster.spaces))
        results.append(FileReload("roster", True, (), len(roster.groups)))
    try:
        await services.calendar.reload()
    except CalendarError as error:
        log.warning(
            "calendar reload refused: %d faults; still serving the old one", len(error.faults)
        )
        for fault in error.faults:
            log.warning("  %s", fault)
        results.append(FileReload("calendar", False, error.faults))
    else:
        log.info("working-day calendar reloaded")
        results.append(FileReload("calendar", True))
    return tuple(results)


def _listed(roster: Roster, item: Stranded) -> bool:
    listed = roster.spaces if item.section == "spaces" else roster.groups
    return any(entry.id == item.id for entry in listed)


def _file_of(roster: Roster) -> Path:
    return roster.source or Path("roster.yaml")


def _fault(fresh: Roster, serving: Roster, item: Stranded) -> RosterFault:
    """The fault of a reload that drops ``item``, on the line of the list it belongs in."""
    if item.section == "spaces":
        template, name = _SPACE_STRANDED, serving.space(item.id).name
    else:
        template, name = _GROUP_STRANDED, serving.group(item.id).name
    message = template.format(id=item.id, name=name, count=len(item.numbers), numbers=item.shown())
    return RosterFault(_file_of(fresh), fresh.section_line(item.section), message)
