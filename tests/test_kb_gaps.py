"""``kb gaps``: unanswered questions grouped so that paraphrases of one question count as one.

The paraphrases were written for this test: several ways people ask each of a few questions the
shipped knowledge base cannot answer, with different words, word order and colloquial synonyms.
Answers rated 👎 are grouped the same way, with paraphrases of questions it does answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.gaps import Asked, Rated, group_questions, group_ratings
from knowledge.matcher import Matcher
from knowledge.service import build
from storage import Database
from storage.answers import Rating, rate_answer, record_answer
from storage.questions import record_unanswered
from tests.support import ROOT
from tests.support.cli import Cli, run_cli

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


async def _record(database: Database, **question: Any) -> None:
    """Keep one unanswered question, in a transaction of its own, as the FAQ handler does."""
    async with database.transaction() as session:
        await record_unanswered(session, **question)


def keep_unanswered(url: str, questions: list[tuple[str, datetime]]) -> None:
    """Keep each question (text, when asked) as not answered, in a fresh database at ``url``."""

    async def record() -> None:
        database = Database(url)
        await database.migrate()
        try:
            for text, asked_at in questions:
                await _record(
                    database,
                    asked_at=asked_at,
                    channel="web",
                    text=text,
                    band="none",
                    best_faq_id=None,
                    best_score=0.0,
                )
        finally:
            await database.close()

    asyncio.run(record())


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


@pytest.mark.slow
def test_the_command_lists_groups_with_counts_and_examples(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    keep_unanswered(url, [(a.text, a.last_asked_at) for a in asked_list() for _ in range(a.count)])
    result = run_cli("kb", "gaps", "--limit", "3", BOT_DATABASE_URL=url)  # the smoke test
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{len(PARAPHRASES)} 组" in out
    assert "1. 创业补贴怎么申请  （15 次" in out
    assert "· 如何申请创业补贴（4 次）" in out
    assert "2. 注册公司可以用众创空间的地址吗  （10 次" in out
    assert "无线网密码" not in out  # only the three largest groups were asked for


RATED: list[tuple[str, str, list[Rating | None]]] = [
    # Five ways of asking how soon the commissioners reply, all answered by reply-deadline.
    ("服务专员多久给我回复？", "reply-deadline", [Rating.DOWN] * 3 + [Rating.UP]),
    ("服务专员多长时间答复", "reply-deadline", [Rating.DOWN, Rating.DOWN]),
    ("专员多久能回复我", "reply-deadline", [Rating.UP, Rating.UP]),
    ("服务专员几天内反馈", "reply-deadline", [None]),  # answered, never rated
    # Three ways of asking how big a service group is.
    ("服务小组多少人", "service-group-size", [Rating.DOWN, Rating.DOWN]),
    ("服务小组有几个人", "service-group-size", [Rating.DOWN] + [Rating.UP] * 3),
    # Liked by everyone: no gap.
    ("众创空间在哪里办公", "mobile-service-station", [Rating.UP] * 4),
]


def rated_list() -> list[Rated]:
    return [
        Rated(
            text,
            faq_id,
            down=ratings.count(Rating.DOWN),
            up=ratings.count(Rating.UP),
            last_answered_at=NOW - timedelta(hours=n),
        )
        for n, (text, faq_id, ratings) in enumerate(RATED)
        if any(ratings)
    ]


def test_rated_answers_are_grouped_like_questions_and_ranked_by_thumbs_down(
    matcher: Matcher,
) -> None:
    groups = group_ratings(rated_list(), matcher)
    assert [(g.example, g.down, g.up, g.faq_ids) for g in groups] == [
        ("服务专员多久给我回复？", 5, 3, ["reply-deadline"]),
        ("服务小组多少人", 3, 3, ["service-group-size"]),
    ]
    assert [p.text for p in groups[0].phrasings] == [
        "服务专员多久给我回复？",
        "服务专员多长时间答复",
        "专员多久能回复我",
    ]
    assert groups[0].last_answered_at == NOW


def test_the_command_lists_answers_rated_unhelpful_after_the_unanswered(
    tmp_path: Path, cli: Cli
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def record() -> None:
        database = Database(url)
        await database.migrate()
        try:
            for n, (text, faq_id, ratings) in enumerate(RATED):
                at = NOW - timedelta(hours=n)
                for chat, rating in enumerate(ratings):
                    async with database.transaction() as session:
                        answer = await record_answer(
                            session,
                            answered_at=at,
                            channel="wechat",
                            chat_id=f"o{chat}",
                            text=text,
                            faq_id=faq_id,
                            score=95.0,
                        )
                        if rating is not None:
                            await rate_answer(
                                session,
                                answer,
                                channel="wechat",
                                chat_id=f"o{chat}",
                                rating=rating,
                                at=at,
                            )
        finally:
            await database.close()

    asyncio.run(record())
    out = gaps_output(cli, url)
    unanswered, _, rated = out.partition("评为“没帮助”的回答")
    assert unanswered.strip() == "没有未能回答的问题。"
    assert rated.startswith("：👎 8 次，2 组（相似的问法算一组）")
    first = rated.index("1. 服务专员多久给我回复？  （👎 5 次，👍 3 次，最近 2026-11-20）")
    second = rated.index("2. 服务小组多少人  （👎 3 次，👍 3 次")
    assert first < rated.index("给出的条目：reply-deadline") < second
    assert "· 服务专员多长时间答复（👎 2，👍 0）" in rated
    assert "· 专员多久能回复我（👎 0，👍 2）" in rated
    assert "· 服务小组有几个人（👎 1，👍 3）" in rated[second:]
    assert "给出的条目：service-group-size" in rated[second:]
    assert "服务专员几天内反馈" not in out  # never rated
    assert "众创空间在哪里办公" not in out  # rated helpful only


def gaps_output(cli: Cli, url: str, *options: str) -> str:
    result = cli("kb", "gaps", *options, BOT_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_greetings_and_thanks_are_no_gap(matcher: Matcher) -> None:
    asked = [*asked_list(), Asked("你好", 9, NOW), Asked("谢谢", 4, NOW)]
    gaps = group_questions(asked, matcher)
    assert len(gaps) == len(PARAPHRASES)
    assert gaps[0].example == "创业补贴怎么申请"


def test_the_command_shows_a_long_question_cut_and_counts_small_talk_apart(
    cli: Cli, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    long_question = "我们公司在宝坻的众创空间，想申请房租补贴，" * 100  # 2,100 characters
    keep_unanswered(url, [(text, NOW) for text in ["你好", "你好", "谢谢", long_question]])
    out = gaps_output(cli, url)
    assert out.startswith("未能回答的问题：1 次，1 组（相似的问法算一组）\n另有 3 条寒暄")
    assert f"1. {long_question[:59]}…（共 2100 字）  （1 次，最近 2026-11-20）" in out
    assert long_question[:80] not in out
    listed = cli("kb", "unanswered", BOT_DATABASE_URL=url).stdout
    assert max(len(line) for line in listed.splitlines()) < 120
