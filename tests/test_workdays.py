"""Working days and deadlines (Article 7): the State Council's calendar, overrides, estimates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import SHANGHAI
from bot.domain.workday_overrides import CalendarError
from bot.domain.workdays import (
    WorkCalendar,
    end_of_day,
    estimated_holidays,
    shanghai_date,
)
from tests.support.cli import Cli, Command, run_cli

CALENDAR = WorkCalendar()
"""The package's arrangement and the estimate, no overrides; shared so its year cache warms."""

ARRANGEMENT_2027 = """\
# 2027 as the State Council might announce it (an illustration, not the real notice)
known_years: [2027]
holidays:
  - 2027-01-01..2027-01-03
  - 2027-02-05..2027-02-12
  - 2027-04-03..2027-04-05
  - 2027-05-01..2027-05-05
  - 2027-06-09
  - 2027-09-15
  - 2027-10-01..2027-10-07
workdays:
  - 2027-01-31
  - 2027-02-20
  - 2027-05-08
  - 2027-09-26
  - 2027-10-09
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def day(text: str) -> date:
    return date.fromisoformat(text)


def days(first: str, last: str) -> list[date]:
    start, end = day(first), day(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def due_date(opened_at: str, n: int = 10, calendar: WorkCalendar = CALENDAR) -> date:
    return calendar.due(at(opened_at), n).due_date


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- DESIGN's checked cases and the official arrangement ------------------------------------


@pytest.mark.parametrize(
    ("opened_at", "expected"),
    [
        ("2025-03-03T10:00+08:00", "2025-03-17"),
        ("2025-09-26T17:30+08:00", "2025-10-16"),
        ("2026-02-13T20:00+08:00", "2026-03-05"),
        ("2026-03-01T16:30Z", "2026-03-16"),
    ],
)
def test_design_checked_cases(opened_at: str, expected: str) -> None:
    due = CALENDAR.due(at(opened_at))
    assert due.due_date == day(expected)
    assert due.provisional is False


def test_deadline_is_24_00_shanghai_of_the_due_date_in_utc() -> None:
    due = CALENDAR.due(at("2025-03-03T10:00+08:00"))
    assert due.opened_at == at("2025-03-03T02:00Z")
    assert due.opened_at.tzinfo is UTC
    assert due.deadline == at("2025-03-17T16:00Z")
    assert due.deadline.tzinfo is UTC
    assert due.deadline == at("2025-03-18T00:00+08:00")
    assert end_of_day(day("2025-03-17")) == due.deadline


def test_spring_festival_2025_with_its_make_up_sunday_and_saturday() -> None:
    assert CALENDAR.is_workday(day("2025-01-26"))  # Sunday, worked
    assert CALENDAR.is_workday(day("2025-02-08"))  # Saturday, worked
    assert not any(CALENDAR.is_workday(d) for d in days("2025-01-28", "2025-02-04"))
    # 1/26 1/27, then 2/5 2/6 2/7 2/8(Sat) 2/10 2/11 2/12 2/13
    assert due_date("2025-01-24T10:00+08:00") == day("2025-02-13")


def test_spring_festival_2026_with_its_make_up_saturdays() -> None:
    assert CALENDAR.is_workday(day("2026-02-14"))
    assert CALENDAR.is_workday(day("2026-02-28"))
    assert not any(CALENDAR.is_workday(d) for d in days("2026-02-15", "2026-02-23"))
    # 2/11 2/12 2/13 2/14(Sat), then 2/24 2/25 2/26 2/27 2/28(Sat) 3/2
    assert due_date("2026-02-10T10:00+08:00") == day("2026-03-02")


def test_national_day_2025_with_its_make_up_sunday_and_saturday() -> None:
    assert CALENDAR.is_workday(day("2025-09-28"))
    assert CALENDAR.is_workday(day("2025-10-11"))
    assert not any(CALENDAR.is_workday(d) for d in days("2025-10-01", "2025-10-08"))
    # 10/9 10/10 10/11(Sat) 10/13-10/17 10/20 10/21
    assert due_date("2025-09-30T10:00+08:00") == day("2025-10-21")


def test_request_opened_on_a_holiday_counts_from_the_next_working_day() -> None:
    assert not CALENDAR.is_workday(day("2025-10-03"))
    assert due_date("2025-10-03T09:00+08:00") == day("2025-10-21")
    assert due_date("2025-10-03T09:00+08:00", 1) == day("2025-10-09")


def test_the_shanghai_date_decides_not_the_utc_one() -> None:
    # 00:30 on Monday in Shanghai is still Sunday in UTC.
    opened = at("2025-03-03T00:30+08:00")
    assert opened == at("2025-03-02T16:30Z")
    assert shanghai_date(opened) == day("2025-03-03")
    assert due_date("2025-03-02T16:30Z") == day("2025-03-17")
    assert due_date("2025-03-02T15:59:59Z") == day("2025-03-14")  # Sunday 23:59:59 there


def test_new_year_2026_with_sunday_4_january_worked() -> None:
    assert CALENDAR.is_workday(day("2026-01-04"))
    assert not any(CALENDAR.is_workday(d) for d in days("2026-01-01", "2026-01-03"))
    # 1/4(Sun) 1/5-1/9 1/12-1/15
    assert due_date("2025-12-31T10:00+08:00") == day("2026-01-15")


def test_days_parameter() -> None:
    assert due_date("2025-03-03T10:00+08:00", 1) == day("2025-03-04")
    assert due_date("2025-03-07T10:00+08:00", 1) == day("2025-03-10")  # Friday: next is Monday
    assert due_date("2025-03-03T10:00+08:00", 20) == day("2025-03-31")


def test_agrees_with_chinese_calendar_on_every_day_it_knows() -> None:
    for year in (2004, 2015, 2024, 2025, 2026):
        for d in days(f"{year}-01-01", f"{year}-12-31"):
            assert CALENDAR.is_workday(d) == chinese_calendar.is_workday(d), d


def test_neighbouring_working_days() -> None:
    assert CALENDAR.next_workday(day("2025-09-30")) == day("2025-10-09")
    assert CALENDAR.previous_workday(day("2025-10-09")) == day("2025-09-30")
    assert CALENDAR.previous_workday(day("2025-10-13")) == day("2025-10-11")  # make-up Saturday
    assert CALENDAR.next_workday(day("2026-12-31")) == day("2027-01-04")  # across the year
    assert CALENDAR.previous_workday(day("2027-01-04")) == day("2026-12-31")


def test_working_days_between_uses_the_due_date_convention() -> None:
    opened = at("2025-03-03T10:00+08:00")
    assert CALENDAR.working_days_between(opened, at("2025-03-03T18:00+08:00")) == 0
    assert CALENDAR.working_days_between(opened, at("2025-03-04T09:00+08:00")) == 1
    assert CALENDAR.working_days_between(opened, at("2025-03-17T23:59+08:00")) == 10
    assert CALENDAR.working_days_between(opened, at("2025-03-17T16:00Z")) == 11  # 3/18 00:00
    assert CALENDAR.working_days_between(opened, at("2025-03-01T10:00+08:00")) == 0
    # Across the National Day holidays and their make-up days.
    assert (
        CALENDAR.working_days_between(at("2025-09-26T17:30+08:00"), at("2025-10-16T12:00Z")) == 10
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        CALENDAR.due(datetime(2025, 3, 3, 10))  # noqa: DTZ001 - the naive value is the point
    with pytest.raises(ValueError, match="at least 1"):
        CALENDAR.due(at("2025-03-03T10:00+08:00"), 0)
    with pytest.raises(TypeError, match="shanghai_date"):
        CALENDAR.is_workday(at("2025-03-03T10:00+08:00"))


# --- years nobody knows yet -----------------------------------------------------------------


def test_a_december_2026_request_due_in_2027_is_provisional_until_2027_is_known(
    tmp_path: Path,
) -> None:
    opened = at("2026-12-21T10:00+08:00")
    estimated = CALENDAR.due(opened)
    # 12/22-12/25 12/28-12/31, 1/1 (元旦) off, 1/4 1/5
    assert estimated.due_date == day("2027-01-05")
    assert estimated.provisional is True
    assert not CALENDAR.is_known(2027)
    assert not CALENDAR.is_known(day("2027-06-01"))
    assert CALENDAR.is_known(day("2026-12-31"))
    assert CALENDAR.unknown_years((day("2026-01-01"), day("2028-03-01"))) == [2027, 2028]

    announced = WorkCalendar.load(write(tmp_path, ARRANGEMENT_2027))
    due = announced.due(opened)
    assert due.due_date == day("2027-01-05")
    assert due.provisional is False
    assert announced.is_known(2027)
    assert announced.unknown_years((day("2026-01-01"), day("2028-03-01"))) == [2028]


def test_a_request_within_2026_is_not_provisional_even_late_in_december() -> None:
    due = CALENDAR.due(at("2026-12-15T10:00+08:00"))
    assert due.due_date == day("2026-12-29")
    assert due.provisional is False


def test_announcing_2027_can_move_a_provisional_date(tmp_path: Path) -> None:
    opened = "2027-01-29T10:00+08:00"
    # Estimated: 2/1-2/4, 2/11 2/12, 2/15-2/18. Off: 除夕 2/5, 初三 2/8, and 2/9 2/10 in lieu
    # of 初一 and 初二, which fall on the weekend.
    assert CALENDAR.due(at(opened)).provisional is True
    assert due_date(opened) == day("2027-02-18")
    # Announced: Sunday 1/31 worked and 2/5-2/12 off, so 1/31 2/1-2/4 2/15-2/19.
    announced = WorkCalendar.load(write(tmp_path, ARRANGEMENT_2027))
    assert due_date(opened, calendar=announced) == day("2027-02-19")
    assert announced.due(at(opened)).provisional is False


def test_the_2027_estimate_keeps_spring_festival_and_national_day_off() -> None:
    off = estimated_holidays(2027)
    spring = days("2027-02-05", "2027-02-08")  # 除夕 (Fri) through 正月初三 (Mon)
    in_lieu = [day("2027-02-09"), day("2027-02-10")]  # for 初一 and 初二 on the weekend
    national = [*days("2027-10-01", "2027-10-03"), day("2027-10-04"), day("2027-10-05")]
    for d in spring + in_lieu + national:
        assert d in off
        assert not CALENDAR.is_workday(d), d
    assert day("2027-01-01") in off
    assert day("2027-04-05") in off  # 清明
    assert day("2027-06-09") in off  # 端午, lunar 5/5
    assert day("2027-09-15") in off  # 中秋, lunar 8/15
    assert CALENDAR.is_workday(day("2027-02-11"))
    assert CALENDAR.is_workday(day("2027-10-06"))
    assert not CALENDAR.is_workday(day("2027-02-13"))  # an ordinary Saturday


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_estimate_matches_the_years_under_the_current_rules(year: int) -> None:
    # The 2024 rules first applied in 2025: guessed from them alone, 2025 and 2026 lose exactly
    # the working days the State Council's arrangement took, and no day it kept.
    off = estimated_holidays(year)
    year_days = days(f"{year}-01-01", f"{year}-12-31")
    assert not [d for d in off if chinese_calendar.is_workday(d)]
    estimated = sum(d.weekday() < 5 and d not in off for d in year_days)
    assert estimated == sum(chinese_calendar.is_workday(d) for d in year_days)


def test_qingming_is_the_solar_term() -> None:
    assert day("2025-04-04") in estimated_holidays(2025)
    assert day("2026-04-05") in estimated_holidays(2026)
    for year in range(2000, 2100):
        (term,) = (d for d, name in chinese_calendar.get_solar_terms(
            date(year, 4, 1), date(year, 4, 30)) if name == "清明")  # fmt: skip
        assert term in estimated_holidays(year), year


def test_far_years_do_not_crash() -> None:
    assert CALENDAR.due(at("2099-12-20T10:00+08:00")).provisional is True
    assert CALENDAR.due(at("2100-03-01T10:00+08:00")).due_date == day("2100-03-15")
    assert CALENDAR.due(at("2003-03-03T10:00+08:00")).provisional is True


# --- the override file ----------------------------------------------------------------------


def test_overrides_win_over_the_package(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "holidays: [2025-03-04]        # a local day off\n"
        "workdays: [2025-03-08]        # a Saturday worked\n",
    )
    calendar = WorkCalendar.load(path)
    assert not calendar.is_workday(day("2025-03-04"))
    assert calendar.is_workday(day("2025-03-08"))
    assert due_date("2025-03-03T10:00+08:00", calendar=calendar) == day("2025-03-17")
    assert due_date("2025-03-03T10:00+08:00", 3, calendar) == day("2025-03-07")
    assert due_date("2025-03-03T10:00+08:00", 4, calendar) == day("2025-03-08")
    assert calendar.source == path


def test_a_year_declared_known_is_weekdays_plus_the_listed_days(tmp_path: Path) -> None:
    calendar = WorkCalendar.load(write(tmp_path, ARRANGEMENT_2027))
    assert calendar.is_workday(day("2027-01-31"))  # make-up Sunday
    assert not calendar.is_workday(day("2027-02-11"))  # announced, not estimated
    assert calendar.is_workday(day("2027-10-08"))  # Friday after the golden week
    assert not calendar.is_workday(day("2027-10-10"))  # ordinary Sunday
    # The illustration loses as many working days as the statutory estimate does.
    year = days("2027-01-01", "2027-12-31")
    assert sum(map(calendar.is_workday, year)) == sum(map(CALENDAR.is_workday, year))


def test_overrides_without_known_years_stay_provisional(tmp_path: Path) -> None:
    calendar = WorkCalendar.load(write(tmp_path, "holidays: [2027-01-04]\n"))
    assert not calendar.is_workday(day("2027-01-04"))
    assert calendar.is_workday(day("2027-01-05"))
    assert not calendar.is_workday(day("2027-02-05"))  # the estimate still applies
    due = calendar.due(at("2026-12-21T10:00+08:00"))
    assert due.due_date == day("2027-01-06")
    assert due.provisional is True


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "holidays:\nworkdays: []\n"])
def test_an_empty_override_file_changes_nothing(tmp_path: Path, text: str) -> None:
    calendar = WorkCalendar.load(write(tmp_path, text))
    assert due_date("2025-09-26T17:30+08:00", calendar=calendar) == day("2025-10-16")


def test_no_override_file_is_the_package_alone() -> None:
    assert WorkCalendar.load(None).due(at("2025-03-03T10:00+08:00")) == CALENDAR.due(
        at("2025-03-03T10:00+08:00")
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            "known_years: [2027]\nholidays:\n  - 2027-01-01\n\t- 2027-02-05\n",
            4,
            "YAML 格式错误",
            id="yaml-error",
        ),
        pytest.param(
            "holidays: [2027-01-01]\nholiday:\n  - 2027-02-05\n",
            2,
            "未知的键“holiday”（可用的键：known_years、holidays、workdays）",
            id="unknown-key",
        ),
        pytest.param(
            "holidays:\n  - 2027-01-01\n  - 2027-02-30\n",
            3,
            "“2027-02-30”不是有效日期",
            id="impossible-date",
        ),
        pytest.param(
            "workdays:\n  - 2027/02/20\n",
            2,
            "“2027/02/20”不是有效日期：应写成 YYYY-MM-DD",
            id="slashed-date",
        ),
        pytest.param(
            # One space too many: YAML folds the two lines into one text.
            "holidays:\n  - 2027-01-01\n   - 2027-02-05\n",
            2,
            "“2027-01-01 - 2027-02-05”不是有效日期",
            id="folded-lines",
        ),
        pytest.param(
            "holidays:\n  - 2027-02-05..2027-02-12\nworkdays:\n  - 2027-02-20\n  - 2027-02-07\n",
            5,
            "2027-02-07 同时出现在 holidays（第 2 行）和 workdays 中",
            id="in-both-lists",
        ),
        pytest.param(
            "holidays:\n  - 2027-02-12..2027-02-05\n",
            2,
            "区间“2027-02-12..2027-02-05”的开始晚于结束",
            id="reversed-range",
        ),
        pytest.param(
            "holidays:\n  - 2027-02-05..2028-02-12\n",
            2,
            "超过 366 天",
            id="year-long-range",
        ),
        pytest.param(
            "holidays: [2027-01-01]\nholidays: [2027-02-05]\n",
            2,
            "键“holidays”出现了两次",
            id="duplicate-key",
        ),
        pytest.param("\nholidays: 2027-01-01\n", 2, "holidays 应是列表", id="not-a-list"),
        pytest.param(
            "holidays:\n  - {day: 2027-01-01}\n",
            2,
            "holidays 中的每一项应是单个日期或区间",
            id="not-a-date",
        ),
        pytest.param(
            "holidays: [2027-01-01]\nknown_years: [27]\n", 2, "“27”不是有效年份", id="bad-year"
        ),
        pytest.param(
            "holidays: [2028-01-01]\nknown_years: [2027]\n",
            2,
            "known_years 声明 2027 年已完整，但 holidays 中没有 2027 年的日期",
            id="known-year-without-holidays",
        ),
        pytest.param("- 2027-01-01\n", 1, "文件顶层应是“键: 值”的映射", id="top-level-list"),
    ],
)
def test_every_fault_names_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CalendarError) as caught:
        WorkCalendar.load(path)
    (fault,) = caught.value.faults
    assert fault.startswith(f"{path}:{line}: ")
    assert message in fault
    assert str(caught.value) == fault


def test_all_faults_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "holidays:\n  - 2027-13-01\nextra: 1\nworkdays:\n  - someday\n",
    )
    with pytest.raises(CalendarError) as caught:
        WorkCalendar.load(path)
    lines = [fault.removeprefix(f"{path}:").split(":", 1)[0] for fault in caught.value.faults]
    assert lines == ["2", "3", "5"]
    assert str(caught.value).splitlines() == list(caught.value.faults)


def test_an_unreadable_file_is_a_calendar_error(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_bytes(b"holidays: [\xff]\n")
    with pytest.raises(CalendarError, match="无法读取"):
        WorkCalendar.load(path)
    with pytest.raises(CalendarError, match="无法读取"):
        WorkCalendar.load(tmp_path / "missing.yaml")


def test_a_day_both_off_and_working_is_refused_in_code_too() -> None:
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(holidays=[day("2027-01-01")], workdays=[day("2027-01-01")])


# --- pauses (waiting on the entrepreneur) ---------------------------------------------------

OPENED = at("2025-03-03T10:00+08:00")  # due 2025-03-17 without pauses


def paused_due(*pauses: tuple[str, str | None], now: str | None = None) -> date:
    stretches = [(at(start), at(end) if end else None) for start, end in pauses]
    return CALENDAR.due(OPENED, 10, stretches, now=at(now) if now else None).due_date


def test_asked_monday_answered_tuesday_moves_the_due_date_one_working_day() -> None:
    assert paused_due(("2025-03-10T10:00+08:00", "2025-03-11T09:00+08:00")) == day("2025-03-18")


def test_asked_and_answered_the_same_day_changes_nothing() -> None:
    assert paused_due(("2025-03-10T10:00+08:00", "2025-03-10T17:00+08:00")) == day("2025-03-17")


def test_an_answer_at_midnight_sharp_keeps_the_day() -> None:
    # At 24:00 the answer is there: the day was not lost. One microsecond later it was.
    assert paused_due(("2025-03-10T10:00+08:00", "2025-03-11T00:00+08:00")) == day("2025-03-17")
    assert paused_due(("2025-03-10T10:00+08:00", "2025-03-11T00:00:00.000001+08:00")) == day(
        "2025-03-18"
    )
    # A question asked at 00:00 belongs to the new day.
    assert paused_due(("2025-03-11T00:00+08:00", "2025-03-11T09:00+08:00")) == day("2025-03-17")


def test_a_wait_over_the_weekend_loses_only_friday() -> None:
    assert paused_due(("2025-03-07T15:00+08:00", "2025-03-10T09:00+08:00")) == day("2025-03-18")


def test_a_wait_on_the_due_date_itself_moves_it() -> None:
    assert paused_due(("2025-03-17T10:00+08:00", "2025-03-18T09:00+08:00")) == day("2025-03-18")


def test_waits_before_the_opening_or_overlapping_count_once() -> None:
    assert paused_due(("2025-02-20T10:00+08:00", "2025-03-03T09:00+08:00")) == day("2025-03-17")
    assert paused_due(
        ("2025-03-10T12:00+08:00", "2025-03-12T09:00+08:00"),
        ("2025-03-10T10:00+08:00", "2025-03-11T09:00+08:00"),
    ) == day("2025-03-19")
    assert paused_due(
        ("2025-03-04T10:00+08:00", "2025-03-05T09:00+08:00"),
        ("2025-03-12T10:00+08:00", "2025-03-14T09:00+08:00"),
    ) == day("2025-03-20")


def test_an_open_wait_is_dated_as_if_it_ended_now() -> None:
    # Waiting since Monday 10:00, now Wednesday 15:00: Monday and Tuesday are lost; today
    # would count if the answer came now.
    waiting = ("2025-03-10T10:00+08:00", None)
    assert paused_due(waiting, now="2025-03-12T15:00+08:00") == day("2025-03-19")
    assert paused_due(waiting, now="2025-03-10T11:00+08:00") == day("2025-03-17")
    assert paused_due(waiting, now="2025-03-01T11:00+08:00") == day("2025-03-17")  # clock skew


def test_an_open_wait_needs_now_and_a_wait_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="now"):
        paused_due(("2025-03-10T10:00+08:00", None))
    with pytest.raises(ValueError, match="ends before"):
        paused_due(("2025-03-10T10:00+08:00", "2025-03-09T10:00+08:00"))
    with pytest.raises(ValueError, match="time zone"):
        CALENDAR.due(OPENED, 10, [(datetime(2025, 3, 10), None)], now=OPENED)  # noqa: DTZ001


# --- properties -----------------------------------------------------------------------------

ZONES = st.sampled_from([UTC, SHANGHAI, timezone(timedelta(hours=-5))])
MOMENTS = st.datetimes(
    min_value=datetime(2004, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2028, 6, 30),  # noqa: DTZ001
    timezones=ZONES,
)
ALLOWED = st.integers(min_value=1, max_value=40)


def brute_force_due(opened: datetime, n: int, pauses: list[tuple[datetime, datetime]]) -> date:
    """DESIGN's rule, day by day: a working day counts unless a wait spans its 24:00."""
    current, counted = shanghai_date(opened), 0
    while counted < n:
        current += timedelta(days=1)
        midnight = end_of_day(current)
        if CALENDAR.is_workday(current) and not any(s < midnight < e for s, e in pauses):
            counted += 1
    return current


