"""``python -m bot report``: the Article 8 quarterly report, and the commissioners' archive."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bot.app import DemoRefused, roster_file
from bot.cli.demo import refuse_demo
from bot.clock import SystemClock
from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import load_roster
from bot.domain.roster.model import Roster
from bot.domain.workday_overrides import CalendarError
from bot.domain.workdays import WorkCalendar
from bot.reports.engine import count_periods
from bot.reports.files import render_report
from bot.reports.pdf import PdfError, PdfPrinter
from bot.reports.period import FIRST_YEAR, LAST_YEAR, Period, Quarter, Year
from bot.reports.tables import archive_csv, archive_markdown
from bot.settings import Settings
from storage import Database
from storage.database import UNHURRIED

__all__ = ["report"]


def report(args: argparse.Namespace, settings: Settings) -> int:
    """Count the period and print or write the report; 2 for a usage fault."""
    now = SystemClock().now()
    fault = _report_usage_fault(args)
    if fault:
        print(fault, file=sys.stderr)
        return 2
    try:
        quarter = Quarter.parse(args.quarter) if args.quarter else Quarter.of(now)
    except ValueError:
        print(
            f"季度写法不对：{args.quarter!r}。请写成 2026Q4 这样，年份在 {FIRST_YEAR} 到 "
            f"{LAST_YEAR} 之间。",
            file=sys.stderr,
        )
        return 2
    try:
        period: Period = Year(args.year) if args.archive else quarter
    except ValueError:
        print(
            f"年份不对：{args.year}。请写 {FIRST_YEAR} 到 {LAST_YEAR} 之间的年份。", file=sys.stderr
        )
        return 2
    try:
        roster = load_roster(roster_file(settings))
        calendar = WorkCalendar.load(settings.calendar)
    except DemoRefused as refused:
        refuse_demo(refused)
        return 2
    except (RosterError, CalendarError) as error:
        print(f"无法生成季报：{error}", file=sys.stderr)
        return 1
    districts = {d.id for d in roster.districts}
    if args.district and args.district not in districts:
        print(f"名册里没有区 {args.district}；有：{'、'.join(sorted(districts))}", file=sys.stderr)
        return 2
    body: list[bytes] = []
    try:
        asyncio.run(
            _report_body(
                args,
                settings,
                roster=roster,
                calendar=calendar,
                period=period,
                now=now,
                body=body,
            )
        )
    except PdfError as error:
        print(f"无法生成 PDF：{error}", file=sys.stderr)
        return 1
    if args.out:
        try:
            args.out.write_bytes(body[0])
        except OSError as error:  # a full disk, a folder that is not there, no permission
            print(f"无法写入 {args.out}：{error.strerror or error}", file=sys.stderr)
            return 1
        print(f"已写入 {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body[0])
        sys.stdout.flush()
    return 0


def _report_usage_fault(args: argparse.Namespace) -> str | None:
    if args.archive != (args.year is not None):
        return "绩效档案写作：report --year 2026 --archive"
    if args.archive and args.format in ("html", "pdf"):
        return "绩效档案只有 md 和 csv 两种格式"
    if args.format == "pdf" and not args.out:
        return "PDF 请用 --out 指定文件，例如 --out 季报.pdf"
    return None


async def _report_body(
    args: argparse.Namespace,
    settings: Settings,
    *,
    roster: Roster,
    calendar: WorkCalendar,
    period: Period,
    now: datetime,
    body: list[bytes],
) -> None:
    """Count ``period`` and render it into ``body``.

    The file is handed out, not returned: when ``asyncio.run`` (3.11) puts the SIGINT handler
    back it formats the main task's repr, result and all, and the repr of a million requests'
    figures takes seconds.
    """
    district_of = {g.id: g.district for g in roster.groups}
    periods: list[Period] = (
        [*(q for q in period.quarters() if q.start <= now), period]
        if isinstance(period, Year)
        else [period]
    )
    database = Database(settings.database_url, UNHURRIED)
    try:
        await database.migrate()
        async with database.sessions() as session:
            counted = await count_periods(session, periods, now, calendar, district_of)
    finally:
        await database.close()
    if isinstance(period, Year):
        archive = archive_csv(counted, roster) if args.format == "csv" else None
        body.append(archive or archive_markdown(counted, roster).encode("utf-8"))
        return
    printer = PdfPrinter(settings.chromium)
    made = await render_report(counted[0], roster, args.district, args.format, printer)
    body.append(made.content)
