"""The quarterly report as a web page with charts, laid out to print on A4.

One self-contained file: the styles and the three charts (inline SVG, so they stay sharp on
paper and in the PDF) are inside it, and it loads nothing, so it opens the same on a phone, on
an office PC with no network, and in the headless Chromium that prints it to PDF.

Its Content Security Policy holds it to that: no script runs, nothing is loaded (no file, no
image, no frame, no style sheet), and no style applies but its own. So HTML that ever slipped
into a report could neither show a local file nor restyle the figures, in the PDF printer or in
the browser of a supervisor who opens the file from disk.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape

from bot.clock import SHANGHAI
from bot.domain import categories
from bot.domain.roster.model import Roster
from bot.reports.figures import Figures, QuarterReport
from bot.reports.tables import (
    CATEGORY_COLUMNS,
    CHANNEL_COLUMNS,
    COLUMNS,
    OVERDUE_COLUMNS,
    category_rows,
    channel_rows,
    level_tables,
    overdue_rows,
    report_moment,
    report_rows,
    report_title,
    summary_paragraph,
)

__all__ = ["CHARTS", "report_html"]

CHARTS = ("图1 各服务小组按期办结率", "图2 按服务类别收到的工单", "图3 每周收到与办结的工单")
"""The charts' titles, in the order the page shows them (also their accessible names)."""

_GREEN = "#2f7d5b"
_BLUE = "#3566a8"
_GREY = "#6b7280"
_BASIS = "依据津科创〔2015〕51号第八条。"
_WIDTH = 680
"""The charts' drawing width in CSS pixels: A4's 210 mm less the margins, at 96 dpi."""

