"""The shipped knowledge base covers both policy documents, article by article."""

from __future__ import annotations

import re

import pytest

from knowledge.loader import load_directory
from tests.support import ROOT

ENTRIES = load_directory(ROOT / "knowledge" / "faq").entries
NUMERALS = "一二三四五六七八九十"


def _article(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else NUMERALS[n - 1]
    return "十" + NUMERALS[n - 11]


def _cited(document: str) -> str:
    return " ".join(e.source for e in ENTRIES if e.source.startswith(document))


def test_at_least_sixty_entries_each_with_three_variants() -> None:
    assert len(ENTRIES) >= 60
    assert [e.id for e in ENTRIES if len(e.variants) < 3] == []


@pytest.mark.parametrize("n", range(1, 19))
def test_every_article_of_51_is_cited(n: int) -> None:
    cited = _cited("津科创〔2015〕51号")
    assert re.search(rf"第{_article(n)}条|、{_article(n)}条", cited), f"第{_article(n)}条"


def test_every_section_of_the_baodi_plan_is_cited() -> None:
    plan = (ROOT / "knowledge" / "sources" / "baodi-2015-maker-space-plan.txt").read_text("utf-8")
    headings = re.findall(r"^([一二三四五六七]、\S+)", plan, flags=re.MULTILINE)
    assert len(headings) == 7
    cited = _cited("宝坻区众创空间实施方案")
    assert [h for h in headings if h not in cited] == []


def test_every_source_names_a_document_that_ships() -> None:
    documents = ("津科创〔2015〕51号", "宝坻区众创空间实施方案", "众创助手使用说明")
    assert [e.id for e in ENTRIES if not e.source.startswith(documents)] == []