@given(MOMENTS, ALLOWED)
def test_the_due_date_is_the_nth_working_day_after_the_opening(opened: datetime, n: int) -> None:
    due = CALENDAR.due(opened, n)
    opened_day = shanghai_date(opened)
    assert CALENDAR.is_workday(due.due_date)
    assert due.due_date > opened_day
    between = (opened_day + timedelta(days=k) for k in range(1, (due.due_date - opened_day).days))
    assert sum(map(CALENDAR.is_workday, between)) == n - 1
    assert CALENDAR.working_days_between(opened, due.deadline - timedelta(microseconds=1)) == n
    assert due.deadline == end_of_day(due.due_date)
    assert due.provisional == (due.due_date.year >= 2027)


@given(MOMENTS, MOMENTS, ALLOWED)
def test_a_later_opening_is_never_due_earlier(first: datetime, second: datetime, n: int) -> None:
    earlier, later = sorted((first, second))
    assert CALENDAR.due(earlier, n).due_date <= CALENDAR.due(later, n).due_date


@given(MOMENTS)
def test_every_known_day_agrees_with_chinese_calendar(moment: datetime) -> None:
    d = shanghai_date(moment)
    if d.year <= 2026:
        assert CALENDAR.is_workday(d) == chinese_calendar.is_workday(d)
        assert CALENDAR.is_known(d)


