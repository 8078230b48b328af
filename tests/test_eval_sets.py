"""The check questions judge the knowledge base only if it was not written from them."""

from __future__ import annotations

import json

import pytest

from bench.eval import CHECK_SETS, STYLES, cases, held_out
from knowledge.loader import load_directory
from knowledge.text import normalize
from tests.support import ROOT

ENTRIES = load_directory(ROOT / "knowledge" / "faq").entries


def test_no_knowledge_base_phrasing_is_a_check_question() -> None:
    phrasings = {normalize(p.text): f"{e.id} ({p.text})" for e in ENTRIES for p in e.phrasings}
    copied = [
        f"{case.where}: {case.question} = {phrasings[normalize(case.question)]}"
        for path in CHECK_SETS
        for case in cases(path)
        if normalize(case.question) in phrasings
    ]
    assert copied == []


@pytest.mark.parametrize("path", CHECK_SETS, ids=lambda p: p.name)
def test_every_check_line_is_well_formed(path: object) -> None:
    assert isinstance(path, type(ROOT))
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        raw = json.loads(line)
        assert set(raw) <= {"q", "expect", "style"}, f"{path}:{number}"
        assert raw.get("style", "plain") in STYLES, f"{path}:{number}"
        expect = raw["expect"]
        assert expect is None or all(group and all(group) for group in expect), f"{path}:{number}"


def test_the_split_is_fixed_and_about_half() -> None:
    questions = [case.question for path in CHECK_SETS for case in cases(path)]
    share = sum(map(held_out, questions)) / len(questions)
    assert 0.4 < share < 0.6
    # The same question is on the same side wherever it is written.
    assert held_out("服务专员多久回复？") == held_out("服務專員多久回覆")
