"""The supervisors' view of their districts (Article 8), and the quarterly report picker.

A supervisor (a district's ``supervisors`` in the roster) reads, and only reads, the overdue,
due-soon and open requests of every duty group of their districts, grouped by group, with each
group's figures for the current quarter. The figures are the quarterly report's own
(:mod:`bot.reports`), counted at most once a minute for all supervisors together: counting a
quarter reads its whole event log, and the page asks again every few seconds.

Nothing here changes a request: the cards offer no moves, and a supervisor's move sent to
``/console/api/act`` anyway is refused by the desk, which acts only for a group's members.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.channels.console import board
from bot.channels.console.auth import ConsoleAuth
from bot.channels.console.http import Refused, guarded, json_response
from bot.clock import SHANGHAI
from bot.desk import policy, queries
from bot.desk.queries import Section
from bot.domain.roster.model import Roster
from bot.reports.figures import Figures, QuarterReport
from bot.reports.files import ReportSources, read_report
from bot.reports.period import FIRST_YEAR, Quarter
from bot.reports.tables import COLUMNS, ReportRow
from bot.texts.console import CONSOLE_TEXTS
from storage import console

__all__ = ["FIGURES_KEPT", "FIGURE_COLUMNS", "DistrictView", "report_picker"]

FIGURE_COLUMNS = ("收到", "办结", "按期办结", "按期率", "当前超期", "满意度均分", "评价数")
"""The report's columns a group's row shows, by the report's own names."""
_PICKED = tuple(COLUMNS.index(name) for name in FIGURE_COLUMNS)
FIGURES_KEPT = timedelta(minutes=1)
"""How long a count of the current quarter serves before it is counted again."""
SHOWN = (Section.OVERDUE, Section.DUE_SOON, Section.ACTIVE)
"""The board's sections a supervisor sees: what is not done yet."""
QUARTERS_OFFERED = 4
"""The picker offers at least this many quarters, back from the current one."""
QUARTERS_MOST = 40
"""And at most this many: ten years of work."""
_FORMATS = ("pdf", "html", "csv")


class DistrictView:
    """``GET /console/api/district``: the signed-in supervisor's districts."""

    def __init__(self, sources: ReportSources, auth: ConsoleAuth) -> None:
        """Read requests and figures from ``sources``; know who asks from ``auth``."""
        self._sources = sources
        self._auth = auth
        self._counted: tuple[datetime, QuarterReport] | None = None
        self._counting = asyncio.Lock()

    def register(self, app: web.Application) -> None:
        """Add the view's API to ``app``."""
        app.router.add_get("/console/api/district", guarded(self._district))

    async def _district(self, request: web.Request) -> web.StreamResponse:
        who = await self._auth.commissioner(request)
        districts = sorted(who.roles.supervisor_of)
        if not districts:
            raise Refused(403, CONSOLE_TEXTS.district_only)
        sources = self._sources
        roster = sources.roster.current
        now = sources.clock.now()
        groups = [g for g in roster.groups if g.district in districts]
        async with sources.database.sessions() as session:
            found = await queries.board(
                session, [g.id for g in groups], sources.calendar.current, now
            )
        report = await self._figures(now)
        cards: dict[str, dict[str, list[dict[str, Any]]]] = {
            g.id: {section.value: [] for section in SHOWN} for g in groups
        }
        for section in SHOWN:
            for item in found.sections[section]:
                cards[item.request.group_id][section.value].append(
                    board.card(roster, item, read_only=True)
                )
        names = {d.id: d.name for d in roster.districts}
        return json_response(
            {
                "quarter": {"id": str(report.quarter), "label": report.quarter.label},
                "as_of": report.as_of.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                "columns": list(FIGURE_COLUMNS),
                "sections": [
                    {"id": s.value, "label": CONSOLE_TEXTS.district_sections[s.value]}
                    for s in SHOWN
                ],
                "districts": [
                    {
                        "id": district,
                        "name": names.get(district, district),
                        "figures": _cells(report.districts.get(district)),
                        "groups": [
                            {
                                "id": g.id,
                                "name": g.name,
                                "figures": _cells(report.groups.get(g.id)),
                                "sections": cards[g.id],
                            }
                            for g in groups
                            if g.district == district
                        ],
                    }
                    for district in districts
                ],
            }
        )

    async def _figures(self, now: datetime) -> QuarterReport:
        """The current quarter's report, counted again once :data:`FIGURES_KEPT` has passed."""
        async with self._counting:  # one count at a time: the others wait and share it
            quarter = Quarter.of(now)
            kept = self._counted
            if kept is not None:
                counted_at, report = kept
                if report.quarter == quarter and counted_at <= now < counted_at + FIGURES_KEPT:
                    return report
            sources = self._sources
            async with sources.database.unhurried() as session:
                report = await read_report(
                    session, quarter, now, sources.calendar.current, sources.roster.current
                )
            self._counted = (now, report)
            return report


def _cells(figures: Figures | None) -> list[str]:
    """The row's figures as the report prints them (a group with nothing yet: zeros)."""
    cells = ReportRow("", "", figures or Figures()).cells()
    return [cells[i] for i in _PICKED]


async def report_picker(
    sources: ReportSources, scope: policy.ReportScope, roster: Roster
) -> dict[str, Any]:
    """What the page's report picker offers: the quarters, the formats, the districts.

    Any quarter from the current one back to the first request's (and at least
    :data:`QUARTERS_OFFERED`); the whole city for an admin, each district in ``scope``.
    """
    texts = CONSOLE_TEXTS
    current = Quarter.of(sources.clock.now())
    async with sources.database.sessions() as session:
        first = await console.first_opened_at(session)
    oldest = Quarter.of(first) if first is not None else current
    quarters = [current]
    while len(quarters) < QUARTERS_MOST:
        earlier = _before(quarters[-1])
        if earlier is None or (len(quarters) >= QUARTERS_OFFERED and earlier.start < oldest.start):
            break
        quarters.append(earlier)
    names = {d.id: d.name for d in roster.districts}
    places = [*((None,) if scope.city else ()), *scope.districts]
    return {
        "quarters": [{"id": str(q), "label": q.label} for q in quarters],
        "formats": [{"id": f, "label": texts.report_formats[f]} for f in _FORMATS],
        "districts": [
            {"id": place or "", "name": names.get(place, place) if place else texts.whole_city}
            for place in places
        ],
    }


def _before(quarter: Quarter) -> Quarter | None:
    """The quarter before ``quarter``; ``None`` before the reports' first year."""
    if quarter.number > 1:
        return Quarter(quarter.year, quarter.number - 1)
    return Quarter(quarter.year - 1, 4) if quarter.year > FIRST_YEAR else None
