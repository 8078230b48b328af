"""The matcher folds and scores every text exactly as it did before issue 18.

:mod:`tests.support.matcher_reference` keeps ``Matcher._score`` (every candidate scored, one
phrasing at a time) and the glossary's pattern as they were. Both matchers match, on the shipped
base: every check question (``bench/data``), generated long messages and typos, edge cases;
and (slow, half a minute or more) every phrasing
and answer of the base, the chatter it knows, more generated texts and 5,000 of the benchmarks'
everyday texts. They must give the same band and the same matches, entry for entry in the same
order, and the same scores before they are rounded to one decimal: the float each entry scored,
bit for bit, not merely its rounding; and ``match()``'s few best, found without scoring every
candidate, must be the reference's first few, float for float.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
import yaml

import knowledge.matcher
import tests.support.matcher_reference
from bench.load import everyday_questions, questions
from knowledge.matcher import MAX_SUGGESTIONS, Band, Match, Matcher
from knowledge.service import build
from knowledge.text import DATA_DIR
from tests.support import ROOT
from tests.support.matcher_reference import (
    CdistMatcher,
    ReferenceGlossary,
    ReferenceMatcher,
    reference_analyzer,
)

EVERYDAY = 5_000
"""Everyday texts compared in the slow test (of 17,822)."""

EDGES = (
    "",
    "   ",
    "？？？",
    "！！",
    "😀😀",
    "1",
    "2026",
    "1 2 3",
    "51",
    "2015年5月28日",
    "a",
    "hello",
    "what is a maker space",
    "What is a maker space and how do I apply for a subsidy?",
    "众创空间 subsidy 多少",
    "maker space 面积多大",
    "的的的的",
    "请问",
    "天津",
    "今天天气怎么样",
    "帮我订一张火车票",
    "服务专员服务专员服务专员",
    "众创空间" * 200,
    "我想问一下，" * 50 + "补贴怎么申请？",
    "專員幾人一組？",
    "ＦＵＬＬ　ＷＩＤＴＨ　众创空间",
)
"""Texts that fold to nothing, to numbers alone, to one word; English, mixed, very long."""


@pytest.fixture(scope="module")
def matchers() -> tuple[Matcher, ReferenceMatcher]:
    """The shipped base's matcher, and the reference built from the same entries.

    The reference folds text with the glossary's pattern as it was, for its entries and for
    the questions, so the whole way from a text to its matches is compared.
    """
    matcher = build(ROOT / "knowledge" / "faq", cache_size=0).matcher
    analyzer = reference_analyzer()
    assert isinstance(analyzer.glossary, ReferenceGlossary)
    assert analyzer.glossary.canonical == matcher.analyzer.glossary.canonical
    reference = ReferenceMatcher(matcher.entries, analyzer, matcher.bands, matcher.scoring)
    return matcher, reference


def check_questions() -> list[str]:
    """Every question of the check sets, in file order."""
    return [
        json.loads(line)["q"]
        for path in sorted((ROOT / "bench" / "data").glob("faq_*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def base_texts(matcher: Matcher) -> list[str]:
    """Every phrasing and answer of the base, and every chatter phrase the reader knows."""
    texts = [analyzed.phrasing.text for analyzed in matcher.phrasings()]
    for entry in matcher.entries:
        texts.append(entry.answer)  # long messages, in the policy's own words
        if entry.english is not None:
            texts.append(entry.english.answer)
    chatter = yaml.safe_load((DATA_DIR / "chatter.yaml").read_text(encoding="utf-8"))
    texts += [str(phrase) for phrases in chatter.values() for phrase in phrases]
    return texts


def generated(questions: list[str], count: int, seed: int = 18) -> Iterator[str]:
    """Long messages of two to four questions, and questions with a character lost or swapped."""
    rng = random.Random(seed)
    for _ in range(count):
        yield "，".join(rng.sample(questions, rng.randint(2, 4)))
        text = rng.choice(questions)
        at = rng.randrange(max(len(text) - 1, 1))
        yield text[:at] + text[at + 1 :]
        yield text[:at] + text[at + 1 : at + 2] + text[at : at + 1] + text[at + 2 :]


def scored(matches: list[Match]) -> list[tuple[str, str]]:
    """Each entry's id and its score's exact value (``float.hex``: -0.0 and 0.0 differ)."""
    assert all(type(m.score) is float for m in matches)
    return [(m.entry.id, m.score.hex()) for m in matches]


def assert_same(
    matchers: tuple[Matcher, ReferenceMatcher], texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both matchers give the same result for every text, and the same unrounded scores."""
    matcher, reference = matchers
    differ = [t for t in texts if matcher.match(t) != reference.match(t)]
    assert not differ, f"{len(differ)} of {len(texts)} texts match differently: {differ[:5]}"
    # Scores are rounded to one decimal, which would hide a difference in the last bits that
    # some other text would round differently: compare the floats themselves.
    for module in (knowledge.matcher, tests.support.matcher_reference):
        monkeypatch.setattr(module, "round", lambda number, _digits: number, raising=False)
    for text in texts:
        ours, long = matcher._score(text)
        theirs, long_then = reference._score(text)
        assert (scored(ours), long) == (scored(theirs), long_then), text
        # What match() decides from: the best few, found without scoring every candidate; or
        # none when no candidate could be offered, which the reference must decide as well.
        best, long = matcher._best(text, MAX_SUGGESTIONS)
        if best or not theirs:
            assert (scored(best), long) == (scored(theirs[:MAX_SUGGESTIONS]), long_then), text
        else:
            assert reference.match(text).band is Band.NONE, text


def test_glossary_folds_as_before(matchers: tuple[Matcher, ReferenceMatcher]) -> None:
    matcher, reference = matchers
    checks = check_questions()
    everyday = [text for text, _ in everyday_questions([(q, "") for q in checks])]
    texts = [*checks, *base_texts(matcher), *random.Random(18).sample(everyday, EVERYDAY), *EDGES]
    assert len(set(texts)) > 8_000
    differ = [t for t in texts if matcher.analyzer.fold(t) != reference.analyzer.fold(t)]
    assert not differ, f"{len(differ)} of {len(texts)} texts fold differently: {differ[:5]}"


def test_same_matches_on_check_sets_and_edges(
    matchers: tuple[Matcher, ReferenceMatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = check_questions()
    texts = [*checks, *generated(checks, 100), *EDGES]
    assert len(set(texts)) > 800
    assert_same(matchers, texts, monkeypatch)


def test_the_benchmarks_baseline_matches_alike(matchers: tuple[Matcher, ReferenceMatcher]) -> None:
    """bench/matcher.py times the matcher beside the one before pruning: the same answers."""
    matcher = matchers[0]
    baseline = CdistMatcher(matcher.entries, matcher.analyzer, matcher.bands, matcher.scoring)
    checks = check_questions()
    texts = [*checks, *generated(checks, 100), *EDGES]
    differ = [t for t in texts if matcher.match(t) != baseline.match(t)]
    assert not differ, f"{len(differ)} of {len(texts)} texts match differently: {differ[:5]}"


@pytest.mark.slow
def test_same_matches_on_the_base_and_everyday_texts(
    matchers: tuple[Matcher, ReferenceMatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    everyday = [text for text, _ in everyday_questions(questions())]
    assert len(everyday) > EVERYDAY
    texts = [
        *base_texts(matchers[0]),
        *generated(check_questions(), 300, seed=19),
        *random.Random(18).sample(everyday, EVERYDAY),
    ]
    assert len(set(texts)) > 8_500
    assert_same(matchers, texts, monkeypatch)
