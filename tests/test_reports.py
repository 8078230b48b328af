"""The quarterly report against an independent count.

A quarter of activity goes through the real handlers with a manual clock: two groups, requests
resolved on time and late, one resolved, reopened and resolved again, a wait on the
entrepreneur, one left overdue, one still waiting, ratings. The report, counted from the event
log, must agree figure by figure with a count made another way: from the requests' own columns
(``resolved_at``, ``deadline``, ``status``, ``satisfaction``…), which the handlers keep.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Bot
from bot.clock import ManualClock
from bot.domain.lifecycle import Status
from bot.reports.engine import build_report
from bot.reports.figures import Figures
from bot.reports.period import Year
from bot.reports.tables import archive_csv, archive_markdown, report_csv, report_markdown
from storage.models import Request, RequestEvent
from storage.reports import histories
from tests.support.cli import Cli, run_cli
from tests.support.reports import Q4, a_quarter, report_of


async def independent(bot: Bot, as_of: datetime) -> dict[str, dict[str, object]]:
    """Each group's figures from the requests' columns, not from the event log."""
    calendar = bot.services.calendar.current
    async with bot.database.sessions() as session:
        rows = (await session.scalars(select(Request))).all()
    counted: dict[str, dict[str, object]] = {}
    for group in ("g1", "g2", "total"):
        mine = [r for r in rows if group in (r.group_id, "total")]
        resolved = [r for r in mine if r.resolved_at is not None and r.resolved_at < as_of]
        counted[group] = {
            "received": len([r for r in mine if Q4.start <= r.opened_at < Q4.end]),
            "resolved": len(resolved),
            "on_time": len([r for r in resolved if r.resolved_at and r.resolved_at < r.deadline]),
            "overdue": len(
                [
                    r
                    for r in mine
                    if r.status in (Status.OPEN, Status.CLAIMED) and r.deadline <= as_of
                ]
            ),
            "waiting": len([r for r in mine if r.status == Status.WAITING]),
            "first_reply_days": sorted(
                calendar.working_days_between(r.opened_at, r.first_reply_at)
                for r in mine
                if r.first_reply_at
            ),
            "resolve_days": sorted(
                calendar.working_days_between(r.opened_at, r.resolved_at)
                for r in resolved
                if r.resolved_at
            ),
            "stars": sorted(r.satisfaction for r in mine if r.satisfaction),
        }
    return counted


def figures_of(f: Figures) -> dict[str, object]:
    return {
        "received": len(f.received),
        "resolved": len(f.resolved),
        "on_time": len(f.on_time),
        "overdue": len(f.overdue),
        "waiting": len(f.waiting),
        "first_reply_days": sorted(f.first_reply_days.values()),
        "resolve_days": sorted(f.resolve_days.values()),
        "stars": sorted(f.stars.values()),
    }


async def test_every_figure_matches_an_independent_count(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    numbers = await a_quarter(running, clock)
    end_of_year = datetime(2027, 1, 10, tzinfo=UTC)
    report = await report_of(running, end_of_year)
    assert report.as_of == Q4.end
    expected = await independent(running, report.as_of)
    assert figures_of(report.groups["g1"]) == expected["g1"]
    assert figures_of(report.groups["g2"]) == expected["g2"]
    assert figures_of(report.total) == expected["total"]
    assert figures_of(report.districts["baodi"]) == expected["total"]
    # What the scenario was built to show, said plainly.
    total = report.total
    assert (len(total.received), len(total.resolved), len(total.on_time)) == (5, 3, 2)
    assert [row.number for row in report.overdue] == [numbers["forgotten"]]
    assert report.overdue[0].workdays_late == 18  # 12-08 … 12-31, working days
    assert (len(total.waiting), sorted(total.stars.values())) == (1, [2, 4, 5])


async def test_commissioners_are_credited_with_what_they_did(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    numbers = await a_quarter(running, clock)
    report = await report_of(running, datetime(2027, 1, 10, tzinfo=UTC))
    zhang, li, wang, liu = (report.commissioners.get(f"telegram:{n}") for n in range(2001, 2005))
    assert zhang is not None
    assert li is not None
    assert wang is not None
    assert liu is not None
    assert len(zhang.resolved) == 1  # the other one he resolved was reopened; 李娜 finished it
    async with running.database.sessions() as session:
        last_resolver = {
            request_id: actor
            for request_id, actor in (
                await session.execute(
                    select(RequestEvent.request_id, RequestEvent.actor)
                    .where(RequestEvent.kind == "resolve")
                    .order_by(RequestEvent.at, RequestEvent.id)
                )
            ).all()
        }
    for person, figures in report.commissioners.items():
        assert figures.resolved == {r for r, actor in last_resolver.items() if actor == person}
    assert list(li.stars.values()) == [4]
    assert len(wang.overdue) == 1  # the claimed request nobody finished
    assert len(liu.first_reply_days) == 1
    assert numbers["late"]


async def test_a_running_quarter_counts_up_to_now(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    report = await report_of(running, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # 12-01 10:00
    assert report.as_of < Q4.end
    # Resolved on Friday but reopened on Monday: only the first request counts as resolved.
    assert len(report.total.resolved) == 1
    assert report.overdue == []
    markdown = report_markdown(report, running.services.roster.current)
    assert "（季度进行中）" in markdown


async def test_markdown_and_csv(bot: tuple[Bot, ManualClock], tmp_path: Path) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    report = await report_of(running, datetime(2027, 1, 10, tzinfo=UTC))
    roster = running.services.roster.current
    markdown = report_markdown(report, roster)
    assert markdown.startswith("# 众创空间服务专员工作季报 · 2026年第四季度 · 全市")
    assert "统计至 2026-12-31 24:00（季度已结束）" in markdown
    assert "本季度共收到工单 5 件，办结 3 件，其中按期办结 2 件（按期率 66.7%）" in markdown
    assert "| 服务一组 | 3 | 2 | 2 | 100.0% |" in markdown
    assert "## 超期工单（1 件）" in markdown
    data = report_csv(report, roster)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8 Chinese
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("季度,层级,名称,收到,办结,按期办结")
    assert any(line.startswith("2026Q4,服务小组,服务二组,2,1,0,0.0%,1,0,") for line in lines)
    # A commissioner is credited with what they did, not with what came in to their group.
    zhang = next(line for line in lines if line.startswith("2026Q4,服务专员,张伟,"))
    assert zhang.split(",")[3:9] == ["—", "1", "1", "100.0%", "0", "—"]
    assert "| 张伟 | — | 1 | 1 | 100.0% | 0 | — |" in markdown


@pytest.mark.slow
def test_the_command_writes_the_report(tmp_path: Path, cli: Cli) -> None:
    out = tmp_path / "q4.csv"
    # The command's smoke test: the rest of the report's commands run in process.
    result = run_cli(
        "report", "--quarter", "2026Q4", "--format", "csv", "--out", str(out),
        BOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().decode("utf-8-sig").startswith("季度,层级,名称")
    wrong = cli("report", "--quarter", "2026Q5")
    assert wrong.returncode == 2
    assert "季度写法不对" in wrong.stderr


async def test_the_archive_gives_each_commissioner_quarter_by_quarter_and_the_year(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    now = datetime(2027, 1, 10, tzinfo=UTC)
    year = Year(2026)
    async with running.database.sessions() as session:
        found = await histories(session, year.start, year.end)
    calendar = running.services.calendar.current
    district_of = {g.id: g.district for g in running.services.roster.current.groups}
    periods = [build_report(found, q, now, calendar, district_of) for q in year.quarters()]
    periods.append(build_report(found, year, now, calendar, district_of))
    quarter_four, whole_year = periods[3], periods[4]
    for person, figures in quarter_four.commissioners.items():
        # Everything happened in the fourth quarter, so the year says the same.
        assert figures_of(whole_year.commissioners[person]) == figures_of(figures)
    assert all(not report.commissioners for report in periods[:3])
    roster = running.services.roster.current
    markdown = archive_markdown(periods, roster)
    assert markdown.startswith("# 服务专员绩效档案 · 2026年")
    section = markdown.split("## 刘洋（服务二组）", 1)[1].split("##", 1)[0]
    assert "| 2026年第四季度 | 1 | 0 | 0.0% |" in section
    assert "| 2026年全年 | 1 | 0 | 0.0% |" in section
    assert "| 2026年第一季度 | 0 | 0 | — |" in section
    lines = archive_csv(periods, roster).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("服务专员,服务小组,期间,办结,按期办结")
    assert "张伟,服务一组,2026,1,1,100.0%," in "\n".join(lines)


def test_the_archive_command(tmp_path: Path, cli: Cli) -> None:
    environment = {"BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    result = cli("report", "--year", "2026", "--archive", **environment)
    assert result.returncode == 0, result.stderr
    assert "## 张伟（宝坻区服务一组）" in result.stdout  # the demo roster's commissioners
    half = cli("report", "--archive", **environment)
    assert half.returncode == 2
    assert "--year 2026 --archive" in half.stderr
