"""The match cache: a question asked again word for word skips the reader and the matcher, and
gets exactly the answer it would have got without the cache, until a reload empties it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.eval import CHECK_SETS, cases
from bot.messages import Language
from handlers.faq import answer_question
from knowledge.cache import CacheCounts, TextCache
from knowledge.service import KnowledgeBase, KnowledgeService, build
from knowledge.text import normalize
from tests.support import ROOT
from tests.support.knowledge import ENTRY, write_faq

TODAY = date(2026, 12, 7)
SHIPPED = ROOT / "knowledge" / "faq"


@pytest.fixture(scope="module")
def base() -> KnowledgeBase:
    return build(SHIPPED)


@pytest.fixture(scope="module")
def uncached() -> KnowledgeBase:
    return build(SHIPPED, cache_size=0)


def test_a_question_asked_again_is_answered_from_the_cache(base: KnowledgeBase) -> None:
    question = "服务专员多久给我反馈？"
    before = base.match_cache.counts
    first = answer_question(base, question, Language.ZH, TODAY)
    again = answer_question(base, question, Language.ZH, TODAY)
    assert again == first
    assert base.match_cache.counts == before + CacheCounts(hits=1, misses=1)
    assert question in base.match_cache


def test_a_hit_answers_as_a_miss_in_either_language_and_on_any_date(
    base: KnowledgeBase, uncached: KnowledgeBase
) -> None:
    # The cache holds what the words alone decide; the language and the date (the note under
    # an answer from a measure past its term, 2018 for one of them) are applied on each answer.
    questions = [case.question for case in cases(CHECK_SETS[0])]
    days = (date(2017, 1, 1), TODAY)
    noted = set()
    for question in questions:
        for language in (Language.ZH, Language.EN):
            for today in days:
                expected = answer_question(uncached, question, language, today)
                assert answer_question(base, question, language, today) == expected, question
                noted.add((question, language, expected.text))
    assert len(noted) > len(questions) * 2  # some answers did change with the date
    assert base.match_cache.hits >= len(questions) * 3
    assert uncached.match_cache.hits == 0
    assert len(uncached.match_cache) == 0


def test_texts_the_matcher_tells_apart_are_kept_apart(
    base: KnowledgeBase, uncached: KnowledgeBase
) -> None:
    # Normalizing drops the punctuation, but the matcher reads a message clause by clause
    # where its punctuation splits it: the same words are answered differently.
    asked = "My request's due date says 'provisional'. What does that mean?"
    bare = normalize(asked)
    assert bare == "my request s due date says provisional what does that mean"
    with_marks = answer_question(base, asked, Language.EN, TODAY)
    without = answer_question(base, bare, Language.EN, TODAY)
    assert (with_marks.result.band, without.result.band) == ("suggest", "answer")
    assert answer_question(uncached, asked, Language.EN, TODAY) == with_marks
    assert answer_question(uncached, bare, Language.EN, TODAY) == without
    assert asked in base.match_cache
    assert bare in base.match_cache


def test_the_text_used_longest_ago_makes_room() -> None:
    made: list[str] = []

    def make(text: str) -> str:
        made.append(text)
        return text.upper()

    cache: TextCache[str] = TextCache(2)
    assert [cache.get(text, make) for text in ("a", "b", "a", "c")] == ["A", "B", "A", "C"]
    assert made == ["a", "b", "c"]
    assert "a" in cache  # used again after b: b went first
    assert "b" not in cache
    assert "c" in cache
    assert len(cache) == 2
    assert cache.get("b", make) == "B"
    assert made == ["a", "b", "c", "b"]
    assert "a" not in cache
    assert cache.counts == CacheCounts(hits=1, misses=4)


def test_a_cache_of_nothing_and_a_text_too_long_keep_nothing() -> None:
    none: TextCache[int] = TextCache(0)
    assert [none.get("问", len) for _ in range(3)] == [1, 1, 1]
    assert (len(none), none.counts) == (0, CacheCounts(hits=0, misses=3))
    short: TextCache[int] = TextCache(10, longest=5)
    assert [short.get("一二三四五六", len) for _ in range(2)] == [6, 6]
    assert short.get("一二三四五", len) == 5
    assert short.get("一二三四五", len) == 5
    assert short.counts == CacheCounts(hits=1, misses=3)
    with pytest.raises(ValueError, match="-1"):
        TextCache(-1)


async def test_a_reload_empties_the_cache_and_the_edited_answer_is_served(
    faq_dir: Path,
) -> None:
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    service = KnowledgeService(build(faq_dir, cache_size=8), now)
    question = "服务专员多久给我反馈结果？"
    for _ in range(2):
        assert answer_question(service.current, question, Language.ZH).text.startswith(
            "服务专员一般在10个工作日内反馈。"
        )
    old = service.current
    write_faq(
        faq_dir,
        "a.yaml",
        ENTRY.format(
            id="reply-deadline",
            question="服务专员多久给我反馈结果？",
            variant="提交的问题多长时间有答复",
            answer="服务专员一般在5个工作日内反馈。",
        ),
    )
    assert (await service.reload(now)).ok
    assert service.current is not old
    assert len(service.current.match_cache) == 0
    assert service.current.match_cache.size == 8  # the reload keeps the size it was given
    for _ in range(2):
        assert answer_question(service.current, question, Language.ZH).text.startswith(
            "服务专员一般在5个工作日内反馈。"
        )
    # The totals /metrics shows go on counting across the reload.
    assert service.match_cache == CacheCounts(hits=2, misses=2)