PAUSE = st.tuples(
    st.integers(min_value=-3 * 24 * 60, max_value=40 * 24 * 60),  # minutes after the opening
    st.integers(min_value=0, max_value=8 * 24 * 60),  # minutes of waiting
)


@given(MOMENTS, ALLOWED, st.lists(PAUSE, max_size=3))
def test_pauses_follow_the_rule_and_never_bring_the_due_date_forward(
    opened: datetime, n: int, spans: list[tuple[int, int]]
) -> None:
    pauses = [
        (opened + timedelta(minutes=start), opened + timedelta(minutes=start + length))
        for start, length in spans
    ]
    due = CALENDAR.due(opened, n, pauses).due_date
    assert due == brute_force_due(opened, n, pauses)
    assert due >= CALENDAR.due(opened, n).due_date
    same_day = [(s, e) for s, e in pauses if shanghai_date(s) == shanghai_date(e)]
    assert CALENDAR.due(opened, n, same_day).due_date == CALENDAR.due(opened, n).due_date


# --- python -m bot workdays due -------------------------------------------------------------


@pytest.fixture
def workdays_due(cli: Cli) -> Command:
    """``python -m bot workdays due ARGS`` run in process, with ``BOT_*`` variables as keywords."""
    return partial(cli, "workdays", "due")


