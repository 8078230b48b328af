"""``python -m bot``: run the bot and the admins' tools.

The command tree is built here. Each command lives in a module of its own, imported only when
the command runs: ``workdays due`` loads the calendar, not what serving needs (jieba, the
platforms' SDKs, the scheduler), which took 1.3 to 1.9 s of every start.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from pydantic import SecretStr

from bot import logs
from bot.domain.workdays import DEFAULT_WORKDAYS
from bot.messages import Language
from bot.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Settings], int]
"""A command: its arguments and the settings in, the exit code out."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "action"):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"设置有误，无法启动：\n{error}", file=sys.stderr)
        return 2
    logs.configure(
        settings.log_level, json_lines=settings.log_format == "json", secrets=_secrets(settings)
    )
    return int(_command(args.action)(args, settings))


def _command(name: str) -> Command:
    """The command ``module:function`` of this package, its module imported now."""
    module, _, function = name.partition(":")
    found: Command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return found


def _secrets(settings: Settings) -> list[str]:
    """Every secret setting's value: none may appear in a log line (a new one is included)."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="众创助手 MakerDesk")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="serve the configured channels")
    run.set_defaults(action="run:run")

    ask = commands.add_parser("ask", help="answer questions like the bot would")
    ask.add_argument("question", nargs="*", help="a question; none: one question a line on stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object a line")
    ask.add_argument(
        "--lang",
        choices=[lang.value for lang in Language],
        default="zh",
        help="the language of a question that does not show its own (as a user's profile would)",
    )
    ask.set_defaults(action="ask:ask")

    kb = commands.add_parser("kb", help="knowledge-base tools").add_subparsers(
        title="kb commands", metavar="KB_COMMAND"
    )
    check = kb.add_parser("check", help="validate the FAQ files")
    check.add_argument("directory", nargs="?", type=Path, help="default: BOT_KNOWLEDGE_DIR")
    check.set_defaults(action="kb:check")
    unanswered = kb.add_parser("unanswered", help="questions the bot could not answer")
    unanswered.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (Asia/Shanghai)")
    unanswered.add_argument("--limit", type=int, default=50)
    unanswered.set_defaults(action="kb:unanswered")
    gaps = kb.add_parser(
        "gaps",
        help="unanswered questions, then answers rated unhelpful (👎), grouped by meaning: "
        "the FAQ entries to write or mend next",
    )
    gaps.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (Asia/Shanghai)")
    gaps.add_argument("--limit", type=int, default=30, help="groups to show in each list")
    gaps.set_defaults(action="kb:gaps")

    workdays = commands.add_parser("workdays", help="working-day calendar tools").add_subparsers(
        title="workdays commands", metavar="WORKDAYS_COMMAND"
    )
    due = workdays.add_parser("due", help="due date and deadline of a request (JSON)")
    due.add_argument(
        "opened_at", metavar="OPENED_AT", help="ISO 8601 with offset: 2025-03-03T10:00+08:00"
    )
    due.add_argument("--days", type=int, default=DEFAULT_WORKDAYS, help="working days allowed")
    due.set_defaults(action="workdays:due")

    console = commands.add_parser("console", help="the commissioners' web console").add_subparsers(
        title="console commands", metavar="CONSOLE_COMMAND"
    )
    link = console.add_parser("link", help="print a one-time sign-in link for a roster person")
    link.add_argument("web_id", metavar="WEB_ID", help="the person's web account in the roster")
    link.add_argument(
        "--base-url",
        help="the console's address as people reach it, e.g. https://makerdesk.example.cn; "
        "default http://BOT_HTTP_HOST:BOT_HTTP_PORT",
    )
    link.add_argument("--hours", type=int, default=24, help="hours the link stays usable")
    link.set_defaults(action="console:link")

    report = commands.add_parser("report", help="the Article 8 quarterly report (季报)")
    report.add_argument("--quarter", help="such as 2026Q4; default: the current quarter")
    report.add_argument("--district", help="one district's report (its roster id)")
    report.add_argument("--year", type=int, help="with --archive: the year of the archive")
    report.add_argument(
        "--archive", action="store_true", help="each commissioner's year, quarter by quarter"
    )
    report.add_argument(
        "--format",
        choices=["md", "csv", "html", "pdf"],
        default="md",
        help="html: with charts, prints on A4; pdf: printed by Chromium (needs --out)",
    )
    report.add_argument("--out", type=Path, help="write to this file instead of printing")
    report.set_defaults(action="report:report")

    wechat = commands.add_parser("wechat", help="WeChat Official Account tools").add_subparsers(
        title="wechat commands", metavar="WECHAT_COMMAND"
    )
    menu = wechat.add_parser("menu", help="print the account's menu (JSON); --push installs it")
    menu.add_argument("--push", action="store_true", help="install it on the account")
    menu.set_defaults(action="wechat:menu")
    return parser
