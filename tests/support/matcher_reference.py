"""The reference for the matcher: how it scored and folded a question before issue 18.

The scoring loop took some 80 % of the CPU of an answer (about 430 phrasings per question,
each with a set intersection, two ``sum`` calls and a ``fuzz.ratio``); it was rewritten to do
the same arithmetic on fewer phrasings and to compute the character similarities in one
rapidfuzz call. The glossary's pattern, run on every clause folded, was rewritten so that re
can skip the places where no alias starts. :class:`ReferenceMatcher` keeps the loop and
:class:`ReferenceGlossary` the pattern as they were, word for word; :func:`reference_analyzer`
is the shipped analyzer with that pattern. ``tests/test_matcher_reference.py`` checks that the
matcher and the reference give the same matches, score for score, and fold texts alike.

Then :meth:`Matcher.match <knowledge.matcher.Matcher.match>` stopped scoring every candidate:
it scores them in the order of a bound on their score until none left can be among the
matches it returns, and adds up what each entry explains from an index of words. Both
references keep what came before word for word: every candidate scored (what each explains
added up entry by entry) and the bands decided from all of them. :class:`CdistMatcher` is the
matcher as the first rewrite left it, the baseline of ``bench/matcher.py``.
"""

from __future__ import annotations

import re

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.matcher import MAX_SUGGESTIONS, Band, Match, Matcher, MatchResult
from knowledge.text import DATA_DIR, Analyzer, Glossary
from knowledge.text import _read_words as read_words  # how Analyzer.default reads its lists

__all__ = ["CdistMatcher", "ReferenceGlossary", "ReferenceMatcher", "reference_analyzer"]


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


class EveryCandidate(Matcher):
    """A :class:`~knowledge.matcher.Matcher` that scores every candidate to match a question."""

    def _explains(self, index: int, weights: dict[str, float]) -> float:
        """How much of the question (by weight) entry ``index``'s words explain.

        A Chinese word that is part of one of the entry's words (工商 of 工商注册) counts for
        :attr:`Scoring.partial` of its weight.
        """
        related = self._related[index]
        joined = self._joined[index]
        partial = self.scoring.partial
        return sum(
            v if w in related else v * partial
            for w, v in weights.items()
            if w in related or (len(w) >= 2 and not w.isascii() and w in joined)
        )

    def match(self, question: str) -> MatchResult:
        """Decide how to answer ``question``."""
        matches, long = self._score(question)
        bands = self.bands
        if not matches:
            return MatchResult(question, Band.NONE, ())
        top = matches[0].score
        runner_up = matches[1].score if len(matches) > 1 else 0.0
        long_leads = long and top >= bands.long_lead and top >= bands.long_lead_ratio * runner_up
        if top < bands.suggest and not long_leads:
            return MatchResult(question, Band.NONE, ())
        leads = top >= bands.lead and top >= bands.lead_ratio * runner_up
        clear = top >= bands.answer and top - runner_up >= max(
            bands.margin, bands.relative_margin * top
        )
        if top >= bands.sure or clear or leads or long_leads:
            return MatchResult(question, Band.ANSWER, tuple(matches[:MAX_SUGGESTIONS]))
        offered = tuple(m for m in matches[:MAX_SUGGESTIONS] if m.score >= bands.suggest)
        return MatchResult(question, Band.SUGGEST, offered)


