"""The quarterly report as supervisors read it: Markdown, or CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import SHANGHAI
from bot.domain import categories
from bot.domain.lifecycle import Status
from bot.domain.roster.model import Roster
from bot.messages import Intake
from bot.reports.figures import Figures, QuarterReport
from bot.texts.console import HOTLINE_ZH

__all__ = [
    "ARCHIVE_COLUMNS",
    "CATEGORY_COLUMNS",
    "CHANNEL_COLUMNS",
    "COLUMNS",
    "OVERDUE_COLUMNS",
    "ReportRow",
    "archive_csv",
    "archive_markdown",
    "category_rows",
    "channel_rows",
    "level_tables",
    "overdue_rows",
    "report_csv",
    "report_markdown",
    "report_moment",
    "report_rows",
    "report_title",
    "scope_name",
    "summary_paragraph",
]

COLUMNS = (
    "收到",
    "办结",
    "按期办结",
    "按期率",
    "当前超期",
    "待创业者补充",
    "首次答复中位（工作日）",
    "首次答复P90（工作日）",
    "办结用时中位（工作日）",
    "办结用时P90（工作日）",
    "满意度均分",
    "评价数",
)
"""The figures of every row, in order."""
_CREDITED = (1, 2, 3, 4, 6, 7, 8, 9, 10, 11)
"""The columns a commissioner is credited with (groups receive requests, and wait on people)."""
ARCHIVE_COLUMNS = tuple(COLUMNS[i] for i in _CREDITED)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the report: a district, a group, a commissioner or the total."""

    level: str
    """``合计``, ``区``, ``服务小组`` or ``服务专员``."""
    name: str
    figures: Figures

    def cells(self) -> list[str]:
        """The figures as the table shows them (``—`` where there is nothing to measure).

        A commissioner's row has ``—`` for what is not theirs: requests come in to a group, and
        the group waits on the entrepreneur, so "收到 0" beside "办结 3" would read as wrong.
        """
        f = self.figures
        first, first_p90 = f.first_reply()
        spent, spent_p90 = f.resolution()
        cells = [
            str(len(f.received)),
            str(len(f.resolved)),
            str(len(f.on_time)),
            _percent(f.on_time_rate),
            str(len(f.overdue)),
            str(len(f.waiting)),
            _number(first),
            _number(first_p90),
            _number(spent),
            _number(spent_p90),
            _number(f.satisfaction, 2),
            str(len(f.stars)),
        ]
        if self.level == "服务专员":
            return [cell if i in _CREDITED else "—" for i, cell in enumerate(cells)]
        return cells


def report_rows(
    report: QuarterReport, roster: Roster, district: str | None = None
) -> list[ReportRow]:
    """The total, then each district, group and commissioner (only ``district``'s if given)."""
    district_names = {d.id: d.name for d in roster.districts}
    group_of = {g.id: g for g in roster.groups}
    rows: list[ReportRow] = []
    if district is None:
        rows.append(ReportRow("合计", "全市", report.total))
    for district_id, figures in sorted(report.districts.items()):
        if district in (None, district_id):
            rows.append(ReportRow("区", district_names.get(district_id, district_id), figures))
    members: set[str] = set()
    for group_id, figures in sorted(report.groups.items()):
        group = group_of.get(group_id)
        if district is not None and (group is None or group.district != district):
            continue
        rows.append(ReportRow("服务小组", group.name if group else group_id, figures))
        if group is not None:
            members.update(
                f"{channel}:{uid}" for p in group.members for channel, uid in p.ids.items()
            )
    for person, figures in sorted(report.commissioners.items()):
        if district is not None and person not in members:
            continue
        channel, _, user_id = person.partition(":")
        listed = roster.roles_of(channel, user_id).person
        rows.append(ReportRow("服务专员", listed.name if listed else person, figures))
    return rows


