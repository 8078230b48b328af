"""A quarter or a year typed by a person: refused clearly when it is not one we report on.

Everywhere a quarter is typed (``/report`` in chat, the console's report link, ``python -m bot
report``) it goes through :meth:`bot.reports.period.Quarter.parse`; a wrong one gets the place's own
"write it like 2026Q4", never a 500 or a traceback (audit #12).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.app import Bot
from bot.clock import ManualClock
from bot.reports.period import FIRST_YEAR, LAST_YEAR, Quarter, Year
from storage import Database
from tests.support.cli import Cli
from tests.support.console import demo_signin, serve
from tests.support.desk import say
from tests.support.reports import ADMIN, SUPERVISOR

OUT_OF_RANGE = ("9999Q4", "0001Q1", "1999Q4", "2101Q1", "0000Q1")
NOT_QUARTERS = ("2026Q5", "2026Q0", "2026", "Q4", "26Q4", "20266Q4", "2026 Q4", "2026Q4\0", "")


@pytest.mark.parametrize("text", [*OUT_OF_RANGE, *NOT_QUARTERS])
def test_what_is_not_a_quarter_we_report_on_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="2026Q4"):
        Quarter.parse(text)


@pytest.mark.parametrize(
    ("text", "quarter"),
    [
        ("2026Q4", Quarter(2026, 4)),
        ("2026-Q4", Quarter(2026, 4)),
        ("2026q4", Quarter(2026, 4)),
        (" 2026q4 ", Quarter(2026, 4)),  # as pasted; one meaning, so taken
        ("2000Q1", Quarter(FIRST_YEAR, 1)),
        ("2100Q4", Quarter(LAST_YEAR, 4)),
    ],
)
def test_a_quarter_is_read_as_written(text: str, quarter: Quarter) -> None:
    assert Quarter.parse(text) == quarter


def test_every_quarter_we_report_on_reads_back_and_has_its_days() -> None:
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        for quarter in Year(year).quarters():
            assert Quarter.parse(str(quarter)) == quarter
            assert quarter.start < quarter.end  # the dates around it exist


@pytest.mark.parametrize(
    "made", [lambda: Quarter(9999, 4), lambda: Year(1), lambda: Quarter(2026, 5)]
)
def test_a_quarter_or_year_we_do_not_report_on_cannot_even_be_made(made: object) -> None:
    with pytest.raises(ValueError, match="2026Q4"):
        made()  # type: ignore[operator]


# --- where people type them ------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["0001Q1", "9999Q4", "2101Q1"])
async def test_report_in_chat_answers_a_wrong_quarter_with_its_usage(
    bot: tuple[Bot, ManualClock], typed: str
) -> None:
    running, _ = bot
    for who in (SUPERVISOR, ADMIN):
        (answer,) = await say(running, who, f"/report {typed}")
        assert answer.text.startswith("用法：/report [季度] [pdf|html|csv]")


async def test_the_console_answers_a_wrong_quarter_with_400(
    database: Database, faq_dir: Path
) -> None:
    async with serve(database.url, faq_dir) as console:
        admin = await demo_signin(console, "admin")
        try:
            for typed in (*OUT_OF_RANGE, "2026Q5", "%00"):
                async with admin.get(f"/console/report?quarter={typed}&format=csv") as wrong:
                    assert (wrong.status, await wrong.text()) == (
                        400,
                        "季度写法不对，例如 2026Q4；格式可选 pdf、html、csv。",
                    ), typed
            async with admin.get("/console/report?quarter=2026q4&format=csv") as right:
                assert right.status == 200
        finally:
            await admin.close()


def run_report(cli: Cli, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("report", *args, BOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")


@pytest.mark.parametrize(
    "args",
    [
        ("--quarter", "9999Q4"),
        ("--quarter", "0001Q1"),
        ("--quarter", "2026Q5"),
        ("--year", "99999", "--archive"),
        ("--year", "1", "--archive"),
    ],
)
def test_the_command_refuses_a_wrong_quarter_or_year_with_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], cli: Cli
) -> None:
    refused = run_report(cli, tmp_path, *args)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(("季度写法不对", "年份不对")), refused.stderr
    assert f"{FIRST_YEAR}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "bot.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    ("out", "reason"),
    [("/dev/full", "No space left on device"), ("missing/季报.csv", "No such file or directory")],
)
def test_a_report_that_cannot_be_written_says_where_and_why(
    tmp_path: Path, cli: Cli, out: str, reason: str
) -> None:
    target = out if out.startswith("/") else str(tmp_path / out)
    failed = run_report(cli, tmp_path, "--quarter", "2026Q4", "--format", "csv", "--out", target)
    assert failed.returncode == 1, failed.stderr
    assert failed.stderr.strip().endswith(f"无法写入 {target}：{reason}"), failed.stderr
    assert "Traceback" not in failed.stderr