class CdistMatcher(EveryCandidate):
    """The matcher before exact pruning: every candidate, its similarities in one cdist call."""

    def _score(self, question: str) -> tuple[list[Match], bool]:
        """Every candidate entry with its score, best first; and whether the message is long.

        Each phrasing of a candidate scores (see :class:`Scoring`)::

            shared  = the question's words in the phrasing
            exact   = sum of the question's weights of ``shared``
            covers  = (exact + (loose - answer_credit * exact)) / total
                      where total = sum of the question's weights
                      and   loose = answer_credit * what the entry explains (_explains)
            covered = sum of the IDF of ``shared`` / the phrasing's weight
            similar = fuzz.ratio(question's compact, phrasing's compact) / 100
            score   = covers * (floor + (1 - floor) * (covered + similar) / 2)
            and in a long message, for a phrasing of two words or more:
            score   = max(score, held * covered² * explained / most explained)

        and the entry scores its best phrasing. Most phrasings (three in four) share no word
        with the question: for them ``exact`` is 0 and ``covered`` 0.0, so the score rises
        with ``similar`` alone (every step is monotonic: nothing there is negative) and the
        long-message term is 0.0. Only the best ``similar`` of them is scored, once per entry;
        the phrasings that share a word are scored one by one. The arithmetic is the same, in
        the same order, as for each phrasing on its own (``sum`` over the same ``shared`` set,
        so over its words in the same order), and a maximum does not depend on the order it
        is taken in (no score is NaN: every weight is above 0, so is ``total``). The scores
        are the same floats, bit for bit, as scoring every phrasing:
        tests/test_matcher_reference.py checks it against the loop that did.
        """
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
        if not candidates:
            return [], long
        similar_to = self._similarities(compact, words, candidates)
        credit = scoring.answer_credit
        floor = scoring.floor
        shaped = 1 - scoring.floor
        idf = self._idf.__getitem__
        weight = weights.__getitem__
        held_share = scoring.held
        matches = []
        for index, explained, (sharing, unshared) in zip(
            candidates, explains, similar_to, strict=True
        ):
            loose = explained * credit
            best = 0.0
            phrasings = self._phrasings_of[index]
            for position, ratio in sharing:
                phrasing = phrasings[position]
                shared = phrasing.words.intersection(weights)
                exact = sum(map(weight, shared))
                covers = (exact + (loose - credit * exact)) / total
                # The phrasing holds a word, so its weight (IDFs, all above 0) is above 0.
                covered = sum(map(idf, shared)) / phrasing.weight
                similar = ratio / 100.0
                best = max(best, covers * (floor + shaped * ((covered + similar) / 2)))
                if long and len(phrasing.words) >= 2:
                    best = max(best, held_share * (covered * covered * explained / most))
            if unshared >= 0.0:  # as above with exact = 0 and covered = 0.0
                covers = (0 + (loose - credit * 0)) / total
                similar = unshared / 100.0
                best = max(best, covers * (floor + shaped * ((0.0 + similar) / 2)))
            matches.append(Match(self.entries[index], round(100.0 * best, 1)))
        matches.sort(key=lambda m: (-m.score, m.entry.id))
        return matches, long

    def _similarities(
        self, compact: str, words: list[str], candidates: list[int]
    ) -> list[tuple[list[tuple[int, float]], float]]:
        """How each candidate's phrasings compare with the question's ``compact``.

        For each candidate: the phrasings that share a word of ``words``, each as its position
        in the entry and its ``fuzz.ratio`` with ``compact``; and the best ratio of the others
        (-1.0 when every phrasing shares a word). The ratios of every candidate's phrasings are
        worked out in one rapidfuzz call: the very values ``fuzz.ratio`` gives one by one.
        """
        starts: list[int] = []
        sharing: list[set[int]] = []
        compacts: list[str] = []
        for index in candidates:
            starts.append(len(compacts))
            compacts += self._compacts_of[index]
            holding = self._holding[index]
            sharing.append({p for w in words if w in holding for p in holding[w]})
        ratios = process.cdist([compact], compacts, scorer=fuzz.ratio, dtype=np.float64)[0]
        others = ratios.copy()
        others[
            [start + p for start, found in zip(starts, sharing, strict=True) for p in found]
        ] = -1
        unshared: list[float] = np.maximum.reduceat(others, starts).tolist()
        listed: list[float] = ratios.tolist()
        return [
            ([(p, listed[start + p]) for p in found], best)
            for start, found, best in zip(starts, sharing, unshared, strict=True)
        ]


class ReferenceMatcher(EveryCandidate):
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
