"""The quarterly report as a file: counted from the database, rendered as PDF, HTML, CSV or MD.

The CLI writes it; in chat, ``/report`` queues a message with a description of it
(``report:2026Q4:pdf:district``), and the file maker (:mod:`bot.file_maker`) makes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from bot.reloadable import Reloadable
from bot.reports.engine import build_report
from bot.reports.figures import QuarterReport
from bot.reports.html import report_html
from bot.reports.pdf import PdfError, PdfPrinter
from bot.reports.period import Quarter
from bot.reports.tables import report_csv, report_markdown, scope_name
from storage.database import Database
from storage.reports import histories

__all__ = [
    "FORMATS",
    "ReportFile",
    "ReportMaker",
    "ReportSources",
    "file_name",
    "parse_spec",
    "read_report",
    "render_report",
    "report_spec",
]

log = logging.getLogger(__name__)

FORMATS = ("pdf", "html", "csv", "md")
_MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
_SPEC_PREFIX = "report:"


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A rendered report."""

    name: str
    """A file name that says what it is: ``季报-2026Q4-全市.pdf``."""
    media_type: str
    content: bytes


def report_spec(quarter: Quarter, fmt: str, district: str | None) -> str:
    """The outbox's description of a report file: ``report:2026Q4:pdf:`` (all districts)."""
    return f"{_SPEC_PREFIX}{quarter}:{fmt}:{district or ''}"


def parse_spec(spec: str) -> tuple[Quarter, str, str | None]:
    """The quarter, format and district of a :func:`report_spec`.

    Raises:
        ValueError: ``spec`` is not one.
    """
    if not spec.startswith(_SPEC_PREFIX):
        raise ValueError(f"not a report: {spec!r}")
    quarter, fmt, district = spec.removeprefix(_SPEC_PREFIX).split(":", 2)
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    return Quarter.parse(quarter), fmt, district or None


def file_name(quarter: Quarter, fmt: str, roster: Roster, district: str | None) -> str:
    """``季报-2026Q4-全市.pdf``, or with the district's name."""
    return f"季报-{quarter}-{scope_name(roster, district)}.{fmt}"


async def read_report(
    session: AsyncSession,
    quarter: Quarter,
    now: datetime,
    calendar: WorkCalendar,
    roster: Roster,
) -> QuarterReport:
    """Count ``quarter`` from the event log, up to ``now`` if it is still running."""
    found = await histories(session, quarter.start, quarter.end)
    district_of = {g.id: g.district for g in roster.groups}
    # Counting a big quarter takes seconds of CPU; a thread keeps the bot's chats answering.
    return await asyncio.to_thread(build_report, found, quarter, now, calendar, district_of)


async def render_report(
    report: QuarterReport,
    roster: Roster,
    district: str | None,
    fmt: str,
    printer: PdfPrinter | None = None,
) -> ReportFile:
    """Render ``report`` (only ``district``'s part, if given) in ``fmt``.

    Args:
        report: The counted quarter.
        roster: Names what the report counts.
        district: Only this district's part (its roster id); ``None``: the whole city's.
        fmt: One of :data:`FORMATS`.
        printer: Prints the PDF (default: one of its own, with the Chromium on PATH).

    Raises:
        bot.reports.pdf.PdfError: ``fmt`` is ``pdf`` and Chromium is missing or failed, or the
            disk is full.
    """
    quarter = report.quarter
    assert isinstance(quarter, Quarter)
    if fmt == "pdf":
        content = await (printer or PdfPrinter()).print(report_html(report, roster, district))
    elif fmt == "html":
        content = report_html(report, roster, district).encode("utf-8")
    elif fmt == "csv":
        content = report_csv(report, roster, district)
    else:
        content = report_markdown(report, roster, district).encode("utf-8")
    return ReportFile(file_name(quarter, fmt, roster, district), _MEDIA_TYPES[fmt], content)


class ReportSources(Protocol):
    """Where a report is counted from; the bot's services are one."""

    @property
    def database(self) -> Database:
        """The requests and their logs."""

    @property
    def clock(self) -> Clock:
        """The report's moment."""

    @property
    def roster(self) -> Reloadable[Roster]:
        """Names of districts, spaces and groups."""

    @property
    def calendar(self) -> Reloadable[WorkCalendar]:
        """Working days, for lateness."""


class ReportMaker:
    """Makes the report files that ``/report`` queues (for the file maker) and the console's."""

    def __init__(self, services: ReportSources, chromium: str | None = None) -> None:
        """Read from ``services``; print PDFs with ``chromium`` (found on PATH when unset).

        The console's downloads and the files ``/report`` sends share the one printer, so the
        process prints one PDF at a time.
        """
        self._services = services
        self._printer = PdfPrinter(chromium)

    def can_print(self) -> bool:
        """Whether a PDF can be printed here (Chromium is installed)."""
        return self._printer.can_print()

    async def make(self, spec: str) -> ReportFile:
        """The file ``spec`` describes, counted now; HTML when the PDF cannot be printed.

        Raises:
            ValueError: ``spec`` is not a report.
        """
        quarter, fmt, district = parse_spec(spec)
        services = self._services
        roster = services.roster.current
        async with services.database.unhurried() as session:
            report = await read_report(
                session, quarter, services.clock.now(), services.calendar.current, roster
            )
        try:
            return await render_report(report, roster, district, fmt, self._printer)
        except PdfError as error:
            # The supervisor still gets the report, charts and all, to print from a browser:
            # when Chromium is missing or failed, and when the disk is full.
            log.warning("report %s: no PDF (%s); sending HTML", spec, error)
            return await render_report(report, roster, district, "html")