@pytest.mark.slow
def test_cli_prints_one_json_line() -> None:
    result = run_cli("workdays", "due", "2025-03-03T10:00+08:00")  # the command's smoke test
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line) == {
        "opened_at": "2025-03-03T10:00:00+08:00",
        "due_date": "2025-03-17",
        "deadline": "2025-03-18T00:00:00+08:00",
        "provisional": False,
    }


def test_cli_days_option_and_utc_input(
    workdays_due: Command,
) -> None:
    result = workdays_due("2026-03-01T16:30Z", "--days", "3")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["due_date"] == "2026-03-05"
    assert record["opened_at"] == "2026-03-02T00:30:00+08:00"
    assert record["deadline"] == "2026-03-06T00:00:00+08:00"


@pytest.mark.parametrize("written", ["2025-03-03", "2025-03-03T10:00", "2025-03-03T10:00+08:00"])
def test_cli_takes_a_date_or_time_without_offset_as_beijing_time(
    workdays_due: Command, written: str
) -> None:
    result = workdays_due(written)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["opened_at"].startswith("2025-03-03T")
    assert record["opened_at"].endswith("+08:00")
    assert (record["due_date"], record["deadline"]) == ("2025-03-17", "2025-03-18T00:00:00+08:00")


def test_cli_refuses_what_is_not_a_time(workdays_due: Command) -> None:
    result = workdays_due("next monday")
    assert result.returncode == 2
    assert "无法识别时间" in result.stderr


def test_cli_uses_the_override_file(tmp_path: Path, workdays_due: Command) -> None:
    opened = "2026-12-21T10:00+08:00"
    assert json.loads(workdays_due(opened).stdout)["provisional"] is True
    path = write(tmp_path, ARRANGEMENT_2027)
    result = workdays_due(opened, BOT_CALENDAR=str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "opened_at": "2026-12-21T10:00:00+08:00",
        "due_date": "2027-01-05",
        "deadline": "2027-01-06T00:00:00+08:00",
        "provisional": False,
    }
    path.write_text("holidays:\n  - 2027-02-30\n", encoding="utf-8")
    result = workdays_due(opened, BOT_CALENDAR=str(path))
    assert result.returncode == 2
    assert f"{path}:2: " in result.stderr
    assert result.stdout == ""
