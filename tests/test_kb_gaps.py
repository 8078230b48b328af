"""``kb gaps``: unanswered questions grouped so that paraphrases of one question count as one.

The paraphrases were written for this test: several ways people ask each of a few questions the
shipped knowledge base cannot answer, with different words, word order and colloquial synonyms.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT

from knowledge.gaps import Asked, group_questions
from knowledge.matcher import Matcher
from knowledge.service import build
from storage import Database

PARAPHRASES: dict[str, list[str]] = {
    "subsidy": [
        "创业补贴怎么申请",
        "如何申请创业补贴",
        "申请创业补助需要什么条件",
        "创业补贴去哪里领",
        "我能领创业补贴吗",
    ],
    "address": [
        "注册公司可以用众创空间的地址吗",
        "能不能把公司注册在众创空间",
        "众创空间的地址可以做注册地址吗",
        "公司注册地址能放在众创空间吗",
    ],
    "parking": ["园区停车收费吗", "众创空间里停车要钱吗", "园区停车怎么收费"],
    "canteen": ["园区有没有食堂", "园区里有食堂吗"],
    "meeting-room": ["会议室怎么预约", "怎么预约会议室", "预约会议室要钱吗"],
    "wifi": ["无线网密码是多少", "wifi密码多少"],
}
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return build(ROOT / "knowledge" / "faq").matcher


def asked_list() -> list[Asked]:
    return [
        Asked(text, count=len(texts) - n, last_asked_at=NOW - timedelta(hours=n))
        for texts in PARAPHRASES.values()
        for n, text in enumerate(texts)
    ]


def test_paraphrases_of_one_question_make_one_group(matcher: Matcher) -> None:
    gaps = group_questions(asked_list(), matcher)
    grouped = sorted(sorted(p.text for p in gap.phrasings) for gap in gaps)
    assert grouped == sorted(sorted(texts) for texts in PARAPHRASES.values())


def test_groups_are_counted_and_named_by_their_most_asked_phrasing(matcher: Matcher) -> None:
    gaps = group_questions(asked_list(), matcher)
    first = gaps[0]
    assert first.example == "创业补贴怎么申请"
    assert first.count == 5 + 4 + 3 + 2 + 1
    assert first.phrasings[0].text == first.example
    assert [gap.count for gap in gaps] == sorted((gap.count for gap in gaps), reverse=True)
    assert first.last_asked_at == NOW


def test_a_lone_question_is_a_group_of_its_own(matcher: Matcher) -> None:
    asked = [*asked_list(), Asked("孵化器里能养猫吗", 1, NOW)]
    gaps = group_questions(asked, matcher)
    assert any([p.text for p in gap.phrasings] == ["孵化器里能养猫吗"] for gap in gaps)
    assert len(gaps) == len(PARAPHRASES) + 1


def test_the_command_lists_groups_with_counts_and_examples(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def record() -> None:
        database = Database(url)
        await database.migrate()
        try:
            for asked in asked_list():
                for _ in range(asked.count):
                    await database.unanswered.record(
                        asked_at=asked.last_asked_at,
                        channel="web",
                        text=asked.text,
                        band="none",
                        best_faq_id=None,
                        best_score=0.0,
                    )
        finally:
            await database.close()

    asyncio.run(record())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "gaps", "--limit", "3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment | {"BOT_DATABASE_URL": url},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{len(PARAPHRASES)} 组" in out
    assert "1. 创业补贴怎么申请  （15 次" in out
    assert "· 如何申请创业补贴（4 次）" in out
    assert "2. 注册公司可以用众创空间的地址吗  （10 次" in out
    assert "无线网密码" not in out  # only the three largest groups were asked for