def report_markdown(report: QuarterReport, roster: Roster, district: str | None = None) -> str:
    """The whole report in Markdown: summary, tables, categories, overdue requests."""
    rows = report_rows(report, roster, district)
    lines = [
        f"# {report_title(report, roster, district)}",
        "",
        f"统计至 {report_moment(report)}。依据津科创〔2015〕51号第八条。",
        "",
        summary_paragraph(rows[0].figures if rows else Figures()),
        "",
    ]
    for title, chosen in level_tables(rows):
        lines += [
            f"## {title}",
            "",
            *_table(["名称", *COLUMNS], [[r.name, *r.cells()] for r in chosen]),
            "",
        ]
    lines += ["## 按服务类别（收到）", ""]
    lines += _table(list(CATEGORY_COLUMNS), category_rows(rows[0].figures if rows else Figures()))
    lines += ["", "## 按受理渠道（收到）", ""]
    lines += _table(list(CHANNEL_COLUMNS), channel_rows(rows[0].figures if rows else Figures()))
    overdue = overdue_rows(report, roster, district)
    lines += ["", f"## 超期工单（{len(overdue)} 件）", ""]
    lines += _table(list(OVERDUE_COLUMNS), overdue) if overdue else ["无。"]
    return "\n".join(lines) + "\n"


def report_title(report: QuarterReport, roster: Roster, district: str | None = None) -> str:
    """``众创空间服务专员工作季报 · 2026年第四季度 · 全市`` (or the district's name)."""
    scope = scope_name(roster, district)
    return f"众创空间服务专员工作季报 · {report.quarter.label} · {scope}"


def scope_name(roster: Roster, district: str | None) -> str:
    """The district's name, or ``全市`` for the whole city."""
    return next((d.name for d in roster.districts if d.id == district), "全市")


def report_moment(report: QuarterReport) -> str:
    """What the figures are counted up to, and whether the quarter is still running."""
    if report.as_of < report.quarter.end:
        return report.as_of.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + "（季度进行中）"
    return f"{report.quarter.next_first_day - timedelta(days=1)} 24:00（季度已结束）"


def level_tables(rows: Sequence[ReportRow]) -> list[tuple[str, list[ReportRow]]]:
    """The report's three tables: districts (with the total), groups, commissioners."""
    tables = []
    for level, title in (("区", "各区"), ("服务小组", "各服务小组"), ("服务专员", "各服务专员")):
        chosen = [row for row in rows if row.level in (level, "合计" if level == "区" else "")]
        if chosen:
            tables.append((title, chosen))
    return tables


CATEGORY_COLUMNS = ("服务类别", "第十条 / 第四条", "收到")


def category_rows(figures: Figures) -> list[list[str]]:
    """Requests received by category, most first."""
    by_category = sorted(figures.categories.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        [categories.by_id(c).zh, categories.by_id(c).article, str(len(ids))]
        for c, ids in by_category
    ]


CHANNEL_COLUMNS = ("受理渠道", "收到")


def channel_rows(figures: Figures) -> list[list[str]]:
    """Requests received by intake channel (policy article 6), those with any, in one order."""
    order = {intake.value: place for place, intake in enumerate(Intake)}
    shown = sorted(figures.channels.items(), key=lambda item: (order.get(item[0], 99), item[0]))
    return [[HOTLINE_ZH.intakes.get(channel, channel), str(len(ids))] for channel, ids in shown]


def _channel_cells(row: ReportRow) -> list[str]:
    """A CSV row's received requests by intake channel.

    Blank for a commissioner: requests come in to a group, not to a person.
    """
    if row.level == "服务专员":
        return [""] * len(Intake)
    return [str(len(row.figures.channels.get(intake.value, ()))) for intake in Intake]


OVERDUE_COLUMNS = (
    "工单",
    "服务小组",
    "众创空间",
    "服务类别",
    "状态",
    "答复期限",
    "已超期（工作日）",
    "经办人",
)


def overdue_rows(
    report: QuarterReport, roster: Roster, district: str | None = None
) -> list[list[str]]:
    """The overdue requests (only ``district``'s if given), as table cells."""
    return [
        [
            row.number,
            roster.group_name(row.group_id),
            roster.space_name(row.space_id),
            categories.by_id(row.category).zh,
            _STATUS.get(row.status, row.status),
            row.due_date.isoformat(),
            str(row.workdays_late),
            _person_name(roster, row.assignee),
        ]
        for row in report.overdue
        if district is None or _district_of(roster, row.group_id) == district
    ]