_STYLE = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body {
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
    sans-serif;
  color: #1f2937; margin: 0 auto; max-width: 186mm; padding: 8px; font-size: 10.5pt;
  line-height: 1.5;
}
h1 { font-size: 16pt; margin: 0 0 4px; }
h2 { font-size: 12.5pt; margin: 18px 0 6px; break-after: avoid; }
.moment { color: #4b5563; margin: 0 0 10px; }
.summary { background: #f3f6f9; border-left: 4px solid #94a3b8; padding: 8px 12px; }
figure { margin: 14px 0; break-inside: avoid; }
figcaption { font-weight: bold; margin-bottom: 4px; }
figure svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border: 1px solid #d1d5db; padding: 3px 4px; }
th { background: #eef2f7; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { white-space: nowrap; }
.empty { color: #6b7280; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_CSP = f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
"""Only ``_STYLE`` applies (by its hash: no other style element or attribute); everything else,
scripts included, is refused. A picture would need ``img-src data:``."""


@dataclass(frozen=True, slots=True)
class _Bar:
    label: str
    value: float
    note: str


def report_html(report: QuarterReport, roster: Roster, district: str | None = None) -> str:
    """The whole report as one HTML page: summary, charts, tables, overdue requests.

    Args:
        report: The counted quarter.
        roster: Names districts, groups, spaces and commissioners.
        district: Only this district's rows, charts and overdue requests (its roster id).
    """
    rows = report_rows(report, roster, district)
    scope = rows[0].figures if rows else Figures()
    title = report_title(report, roster, district)
    groups = [row for row in rows if row.level == "服务小组"]
    in_district = {g.id for g in roster.groups if g.district == district} if district else None
    parts = [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        # First in the head: a policy binds only what comes after it.
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="moment">统计至 {escape(report_moment(report))}。{_BASIS}</p>',
        f'<p class="summary">{escape(summary_paragraph(scope))}</p>',
        _figure(
            CHARTS[0],
            _horizontal_bars(
                CHARTS[0],
                [
                    _Bar(
                        row.name,
                        row.figures.on_time_rate or 0.0,
                        f"{row.figures.on_time_rate:.0%}（{len(row.figures.on_time)}/"
                        f"{len(row.figures.resolved)}）"
                        if row.figures.resolved
                        else "本季度无办结",
                    )
                    for row in groups
                ],
                1.0,
                _GREEN,
            ),
        ),
        _figure(
            CHARTS[1],
            _horizontal_bars(
                CHARTS[1],
                [
                    _Bar(categories.by_id(category).zh, len(ids), f"{len(ids)} 件")
                    for category, ids in sorted(
                        scope.categories.items(), key=lambda item: (-len(item[1]), item[0])
                    )
                ],
                max((len(ids) for ids in scope.categories.values()), default=0),
                _BLUE,
            ),
        ),
        _figure(CHARTS[2], _weekly_bars(CHARTS[2], report, scope, in_district)),
    ]
    for heading, chosen in level_tables(rows):
        cells = [[row.name, *row.cells()] for row in chosen]
        parts += [f"<h2>{escape(heading)}</h2>", _table(["名称", *COLUMNS], cells, range(1, 99))]
    parts += [
        "<h2>按服务类别（收到）</h2>",
        _table(CATEGORY_COLUMNS, category_rows(scope), range(2, 3)),
        "<h2>按受理渠道（收到）</h2>",
        _table(CHANNEL_COLUMNS, channel_rows(scope), range(1, 2)),
    ]
    overdue = overdue_rows(report, roster, district)
    parts.append(f"<h2>超期工单（{len(overdue)} 件）</h2>")
    if overdue:
        parts.append(_table(OVERDUE_COLUMNS, overdue, range(6, 7)))
    else:
        parts.append('<p class="empty">无。</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _figure(title: str, svg: str) -> str:
    return f"<figure><figcaption>{escape(title)}</figcaption>{svg}</figure>"


def _svg(title: str, height: float) -> str:
    # role=img named by the title makes Chromium tag the chart as a Figure in the PDF, which
    # is how screen readers (and our test) find it.
    return (
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {_WIDTH} {height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    )


def _horizontal_bars(title: str, bars: Sequence[_Bar], top: float, color: str) -> str:
    """One labelled bar per row, scaled so that ``top`` fills the bar area."""
    label_width, note_width, row_height = 190, 130, 24
    area = _WIDTH - label_width - note_width
    height = max(1, len(bars)) * row_height + 8
    shapes = [_svg(title, height)]
    if not bars:
        shapes.append(_text(label_width, 20, "本季度无数据", fill=_GREY))
    for n, bar in enumerate(bars):
        y = 4 + n * row_height
        width = area * bar.value / top if top else 0.0
        shapes.append(_text(label_width - 8, y + 16, _fit(bar.label, 14), anchor="end"))
        shapes.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{area}" height="{row_height - 8}" '
            'fill="#eef2f7"/>'
        )
        if width > 0:
            shapes.append(
                f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" '
                f'height="{row_height - 8}" fill="{color}" data-value="{bar.value:g}">'
                f"<title>{escape(bar.label)}：{escape(bar.note)}</title></rect>"
            )
        shapes.append(_text(label_width + area + 8, y + 16, bar.note))
    shapes.append("</svg>")
    return "".join(shapes)


def _weekly_bars(
    title: str, report: QuarterReport, figures: Figures, groups: set[str] | None
) -> str:
    """Requests received and resolved each week (Monday to Sunday) of the quarter.

    A request counts once, in the week it first reached one of ``groups`` (all: ``None``), and
    in the week of the resolution the figures count.
    """
    weeks = _weeks(report.quarter.first_day, report.quarter.next_first_day)
    first: dict[int, float] = {}
    for group, arrivals in report.received_at.items():
        if groups is None or group in groups:
            for rid, at in arrivals.items():
                if at < first.get(rid, at + 1):
                    first[rid] = at
    received = Counter(_week_of(_day(at)) for at in first.values())
    resolved = Counter(_week_of(_day(report.resolved_at[rid])) for rid in figures.resolved)
    top = max([*received.values(), *resolved.values(), 1])
    left, bottom, plot_height, legend = 36, 34, 170, 22
    height = legend + plot_height + bottom
    slot = (_WIDTH - left) / max(1, len(weeks))
    bar = slot * 0.36
    shapes = [
        _svg(title, height),
        f'<rect x="{left}" y="4" width="12" height="12" fill="{_BLUE}"/>',
        _text(left + 16, 15, "收到"),
        f'<rect x="{left + 64}" y="4" width="12" height="12" fill="{_GREEN}"/>',
        _text(left + 80, 15, "办结"),
        _text(left - 6, legend + 10, str(top), anchor="end", fill=_GREY),
        _text(left - 6, legend + plot_height, "0", anchor="end", fill=_GREY),
        f'<line x1="{left}" y1="{legend + plot_height}" x2="{_WIDTH}" '
        f'y2="{legend + plot_height}" stroke="{_GREY}" stroke-width="1"/>',
    ]
    for n, week in enumerate(weeks):
        x = left + n * slot + slot * 0.14
        shown = max(week, report.quarter.first_day)
        for offset, count, color, what in (
            (0.0, received[week], _BLUE, "收到"),
            (bar, resolved[week], _GREEN, "办结"),
        ):
            if count:
                h = plot_height * count / top
                shapes.append(
                    f'<rect x="{x + offset:.1f}" y="{legend + plot_height - h:.1f}" '
                    f'width="{bar:.1f}" height="{h:.1f}" fill="{color}" data-value="{count}">'
                    f"<title>{shown.month}/{shown.day} 起一周{what} {count} 件</title></rect>"
                )
        shapes.append(
            _text(x + bar, legend + plot_height + 16, f"{shown.month}/{shown.day}", anchor="middle")
        )
    shapes.append("</svg>")
    return "".join(shapes)


def _weeks(first: date, after: date) -> list[date]:
    """The Mondays of the weeks that hold a day of [first, after)."""
    monday = _week_of(first)
    weeks = []
    while monday < after:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _day(moment: float) -> date:
    """The Shanghai date of a POSIX timestamp."""
    return datetime.fromtimestamp(moment, SHANGHAI).date()


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#1f2937") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(text)}</text>"
    )


def _fit(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _table(header: Sequence[str], body: Sequence[Sequence[str]], numbers: range) -> str:
    """A table; the columns in ``numbers`` hold figures and are right-aligned."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(cell)}</td>' if i in numbers else f"<td>{escape(cell)}</td>"
            for i, cell in enumerate(cells)
        )
        + "</tr>"
        for cells in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
