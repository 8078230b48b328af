"""The matcher on the knowledge base that ships: three bands, folding, English, typos."""

from __future__ import annotations

import pytest

from knowledge.matcher import Band
from knowledge.service import KnowledgeBase, build
from tests.support import ROOT


@pytest.fixture(scope="module")
def base() -> KnowledgeBase:
    return build(ROOT / "knowledge" / "faq")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("服务专员多久给我回复？", "10个工作日"),
        ("服務專員多久給我回覆？", "10个工作日"),  # traditional characters
        ("服务专圆多久回消息", "10个工作日"),  # IME typo
        ("How long does a commissioner take to reply?", "10个工作日"),
        ("how long until the commissioners reply", "10个工作日"),
        ("what is a maker space", "低成本"),
    ],
)
def test_answers_outright(base: KnowledgeBase, question: str, expected: str) -> None:
    result = base.match(question)
    assert result.band is Band.ANSWER, result
    assert result.best is not None
    assert expected in result.best.entry.answer


def test_ambiguous_question_gets_suggestions(base: KnowledgeBase) -> None:
    result = base.match("众创空间面积多大")
    assert result.band is Band.SUGGEST, result
    assert 1 <= len(result.matches) <= 3


@pytest.mark.parametrize(
    "question", ["今天天气怎么样", "帮我订一张火车票", "你会写诗吗", "asdfghjkl", "🙂", "的的的"]
)
def test_unrelated_question_matches_nothing(base: KnowledgeBase, question: str) -> None:
    result = base.match(question)
    assert result.band is Band.NONE, result
    assert result.matches == ()


def test_every_entry_answers_its_own_question(base: KnowledgeBase) -> None:
    wrong = []
    for entry in base.entries:
        result = base.match(entry.question)
        if result.band is not Band.ANSWER or result.best is None or result.best.entry is not entry:
            wrong.append((entry.id, result.band, result.best and result.best.entry.id))
    assert wrong == []


@pytest.mark.parametrize("question", ["<script>alert(1)</script>", "1", "2026", "3 7", "12:30"])
def test_numbers_alone_match_nothing(base: KnowledgeBase, question: str) -> None:
    assert base.match(question).band is Band.NONE


def test_the_policy_s_named_numbers_are_topics(base: KnowledgeBase) -> None:
    # "5+1" is the Baodi plan's name for its spaces, not a bare number.
    result = base.match("5+1")
    assert result.best is not None
    assert result.best.entry.id == "baodi-5plus1-spaces"
