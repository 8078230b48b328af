"""``python -m bot workdays``: the working-day calendar, as the bot dates requests."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from bot.clock import SHANGHAI
from bot.domain.workday_overrides import CalendarError
from bot.domain.workdays import WorkCalendar
from bot.settings import Settings

__all__ = ["due"]


def due(args: argparse.Namespace, settings: Settings) -> int:
    """``workdays due``: a request's due date and deadline, as one JSON line."""
    try:
        opened_at = datetime.fromisoformat(args.opened_at)
    except ValueError:
        print(
            f"无法识别时间“{args.opened_at}”，请写成 2025-03-03 或 2025-03-03T10:00（北京时间），"
            "或带时区，如 2025-03-03T02:00Z",
            file=sys.stderr,
        )
        return 2
    if opened_at.tzinfo is None:
        # Every maker space is in Tianjin: a date or time written without an offset is theirs.
        opened_at = opened_at.replace(tzinfo=SHANGHAI)
    if args.days < 1:
        print(f"--days 应是正整数，而不是 {args.days}", file=sys.stderr)
        return 2
    try:
        calendar = WorkCalendar.load(settings.calendar)
    except CalendarError as error:
        print(f"工作日历覆盖文件有问题：\n{error}", file=sys.stderr)
        return 2
    due = calendar.due(opened_at, args.days)
    # Shown in Beijing time, as the people who read it count days: 24:00 of the due date reads
    # as the next day's 00:00+08:00, not as 16:00 UTC of the due date.
    record = {
        "opened_at": due.opened_at.astimezone(SHANGHAI).isoformat(),
        "due_date": due.due_date.isoformat(),
        "deadline": due.deadline.astimezone(SHANGHAI).isoformat(),
        "provisional": due.provisional,
    }
    print(json.dumps(record, ensure_ascii=False))
    return 0
