"""The reference for folding and typo correction: how they worked before issue 18's rewrite.

:func:`knowledge.text.normalize` skips zhconv for a text with no character it converts and
folds punctuation with ``str.translate``; :meth:`knowledge.sounds.SoundCorrector.correct` tries
only the lengths a word can start with at each character. :func:`reference_normalize` and
:func:`reference_correct` keep the code as it was, word for word, and
``tests/test_text_reference.py`` checks that both ways give the same text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import zhconv

from knowledge.sounds import _LONGEST, SoundCorrector, _table

__all__ = ["reference_correct", "reference_normalize"]

_SPACE = re.compile(r"\s+")


@cache
def _is_kept(char: str) -> bool:
    """Letters, digits and ideographs carry meaning; punctuation, symbols and emoji do not."""
    return unicodedata.category(char)[0] in "LN"


def reference_normalize(text: str) -> str:
    """:func:`knowledge.text.normalize` as it was."""
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-hans").lower()
    text = "".join(char if _is_kept(char) else " " for char in text)
    return _SPACE.sub(" ", text).strip()


def reference_correct(corrector: SoundCorrector, text: str) -> str:
    """:meth:`SoundCorrector.correct <knowledge.sounds.SoundCorrector.correct>` as it was."""
    if not corrector._sounds:
        return text
    table = _table()
    keys = [table.get(c) for c in text]
    out = []
    i, n = 0, len(text)
    while i < n:
        for size in range(min(_LONGEST, n - i), 1, -1):
            written = text[i : i + size]
            if written in corrector._known:
                out.append(written)  # a word as written is never "corrected"
                i += size
                break
            key = keys[i : i + size]
            if None in key:
                continue
            word = corrector._sounds.get(tuple(key))  # type: ignore[arg-type]
            if word and corrector._near(written, word) and not corrector._is_word(written):
                out.append(word)
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
