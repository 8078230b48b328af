"""Folding and typo correction give the same text as before issue 18's rewrite.

:mod:`tests.support.text_reference` keeps :func:`~knowledge.text.normalize` and
:meth:`~knowledge.sounds.SoundCorrector.correct` as they were. Both ways must give the same
text for every check question, the base's own texts, everyday and generated texts, every
character zhconv converts, random strings of many scripts, and homophone typos.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import zhconv

from bench.load import everyday_questions
from knowledge.matcher import Matcher
from knowledge.service import build
from knowledge.sounds import _table
from knowledge.text import normalize
from tests.support import ROOT
from tests.support.text_reference import reference_correct, reference_normalize
from tests.test_matcher_reference import EDGES, base_texts, check_questions, generated

_SCRIPTS = (
    (0x20, 0x7E),  # ASCII
    (0xA0, 0x24F),  # Latin with accents
    (0x300, 0x36F),  # combining marks
    (0x2000, 0x206F),  # spaces and punctuation
    (0x3000, 0x303F),  # CJK punctuation
    (0x4E00, 0x9FFF),  # ideographs, simplified and traditional
    (0xFF00, 0xFFEF),  # full width
    (0x1F300, 0x1F64F),  # emoji
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return build(ROOT / "knowledge" / "faq", cache_size=0).matcher


def random_texts(count: int, seed: int = 18) -> Iterator[str]:
    """Strings of 1 to 30 characters drawn from many scripts."""
    rng = random.Random(seed)
    for _ in range(count):
        picks = (rng.choice(_SCRIPTS) for _ in range(rng.randint(1, 30)))
        yield "".join(chr(rng.randint(low, high)) for low, high in picks)


def homophone_typos(texts: list[str], seed: int = 18) -> Iterator[str]:
    """Each text with one ideograph swapped for another of the same sound."""
    rng = random.Random(seed)
    alike: dict[str, list[str]] = {}
    for char, sound in _table().items():
        alike.setdefault(sound, []).append(char)
    for text in texts:
        at = [i for i, c in enumerate(text) if len(alike.get(_table().get(c, ""), ())) > 1]
        if at:
            i = rng.choice(at)
            yield text[:i] + rng.choice(alike[_table()[text[i]]]) + text[i + 1 :]


def texts(matcher: Matcher) -> list[str]:
    checks = check_questions()
    everyday = [text for text, _ in everyday_questions([(q, "") for q in checks])]
    return [
        *checks,
        *base_texts(matcher),
        *random.Random(18).sample(everyday, 3_000),
        *generated(checks, 300),
        *EDGES,
    ]


def test_normalize_as_before(matcher: Matcher) -> None:
    # Each character zhconv converts from, alone among characters it does not, and all together.
    traditional = sorted({form[0] for form in zhconv.zhconv.getdict("zh-hans")})
    alone = [f"a {char}!" for char in traditional]
    written = [*texts(matcher), *alone, "".join(traditional), *random_texts(5_000)]
    assert sum(normalize(t) != t for t in alone) > 4_000  # zhconv did convert these
    differ = [t for t in written if normalize(t) != reference_normalize(t)]
    assert not differ, f"{len(differ)} of {len(written)} texts fold differently: {differ[:5]}"


def test_correct_as_before(matcher: Matcher) -> None:
    corrector = matcher._sounds
    folded = [matcher.analyzer.fold(t) for t in texts(matcher)]
    written = [*folded, *homophone_typos(folded), *random_texts(2_000)]
    corrected = [t for t in written if corrector.correct(t) != t]
    assert len(corrected) > 100  # typos were corrected, not only texts left alone
    differ = [t for t in written if corrector.correct(t) != reference_correct(corrector, t)]
    assert not differ, f"{len(differ)} of {len(written)} texts correct differently: {differ[:5]}"
