"""What admins edit (FAQ files, roster, working-day overrides), reloaded together.

``/reload`` and SIGHUP both come here. Each file is read and checked on its own: a faulty one is
refused with its faults (file and line) and the version that was serving stays, while the others
still reload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.roster import RosterError
from bot.routing import Services
from bot.workdays import CalendarError

__all__ = ["FileReload", "reload_all"]

log = logging.getLogger(__name__)


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


async def reload_all(services: Services, now: datetime) -> tuple[FileReload, ...]:
    """Reload the knowledge base, the roster and the calendar; keep each old one on faults."""
    knowledge = await services.knowledge.reload(now)
    results = [
        FileReload(
            "knowledge", knowledge.ok, tuple(str(f) for f in knowledge.faults), knowledge.entries
        )
    ]
    try:
        roster = await services.roster.reload()
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
