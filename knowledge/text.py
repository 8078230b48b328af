"""Text analysis shared by the knowledge base and the matcher.

A question goes through: Unicode NFKC (full width → half width), traditional → simplified
Chinese, lower case, punctuation and emoji to spaces; then the glossary maps English keywords,
common typos and colloquial words onto the policy's own terms; then jieba segments it with a
dictionary of those terms.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jieba
import yaml
import zhconv

__all__ = ["DATA_DIR", "Analyzer", "Glossary", "normalize"]

DATA_DIR = Path(__file__).parent / "data"
"""Domain dictionary, glossary and stop words that ship with the bot."""

jieba.setLogLevel(logging.WARNING)
# zhconv opens its bundled dictionary without closing it unless handed a path; hand it one.
zhconv.loaddict(str(Path(zhconv.__file__).parent / "zhcdict.json"))

_SPACE = re.compile(r"\s+")
_COMMON = 50
"""jieba frequency from which a string counts as a real word (not a typo)."""


@cache
def _is_kept(char: str) -> bool:
    """Letters, digits and ideographs carry meaning; punctuation, symbols and emoji do not."""
    return unicodedata.category(char)[0] in "LN"


def normalize(text: str) -> str:
    """Fold a text to the form the matcher compares.

    >>> normalize("服務專員　多久給我回覆？？ Maker-Space!")
    '服务专员 多久给我回复 maker space'
    """
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-hans").lower()
    text = "".join(char if _is_kept(char) else " " for char in text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Glossary:
    """Words people use → the policy's term (``"maker space"`` → ``"众创空间"``)."""

    canonical: Mapping[str, str]
    """Each normalized alias to its term; terms map to themselves."""

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """Read a glossary file: a mapping of term → list of aliases."""
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, terms: Mapping[str, Iterable[str]]) -> Glossary:
        """Build a glossary from term → aliases."""
        canonical: dict[str, str] = {}
        for term, aliases in terms.items():
            target = normalize(term)
            canonical[target] = target
            for alias in aliases or ():
                canonical[normalize(str(alias))] = target
        return cls(canonical)

    def pattern(self) -> re.Pattern[str] | None:
        """One alternation of every alias, longest first, so the longest reading wins."""
        if not self.canonical:
            return None
        parts = []
        for alias in sorted(self.canonical, key=len, reverse=True):
            escaped = re.escape(alias)
            # An English alias (or "5 1", from 5+1) must stand as whole words: "commissioner"
            # inside "commissioners" is handled by listing the plural, not by matching inside.
            ascii_ = alias.isascii()
            parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if ascii_ else escaped)
        return re.compile("|".join(parts))


class Analyzer:
    """Turns text into the normalized string and the tokens the matcher works with."""

    def __init__(
        self,
        glossary: Glossary,
        terms: Iterable[str] = (),
        stopwords: Iterable[str] = (),
    ) -> None:
        """Create an analyzer.

        Args:
            glossary: Aliases folded onto policy terms before segmentation.
            terms: Domain words jieba must keep whole (众创空间, 服务专员…).
            stopwords: Words that say nothing about the topic (什么, 吗, 我…).
        """
        self.glossary = glossary
        self._pattern = glossary.pattern()
        self.stopwords = frozenset(normalize(word) for word in stopwords)
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for term in {*terms, *glossary.canonical.values()}:
            word = normalize(term)
            # A term written with a space ("提交 工单") stands for several words, so that
            # "提交个工单" and "开个工单" share both of them.
            if word and not word.isascii() and " " not in word:
                self._tokenizer.add_word(word, freq=200_000)

    @classmethod
    def default(cls) -> Analyzer:
        """The analyzer with the dictionary, glossary and stop words that ship with the bot."""
        return _default_analyzer()

    def fold(self, text: str) -> str:
        """Normalize ``text`` and replace aliases by their policy term."""
        folded = normalize(text)
        if self._pattern is not None:
            canonical = self.glossary.canonical
            folded = self._pattern.sub(lambda m: f" {canonical[m.group(0)]} ", folded)
            folded = _SPACE.sub(" ", folded).strip()
        return folded

    def is_common_word(self, text: str) -> bool:
        """Whether jieba's dictionary knows ``text`` as a word in its own right."""
        return int(self._tokenizer.FREQ.get(text, 0)) >= _COMMON

    def tokens(self, folded: str) -> list[str]:
        """Segment an already folded text into words, spaces dropped."""
        return [t for t in self._tokenizer.lcut(folded, HMM=False) if not t.isspace()]

    def content_tokens(self, folded: str) -> list[str]:
        """The words of ``folded`` that carry meaning (stop words removed)."""
        return [t for t in self.tokens(folded) if t not in self.stopwords]


def _read_words(path: Path) -> list[str]:
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.append(word)
    return words


@cache
def _default_analyzer() -> Analyzer:
    return Analyzer(
        Glossary.load(DATA_DIR / "glossary.yaml"),
        terms=_read_words(DATA_DIR / "terms.txt"),
        stopwords=_read_words(DATA_DIR / "stopwords.txt"),
    )
