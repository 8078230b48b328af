"""Text folding, glossary and homophone correction."""

from __future__ import annotations

import pytest

from knowledge.sounds import SoundCorrector
from knowledge.text import Analyzer, Glossary, normalize


def test_normalize_folds_width_script_case_and_punctuation() -> None:
    assert (
        normalize("服務專員　多久給我回覆？？ＭＡＫＥＲ-Space!")
        == "服务专员 多久给我回复 maker space"
    )
    assert normalize("🙂🙂🙂") == ""
    assert normalize("<b>众创</b>") == "b 众创 b"


def test_glossary_maps_longest_alias_and_whole_english_words() -> None:
    glossary = Glossary.from_mapping(
        {"众创空间": ["maker space", "重创空间"], "服务专员": ["commissioner", "专员"]}
    )
    analyzer = Analyzer(glossary)
    assert analyzer.fold("Maker Space 在哪") == "众创空间 在哪"
    # "服务专员" stays whole although its tail is the alias "专员".
    assert analyzer.fold("服务专员和专员") == "服务专员 和 服务专员"
    # An English alias never matches inside a longer word.
    assert analyzer.fold("commissioners") == "commissioners"


@pytest.fixture
def corrector() -> SoundCorrector:
    common = {"失业", "重创"}
    return SoundCorrector(
        ["孵化器", "众创空间", "补贴", "服务专员", "事业", "定义"], common.__contains__
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("九园孵化起在哪", "九园孵化器在哪"),
        ("重创空间", "众创空间"),
        ("补帖多少", "补贴多少"),
        ("服务专圆", "服务专员"),
    ],
)
def test_homophone_typos_are_corrected(corrector: SoundCorrector, typed: str, meant: str) -> None:
    assert corrector.correct(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "失业了",  # a real word that sounds like 事业 stays
        "帮我订一张",  # 订一 sounds like 定义 but changes every character
        "众创空间",  # a known word is kept as written
        "服务专员是干啥的",  # 是 is never the typo: not 实干
    ],
)
def test_real_words_are_left_alone(corrector: SoundCorrector, typed: str) -> None:
    assert corrector.correct(typed) == typed


def test_ambiguous_sounds_are_not_guessed() -> None:
    corrector = SoundCorrector(["事业", "失业"], lambda _: False)
    assert corrector.correct("试业") == "试业"