def report_csv(report: QuarterReport, roster: Roster, district: str | None = None) -> bytes:
    """One row per total, district, group and commissioner; UTF-8 with BOM, so Excel reads it."""
    out = io.StringIO()
    writer = csv.writer(out)
    by_channel = [f"收到·{HOTLINE_ZH.intakes[intake.value]}" for intake in Intake]
    writer.writerow(["季度", "层级", "名称", *COLUMNS, *by_channel])
    for row in report_rows(report, roster, district):
        cells = [*row.cells(), *_channel_cells(row)]
        writer.writerow([str(report.quarter), row.level, row.name, *cells])
    return out.getvalue().encode("utf-8-sig")


def archive_markdown(periods: Sequence[QuarterReport], roster: Roster) -> str:
    """The performance archive: each commissioner's figures, quarter by quarter, then the year.

    Args:
        periods: The quarters of the year so far, then the whole year.
        roster: Names the commissioners and their groups.
    """
    year = periods[-1].quarter
    lines = [f"# 服务专员绩效档案 · {year}年", "", "依据津科创〔2015〕51号第八条。", ""]
    for person, name, groups in _commissioners(periods, roster):
        lines += [f"## {name}（{groups}）", ""]
        lines += _table(
            ["期间", *ARCHIVE_COLUMNS],
            [[report.quarter.label, *_credited(report, person)] for report in periods],
        )
        lines.append("")
    return "\n".join(lines)


def archive_csv(periods: Sequence[QuarterReport], roster: Roster) -> bytes:
    """The archive as one row per commissioner and period; UTF-8 with BOM."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["服务专员", "服务小组", "期间", *ARCHIVE_COLUMNS])
    for person, name, groups in _commissioners(periods, roster):
        for report in periods:
            writer.writerow([name, groups, str(report.quarter), *_credited(report, person)])
    return out.getvalue().encode("utf-8-sig")


def _commissioners(periods: Sequence[QuarterReport], roster: Roster) -> list[tuple[str, str, str]]:
    """Every commissioner the roster lists or the reports credit: key, name, their groups."""
    found: dict[str, tuple[str, list[str]]] = {}
    for group in roster.groups:
        for member in group.members:
            keys = [f"{channel}:{uid}" for channel, uid in member.ids.items()]
            key = next((k for k in keys if any(k in r.commissioners for r in periods)), keys[0])
            found.setdefault(key, (member.name, []))[1].append(group.name)
    for report in periods:
        for key in report.commissioners:
            found.setdefault(key, (_person_name(roster, key), []))
    return [(key, name, "、".join(groups) or "—") for key, (name, groups) in found.items()]


def _credited(report: QuarterReport, person: str) -> list[str]:
    cells = ReportRow("服务专员", person, report.commissioners.get(person, Figures())).cells()
    return [cells[i] for i in _CREDITED]


def summary_paragraph(total: Figures) -> str:
    """The report's opening paragraph, in Chinese."""
    rate = _percent(total.on_time_rate)
    first, _ = total.first_reply()
    stars = _number(total.satisfaction, 2)
    return (
        f"本季度共收到工单 {len(total.received)} 件，办结 {len(total.resolved)} 件，"
        f"其中按期办结 {len(total.on_time)} 件（按期率 {rate}）；"
        f"截至统计时超期未办结 {len(total.overdue)} 件，待创业者补充材料 {len(total.waiting)} 件。"
        f"首次答复用时中位数 {_number(first)} 个工作日；"
        f"创业者评价 {len(total.stars)} 次，平均 {stars} 星。"
    )


def _table(header: list[str], body: list[list[str]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
    for cells in body:
        yield "| " + " | ".join(cells) + " |"


_STATUS = {
    Status.OPEN: "待受理",
    Status.CLAIMED: "办理中",
    Status.WAITING: "待补充",
    Status.RESOLVED: "已办结",
}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"


# Lookups by id, not walks over the roster: the overdue list may run to tens of thousands.
def _district_of(roster: Roster, group_id: str) -> str | None:
    try:
        return roster.group(group_id).district
    except KeyError:
        return None


def _person_name(roster: Roster, actor: str | None) -> str:
    if not actor:
        return "—"
    channel, _, user_id = actor.partition(":")
    person = roster.roles_of(channel, user_id).person
    return person.name if person else actor
