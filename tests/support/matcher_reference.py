"""The reference for the matcher: how it scored and folded a question before issue 18.

The scoring loop took some 80 % of the CPU of an answer (about 430 phrasings per question,
each with a set intersection, two ``sum`` calls and a ``fuzz.ratio``); it was rewritten to do
the same arithmetic on fewer phrasings and to compute the character similarities in one
rapidfuzz call. The glossary's pattern, run on every clause folded, was rewritten so that re
can skip the places where no alias starts. :class:`ReferenceMatcher` keeps the loop and
:class:`ReferenceGlossary` the pattern as they were, word for word; :func:`reference_analyzer`
is the shipped analyzer with that pattern. ``tests/test_matcher_reference.py`` checks that the
matcher and the reference give the same matches, score for score, and fold texts alike.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from knowledge.matcher import Match, Matcher
from knowledge.text import DATA_DIR, Analyzer, Glossary
from knowledge.text import _read_words as read_words  # how Analyzer.default reads its lists

__all__ = ["ReferenceGlossary", "ReferenceMatcher", "reference_analyzer"]


class ReferenceGlossary(Glossary):
    """A :class:`~knowledge.text.Glossary` whose pattern is the one from before issue 18."""

    __slots__ = ()

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


def reference_analyzer() -> Analyzer:
    """:meth:`Analyzer.default <knowledge.text.Analyzer.default>`, with the pattern as it was."""
    return Analyzer(
        ReferenceGlossary.load(DATA_DIR / "glossary.yaml"),
        terms=read_words(DATA_DIR / "terms.txt"),
        stopwords=read_words(DATA_DIR / "stopwords.txt"),
    )


class ReferenceMatcher(Matcher):
    """A :class:`~knowledge.matcher.Matcher` that scores with the loop from before issue 18."""

    def _score(self, question: str) -> tuple[list[Match], bool]:
        """Every candidate entry with its score, best first; and whether the message is long."""
        weights, compact = self._weighed(question)
        words = list(weights)
        if all(w.isdigit() for w in words):
            return [], False  # numbers alone ("1", "2026") say nothing about a topic
        total = sum(weights.values())
        scoring = self.scoring
        candidates = self._candidates(words, compact)
        explains = [self._explains(index, weights) for index in candidates]
        # A long message is judged by the question inside it: how fully it holds one of an
        # entry's phrasings, and how much of it that entry explains beside the others.
        long = len(weights) >= scoring.long_words
        most = max(explains, default=0.0) or 1.0
        matches = []
        for index, explained in zip(candidates, explains, strict=True):
            loose = explained * scoring.answer_credit
            best = 0.0
            for phrasing in self._phrasings_of[index]:
                shared = phrasing.words.intersection(weights)
                exact = sum(weights[w] for w in shared)
                loose_here = loose - scoring.answer_credit * exact
                covers = (exact + loose_here) / total
                covered = (
                    sum(self._idf[w] for w in shared) / phrasing.weight if phrasing.weight else 0.0
                )
                similar = fuzz.ratio(compact, phrasing.compact) / 100.0
                shape = (covered + similar) / 2
                best = max(best, covers * (scoring.floor + (1 - scoring.floor) * shape))
                if long and len(phrasing.words) >= 2:
                    held = covered * covered * explained / most
                    best = max(best, scoring.held * held)
            matches.append(Match(self.entries[index], round(100.0 * best, 1)))
        matches.sort(key=lambda m: (-m.score, m.entry.id))
        return matches, long
