"""``python -m bot kb``: check the FAQ files, and list what the bot could not answer."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from bot.clock import SHANGHAI
from bot.settings import Settings
from knowledge.gaps import Asked, Rated, group_questions, group_ratings
from knowledge.service import KnowledgeBase, KnowledgeError, build
from storage import Database, answers, questions
from storage.answers import RatingSummary
from storage.database import UNHURRIED
from storage.questions import UnansweredSummary

__all__ = ["DISTINCT_QUESTIONS", "check", "gaps", "load_knowledge", "unanswered"]


DISTINCT_QUESTIONS = 5000
"""Distinct texts ``kb gaps`` groups in each list, most asked (or most 👎) first (grouping is
quadratic)."""


def load_knowledge(directory: Path) -> KnowledgeBase | None:
    """The knowledge base in ``directory``; ``None`` (its faults printed) if it has faults."""
    try:
        return build(directory)
    except KnowledgeError as error:
        print(f"知识库有 {len(error.faults)} 处问题：", file=sys.stderr)
        for fault in error.faults:
            print(f"  {fault}", file=sys.stderr)
        return None


def check(args: argparse.Namespace, settings: Settings) -> int:
    """``kb check``: validate the FAQ files; 1 if any has a fault."""
    directory = args.directory or settings.knowledge_dir
    base = load_knowledge(directory)
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


def gaps(args: argparse.Namespace, settings: Settings) -> int:
    """``kb gaps``: unanswered questions, then answers rated unhelpful, grouped by meaning."""
    base = load_knowledge(settings.knowledge_dir)
    if base is None:
        return 1
    rows, rated = asyncio.run(_gap_rows(settings, _since(args.since)))
    _print_unanswered_gaps(rows, base, args.limit)
    _print_unhelpful(rated, base, args.limit)
    return 0


def _print_unanswered_gaps(rows: list[UnansweredSummary], base: KnowledgeBase, limit: int) -> None:
    asked = [Asked(r.text, r.count, r.last_asked_at, r.best_faq_id) for r in rows]
    found = group_questions(asked, base.matcher)
    # Every question that says something is in exactly one gap; the rest is small talk.
    chat = sum(a.count for a in asked) - sum(g.count for g in found)
    if not found:
        print("没有未能回答的问题。")
    else:
        print(
            f"未能回答的问题：{sum(g.count for g in found)} 次，{len(found)} 组（相似的问法算一组）"
        )
    if chat:
        print(f"另有 {chat} 条寒暄（你好、谢谢之类）不算在内。")
    for rank, gap in enumerate(found[:limit], 1):
        last = gap.last_asked_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")
        near = f"  最接近的条目：{gap.nearest_faq_id}" if gap.nearest_faq_id else ""
        print(f"\n{rank}. {_shown(gap.example)}  （{gap.count} 次，最近 {last}）{near}")
        for other in gap.phrasings[1:6]:
            print(f"     · {_shown(other.text)}（{other.count} 次）")
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
            f"\n{rank}. {_shown(group.example)}  （👎 {group.down} 次，👍 {group.up} 次，"
            f"最近 {last}）  给出的条目：{given}"
        )
        for other in group.phrasings[1:6]:
            print(f"     · {_shown(other.text)}（👎 {other.down}，👍 {other.up}）")
        if len(group.phrasings) > 6:
            print(f"     · 另有 {len(group.phrasings) - 6} 种问法")


SHOWN = 60
"""Characters of a question a list shows: a 2,000-character message would fill the screen."""


def _shown(text: str) -> str:
    """``text`` on one line, cut to :data:`SHOWN` characters with its length said."""
    line = " ".join(text.split())
    if len(line) <= SHOWN:
        return line
    return f"{line[: SHOWN - 1]}…（共 {len(line)} 字）"


def unanswered(args: argparse.Namespace, settings: Settings) -> int:
    """``kb unanswered``: the questions the bot could not answer, most asked first."""
    rows = asyncio.run(_unanswered(settings, _since(args.since), args.limit))
    if not rows:
        print("没有未能回答的问题。")
    for row in rows:
        last = row.last_asked_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        near = f"  最接近：{row.best_faq_id}（{row.best_score:.0f}）" if row.best_faq_id else ""
        print(f"{row.count:>4} 次  {last}  {_shown(row.text)}{near}")
    return 0
