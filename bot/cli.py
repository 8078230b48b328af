"""``python -m bot``: run the bot and the admins' tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from bot import logs
from bot.app import DemoRefused, create_bot, roster_file
from bot.channels.console.auth import issue_link
from bot.channels.telegram.channel import TelegramUnavailable
from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.channels.wechat.inbound import MENU
from bot.clock import SHANGHAI, SystemClock
from bot.domain.roster.faults import RosterError
from bot.domain.roster.load import DEMO_ROSTER, load_roster
from bot.domain.roster.model import Roster
from bot.domain.workday_overrides import CalendarError
from bot.domain.workdays import DEFAULT_WORKDAYS, WorkCalendar, shanghai_date
from bot.messages import Language
from bot.reports.engine import count_periods
from bot.reports.files import render_report
from bot.reports.pdf import PdfError, PdfPrinter
from bot.reports.period import FIRST_YEAR, LAST_YEAR, Period, Quarter, Year
from bot.reports.tables import archive_csv, archive_markdown
from bot.server import serve
from bot.settings import Settings, SettingsError, load_settings
from bot.texts.chat import texts_for
from handlers.faq import answer_question, language_of
from knowledge.gaps import Asked, Rated, group_questions, group_ratings
from knowledge.service import KnowledgeBase, KnowledgeError, build
from storage import Database, answers, questions
from storage.answers import RatingSummary
from storage.database import UNHURRIED
from storage.questions import UnansweredSummary

__all__ = ["main"]

log = logging.getLogger("bot")

DISTINCT_QUESTIONS = 5000
"""Distinct texts ``kb gaps`` groups in each list, most asked (or most 👎) first (grouping is
quadratic)."""


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
    return int(args.action(args, settings))


def _secrets(settings: Settings) -> list[str]:
    """Every secret setting's value: none may appear in a log line (a new one is included)."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="众创助手 MakerDesk")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="serve the configured channels")
    run.set_defaults(action=_run)

    ask = commands.add_parser("ask", help="answer questions like the bot would")
    ask.add_argument("question", nargs="*", help="a question; none: one question a line on stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object a line")
    ask.add_argument(
        "--lang",
        choices=[lang.value for lang in Language],
        default="zh",
        help="the language of a question that does not show its own (as a user's profile would)",
    )
    ask.set_defaults(action=_ask)

    kb = commands.add_parser("kb", help="knowledge-base tools").add_subparsers(
        title="kb commands", metavar="KB_COMMAND"
    )
    check = kb.add_parser("check", help="validate the FAQ files")
    check.add_argument("directory", nargs="?", type=Path, help="default: BOT_KNOWLEDGE_DIR")
    check.set_defaults(action=_kb_check)
    unanswered = kb.add_parser("unanswered", help="questions the bot could not answer")
    unanswered.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (Asia/Shanghai)")
    unanswered.add_argument("--limit", type=int, default=50)
    unanswered.set_defaults(action=_kb_unanswered)
    gaps = kb.add_parser(
        "gaps",
        help="unanswered questions, then answers rated unhelpful (👎), grouped by meaning: "
        "the FAQ entries to write or mend next",
    )
    gaps.add_argument("--since", type=date.fromisoformat, help="YYYY-MM-DD (Asia/Shanghai)")
    gaps.add_argument("--limit", type=int, default=30, help="groups to show in each list")
    gaps.set_defaults(action=_kb_gaps)

    workdays = commands.add_parser("workdays", help="working-day calendar tools").add_subparsers(
        title="workdays commands", metavar="WORKDAYS_COMMAND"
    )
    due = workdays.add_parser("due", help="due date and deadline of a request (JSON)")
    due.add_argument(
        "opened_at", metavar="OPENED_AT", help="ISO 8601 with offset: 2025-03-03T10:00+08:00"
    )
    due.add_argument("--days", type=int, default=DEFAULT_WORKDAYS, help="working days allowed")
    due.set_defaults(action=_workdays_due)

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
    link.set_defaults(action=_console_link)

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
    report.set_defaults(action=_report)

    wechat = commands.add_parser("wechat", help="WeChat Official Account tools").add_subparsers(
        title="wechat commands", metavar="WECHAT_COMMAND"
    )
    menu = wechat.add_parser("menu", help="print the account's menu (JSON); --push installs it")
    menu.add_argument("--push", action="store_true", help="install it on the account")
    menu.set_defaults(action=_wechat_menu)
    return parser


def _refuse_demo(refused: DemoRefused) -> None:
    print("未设置 BOT_ROSTER，而这里不能用演示名册：", file=sys.stderr)
    for reason in refused.reasons:
        print(f"  · {reason}", file=sys.stderr)
    print(
        "没有名册时，机器人用演示名册，其控制台允许任何人选一个人登录，包括管理员。"
        f"请把 BOT_ROSTER 设为你的名册文件（可从 {DEMO_ROSTER} 复制一份开始）。\n"
        "Set BOT_ROSTER to your roster file: without one, anyone could sign in as admin.",
        file=sys.stderr,
    )


def _run(_: argparse.Namespace, settings: Settings) -> int:
    try:
        roster_file(settings)  # first: no database made, no platform called for nothing
    except DemoRefused as refused:
        _refuse_demo(refused)
        return 2

    async def go() -> int:
        try:
            bot = await create_bot(settings)
        except KnowledgeError as error:
            print("知识库有问题，无法启动：", file=sys.stderr)
            for fault in error.faults:
                print(f"  {fault}", file=sys.stderr)
            return 1
        except RosterError as error:
            print(f"名册有问题，无法启动：{error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"无法启动：{error}", file=sys.stderr)
            return 1
        # What start-up built lives as long as the process: jieba's dictionary (some 370,000
        # objects), the knowledge base, the roster. Frozen, the collector stops walking it at
        # each full collection, which stopped the event loop for about 100 ms, often enough
        # under a stream of long messages to show in everyone's slowest answers (bench/flood).
        gc.collect()
        gc.freeze()
        if bot.demo:
            log.warning(
                "demo mode: the demo roster (%s) with open console sign-in, where anyone who "
                "reaches the console can act as anyone in it, admin included; for trying the bot "
                "on this machine only. Set BOT_ROSTER for real use.",
                DEMO_ROSTER,
            )
        try:
            await serve(bot)
        except TelegramUnavailable as error:
            print(f"无法启动：{error}", file=sys.stderr)
            return 1
        except OSError as error:
            print(
                f"无法在 {settings.http_host}:{settings.http_port} 上服务：{error}", file=sys.stderr
            )
            return 1
        finally:
            await bot.close()
        return 0

    code = asyncio.run(go())
    # On its way out Python's collector walks every object left (jieba's dictionary, the
    # knowledge base): seconds of the ten that Docker and Kubernetes give between SIGTERM and
    # SIGKILL. Frozen, they are simply freed.
    gc.freeze()
    return code


def _load(directory: Path) -> KnowledgeBase | None:
    try:
        return build(directory)
    except KnowledgeError as error:
        print(f"知识库有 {len(error.faults)} 处问题：", file=sys.stderr)
        for fault in error.faults:
            print(f"  {fault}", file=sys.stderr)
        return None


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    base = _load(settings.knowledge_dir)
    if base is None:
        return 1
    language = Language(args.lang)
    questions: Iterable[str] = [" ".join(args.question)] if args.question else _lines(sys.stdin)
    for question in questions:
        _print_answer(base, question, language, args.json, sys.stdout)
    return 0


def _lines(stream: TextIO) -> Iterable[str]:
    for line in stream:
        if line.strip():
            yield line.rstrip("\n")


def _print_answer(
    base: KnowledgeBase, question: str, language: Language, as_json: bool, out: TextIO
) -> None:
    language = language_of(question, language)
    today = shanghai_date(SystemClock().now())
    answer = answer_question(base, question, language, today)
    result = answer.result
    if as_json:
        record = {
            "q": question,
            "matched": answer.faq_id is not None,
            "kind": answer.kind.value,
            "language": language.value,
            "faq_id": answer.faq_id,
            "score": result.best.score if result.best else 0.0,
            "answer": answer.text,
            "source": answer.source,
            "suggestions": (
                []
                if answer.faq_id
                else [
                    {"faq_id": m.entry.id, "question": m.entry.question, "score": m.score}
                    for m in result.matches
                ]
            ),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write(answer.text + "\n")
        if answer.source:
            out.write(texts_for(language).source.format(source=answer.source) + "\n")
        out.write("\n")
    out.flush()


def _kb_check(args: argparse.Namespace, settings: Settings) -> int:
    directory = args.directory or settings.knowledge_dir
    base = _load(directory)
    if base is None:
        return 1
    files = len({entry.file for entry in base.entries})
    print(f"知识库检查通过：{len(base.entries)} 条，{files} 个文件（{directory}）")
    return 0


def _since(day: date | None) -> datetime | None:
    """The start of ``day`` in Asia/Shanghai, as UTC."""
    return datetime.combine(day, datetime.min.time(), SHANGHAI).astimezone(UTC) if day else None


async def _unanswered(
    settings: Settings, since: datetime | None, limit: int
) -> list[UnansweredSummary]:
    database = Database(settings.database_url, UNHURRIED)
    try:
        await database.migrate()
        async with database.sessions() as session:
            return await questions.unanswered_summary(session, since, limit)
    finally:
        await database.close()


async def _gap_rows(
    settings: Settings, since: datetime | None
) -> tuple[list[UnansweredSummary], list[RatingSummary]]:
    database = Database(settings.database_url, UNHURRIED)
    try:
        await database.migrate()
        async with database.sessions() as session:
            unanswered = await questions.unanswered_summary(session, since, DISTINCT_QUESTIONS)
            rated = await answers.ratings(session, since, DISTINCT_QUESTIONS)
        return list(unanswered), list(rated)
    finally:
        await database.close()


def _kb_gaps(args: argparse.Namespace, settings: Settings) -> int:
    base = _load(settings.knowledge_dir)
    if base is None:
        return 1
    rows, rated = asyncio.run(_gap_rows(settings, _since(args.since)))
    _print_unanswered_gaps(rows, base, args.limit)
    _print_unhelpful(rated, base, args.limit)
    return 0


def _print_unanswered_gaps(rows: list[UnansweredSummary], base: KnowledgeBase, limit: int) -> None:
    asked = [Asked(r.text, r.count, r.last_asked_at, r.best_faq_id) for r in rows]
    found = group_questions(asked, base.matcher)
    if not found:
        print("没有未能回答的问题。")
        return
    print(f"未能回答的问题：{sum(g.count for g in found)} 次，{len(found)} 组（相似的问法算一组）")
    for rank, gap in enumerate(found[:limit], 1):
        last = gap.last_asked_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")
        near = f"  最接近的条目：{gap.nearest_faq_id}" if gap.nearest_faq_id else ""
        print(f"\n{rank}. {gap.example}  （{gap.count} 次，最近 {last}）{near}")
        for other in gap.phrasings[1:6]:
            print(f"     · {other.text}（{other.count} 次）")
        if len(gap.phrasings) > 6:
            print(f"     · 另有 {len(gap.phrasings) - 6} 种问法")


def _print_unhelpful(rows: list[RatingSummary], base: KnowledgeBase, limit: int) -> None:
    rated = [Rated(r.text, r.faq_id, r.down, r.up, r.last_answered_at) for r in rows]
    found = group_ratings(rated, base.matcher)
    if not found:
        print("\n没有评为“没帮助”的回答。")
        return
    print(
        f"\n评为“没帮助”的回答：👎 {sum(g.down for g in found)} 次，{len(found)} 组"
        "（相似的问法算一组）"
    )
    for rank, group in enumerate(found[:limit], 1):
        last = group.last_answered_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")
        given = "、".join(group.faq_ids)
        print(
            f"\n{rank}. {group.example}  （👎 {group.down} 次，👍 {group.up} 次，最近 {last}）"
            f"  给出的条目：{given}"
        )
        for other in group.phrasings[1:6]:
            print(f"     · {other.text}（👎 {other.down}，👍 {other.up}）")
        if len(group.phrasings) > 6:
            print(f"     · 另有 {len(group.phrasings) - 6} 种问法")


def _kb_unanswered(args: argparse.Namespace, settings: Settings) -> int:
    rows = asyncio.run(_unanswered(settings, _since(args.since), args.limit))
    if not rows:
        print("没有未能回答的问题。")
    for row in rows:
        last = row.last_asked_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        near = f"  最接近：{row.best_faq_id}（{row.best_score:.0f}）" if row.best_faq_id else ""
        print(f"{row.count:>4} 次  {last}  {row.text}{near}")
    return 0


def _workdays_due(args: argparse.Namespace, settings: Settings) -> int:
    try:
        opened_at = datetime.fromisoformat(args.opened_at)
    except ValueError:
        print(
            f"无法识别时间“{args.opened_at}”，请用 ISO 8601，如 2025-03-03T10:00+08:00",
            file=sys.stderr,
        )
        return 2
    if opened_at.tzinfo is None:
        print(
            f"时间“{args.opened_at}”没有时区，无法确定是哪一天；"
            "请写明时区，如 2025-03-03T10:00+08:00 或 2025-03-03T02:00Z",
            file=sys.stderr,
        )
        return 2
    if args.days < 1:
        print(f"--days 应是正整数，而不是 {args.days}", file=sys.stderr)
        return 2
    try:
        calendar = WorkCalendar.load(settings.calendar)
    except CalendarError as error:
        print(f"工作日历覆盖文件有问题：\n{error}", file=sys.stderr)
        return 2
    due = calendar.due(opened_at, args.days)
    record = {
        "opened_at": due.opened_at.isoformat(),
        "due_date": due.due_date.isoformat(),
        "deadline": due.deadline.isoformat(),
        "provisional": due.provisional,
    }
    print(json.dumps(record, ensure_ascii=False))
    return 0


_MAX_LINK_HOURS = 7 * 24
"""A sign-in link is for handing over now; a week is the longest that makes sense."""


def _console_link(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.hours <= _MAX_LINK_HOURS:
        print(f"--hours 应在 1 到 {_MAX_LINK_HOURS} 之间，而不是 {args.hours}", file=sys.stderr)
        return 2
    try:
        roster = load_roster(roster_file(settings))
    except DemoRefused as refused:
        _refuse_demo(refused)
        return 2
    except RosterError as error:
        print(f"名册有问题：\n{error}", file=sys.stderr)
        return 1
    web_id = args.web_id.strip()
    base_url = args.base_url or f"http://{settings.http_host}:{settings.http_port}"
    now = SystemClock().now()
    lifetime = timedelta(hours=args.hours)

    async def go() -> int:
        database = Database(settings.database_url)
        try:
            await database.migrate()
            person, link = await issue_link(
                database, roster, web_id, now=now, lifetime=lifetime, base_url=base_url
            )
        except KeyError:
            known = [p.id_on("web") for p in roster.people if p.id_on("web")]
            print(
                f"名册（{roster.source}）中没有 web 账号为“{web_id}”的人员，无法生成登录链接。"
                f"\n名册中的 web 账号：{'、'.join(str(k) for k in known) or '无'}",
                file=sys.stderr,
            )
            return 1
        finally:
            await database.close()
        until = (now + lifetime).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        print(
            f"{person.name}的一次性登录链接，{until}（北京时间）前有效，只能用一次：",
            file=sys.stderr,
        )
        print(link)
        return 0

    return asyncio.run(go())


def _wechat_menu(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(MENU, ensure_ascii=False, indent=2))
    if not args.push:
        return 0
    if not settings.wechat_app_id or settings.wechat_app_secret is None:
        print("需要 BOT_WECHAT_APP_ID 和 BOT_WECHAT_APP_SECRET 才能设置菜单。", file=sys.stderr)
        return 2
    api = WeChatApi(
        settings.wechat_api_url,
        settings.wechat_app_id,
        settings.wechat_app_secret.get_secret_value(),
        SystemClock(),
    )

    async def push() -> int:
        try:
            await api.create_menu(MENU)
        except WeChatApiError as error:
            print(f"微信拒绝了菜单：{error}", file=sys.stderr)
            return 1
        finally:
            await api.close()
        print("菜单已设置：关注者约 5 分钟内看到新菜单。", file=sys.stderr)
        return 0

    return asyncio.run(push())


def _report(args: argparse.Namespace, settings: Settings) -> int:
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
        _refuse_demo(refused)
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
        args.out.write_bytes(body[0])
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
