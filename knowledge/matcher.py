"""Find the entry that answers a question, and decide how sure the bot is.

Two stages keep a query fast on large bases:

1. **Candidates.** An inverted index maps features (words and character bigrams) to the
   entries whose phrasings contain them; a query adds up the IDF weights of its features per
   entry with one ``numpy.bincount`` and keeps the best few.
2. **Scoring.** Each phrasing of each candidate is scored on how much of the question's
   meaning it covers (IDF-weighted words), how much of the phrasing the question covers, and
   their character similarity (rapidfuzz). An entry scores its best phrasing. Only the
   phrasings that share a word with the question are scored one by one; of the others, which
   can differ only in their similarity, just the most similar (see
   :meth:`Matcher._entry_score`). A match needs only the best three: candidates are scored in
   the order of the most each could score, until none left can be among them
   (:meth:`Matcher._best`); the scores are exact, as if every candidate had been scored.

The score then falls into one of three bands: answer outright, suggest ("您是不是想问"), or no
match (offer a service request).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from knowledge.model import FaqEntry, Phrasing
from knowledge.sounds import SoundCorrector
from knowledge.text import Analyzer, asking_clauses, clauses

__all__ = ["AnalyzedPhrasing", "Band", "Bands", "Match", "MatchResult", "Matcher", "Scoring"]

CANDIDATES = 16
"""Entries scored in full per query; the index ranks the rest out."""

MAX_SUGGESTIONS = 3
"""Matches a result holds at most: :meth:`Matcher.match` needs the scores of this many only."""
_CANDIDATE_DOCS = 48
"""Best-ranked phrasings looked at to find the candidate entries."""
_GRAM = "\x00"
"""Prefix that keeps character bigrams apart from words in the index."""

_NOT_TOPICS = frozenset({"多少", "哪些", "怎么", "如何"})
"""Words of the entries' questions that do not make a message about the policies: the words
any question asks with. (The city every question is in, 天津, is a stop word.)"""

_SLACK = 1 + 1e-9
"""How much a bound on a score is widened, against the rounding of the floats it is worked
out from: far more than a few roundings can take away, far less than a score's last decimal."""

_STEM = 6
"""Letters an English word keeps: enough to tell words apart, few enough to meet its kin."""


class Band(StrEnum):
    """How the bot responds to a question."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Bands:
    """Score thresholds (0–100), calibrated on the development questions.

    Attributes:
        answer: At or above, the best entry is answered outright…
        margin: …provided it leads the runner-up by this much (or scores ``sure``).
        sure: A score this high is answered even when another entry is close.
        suggest: At or above, an entry is offered as a suggestion.
    """

    answer: float = 37.0
    margin: float = 1.0
    relative_margin: float = 0.03
    """…or by this share of its score, whichever is more: two entries within a few per cent of
    each other are both suggested (which of the six maker spaces is "众创空间面积多大"?)."""
    sure: float = 80.0
    suggest: float = 25.0
    lead: float = 30.0
    lead_ratio: float = 1.45
    """Below ``answer``, a score of at least ``lead`` is answered when it is this many times
    the runner-up's: one entry clearly explains the question though much of it is unknown."""
    long_lead: float = 20.0
    long_lead_ratio: float = 1.6
    """The same for a long message (:attr:`Scoring.long_words`), whose story around the
    question is full of words no entry holds: what counts is that one entry explains clearly
    more of it than any other."""


@dataclass(frozen=True, slots=True)
class Match:
    """An entry and how well it fits the question."""

    entry: FaqEntry
    score: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The decision for one question."""

    question: str
    band: Band
    matches: tuple[Match, ...]
    """Best first; for ``SUGGEST`` these are the suggestions, for ``NONE`` empty."""

    @property
    def best(self) -> Match | None:
        """The top match, if any."""
        return self.matches[0] if self.matches else None


@dataclass(frozen=True, slots=True)
class AnalyzedPhrasing:
    """A phrasing as the matcher sees it."""

    entry: int
    """Index of its entry in :attr:`Matcher.entries`."""
    phrasing: Phrasing
    words: frozenset[str]
    weight: float
    """Sum of the IDF of ``words``: how much meaning the phrasing holds."""
    compact: str
    """Content words joined, for character similarity."""


@dataclass(frozen=True, slots=True)
class Scoring:
    """How the parts of a score combine; calibrated with ``make eval``.

    A phrasing scores ``100 * covers * (floor + (1 - floor) * shape)`` where ``covers`` is
    the IDF-weighted share of the question's words the entry explains and ``shape`` the
    mean of how much of the phrasing the question covers and their character similarity.
    Coverage multiplies: a question with words the entry cannot explain (深圳, 房租, 天气) must
    not score high however similar the rest looks.
    """

    floor: float = 0.45
    answer_credit: float = 0.8
    """Credit for a question word found in the entry's answer or other phrasings only."""
    single_char: float = 0.5
    """Weight of one-character words, which say less than longer ones."""
    number: float = 0.3
    """Weight of bare numbers."""
    partial: float = 0.6
    """Credit for a question word that is part of a word of the entry (工商 of 工商注册)."""
    held: float = 0.6
    """Score of a long message that holds all of an entry's phrasing, from the entry that
    explains most of it."""
    long_words: int = 10
    """Content words from which a message counts as long."""
    unknown_cap: float = 0.5
    """In a long message, words the base does not know weigh at most this share of the words it
    knows."""
    context: float = 0.35
    """Weight of words in the clauses of a long message that do not ask anything: the
    founder's story around the question says less about which entry is meant."""
    everyday_rare: float = 3.5
    everyday_common: float = 6.0
    everyday_floor: float = 0.25
    """A word the base does not know weighs by how rare it is in everyday language (Zipf
    scale): in full up to ``everyday_rare`` (滨海新区, 盖房子: something the base does not
    cover), falling to ``everyday_floor`` of it at ``everyday_common`` (告诉, 以后, "else":
    the way people talk, not what they ask about)."""


@dataclass(frozen=True, slots=True)
class _Asked:
    """What every score of one question needs (see :meth:`Matcher._entry_score`)."""

    weights: dict[str, float]
    """The question's words and their weights."""
    compact: str
    """Its asking words joined, for character similarity."""
    total: float
    """Sum of ``weights``; above 0."""
    long: bool
    """Whether the message is long (:attr:`Scoring.long_words`)."""
    candidates: list[int]
    """The entries to score, by index; at least one."""
    explains: list[float]
    """What each candidate explains of the question (:meth:`Matcher._explained_by`)."""
    most: float
    """The most any candidate explains, or 1.0 if none explains anything."""


class Matcher:
    """Scores questions against a fixed set of entries. Immutable once built."""

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        analyzer: Analyzer,
        bands: Bands | None = None,
        scoring: Scoring | None = None,
    ) -> None:
        """Index ``entries``.

        Args:
            entries: The knowledge base.
            analyzer: Folds and segments text the same way for entries and questions.
            bands: Thresholds of the three bands.
            scoring: How the parts of a score combine.
        """
        self.entries = tuple(entries)
        self.analyzer = analyzer
        self.bands = bands or Bands()
        self.scoring = scoring or Scoring()
        raw: list[tuple[int, Phrasing, list[str], str]] = []
        asked: list[set[str]] = [set() for _ in self.entries]
        for index, entry in enumerate(self.entries):
            for phrasing in entry.phrasings:
                words = self._content(analyzer.fold(phrasing.text))
                raw.append((index, phrasing, words, "".join(words)))
                asked[index].update(words)
        # Words of the answer count too, more weakly: the policy's own wording (施行, 追究,
        # 资源共享) is how some people ask.
        self._related = [
            frozenset(self._content(analyzer.fold(_answers(entry)))) | asked[index]
            for index, entry in enumerate(self.entries)
        ]
        self._joined = ["|".join(sorted(words)) for words in self._related]
        # Every piece of two characters or more of an entry's words: a word without "|" is
        # inside the words joined by "|" if and only if it is one of these (工商 of 工商注册).
        self._inside = [
            frozenset(
                w[i:j] for w in related for i in range(len(w)) for j in range(i + 2, len(w) + 1)
            )
            for related in self._related
        ]
        # What the policies are about: the policy's terms and the words of the entries' own
        # questions; not of the answers and variants, which hold everyday words (推荐, 一家).
        self._topical = (
            frozenset(
                word
                for entry in self.entries
                for text in (entry.question, *_english_question(entry))
                for word in self._content(analyzer.fold(text))
                if len(word) >= (5 if word.isascii() else 2)  # not 谁, 做, give: everyone's words
            )
            | analyzer.terms
        ) - _NOT_TOPICS
        count = len(self.entries)
        frequency: dict[str, int] = {}
        for bag in self._related:
            for word in bag:
                frequency[word] = frequency.get(word, 0) + 1
        # IDF over entries: a word in every entry says little about which one is meant.
        self._idf = {w: math.log((count + 1) / (n + 0.5)) + 0.1 for w, n in frequency.items()}
        self._unknown_idf = math.log((count + 1) / 0.5) + 0.1
        self._phrasings_of: list[list[AnalyzedPhrasing]] = [[] for _ in self.entries]
        for index, phrasing, words, compact in raw:
            unique = frozenset(words)
            weight = sum(self._idf[w] for w in unique)
            self._phrasings_of[index].append(
                AnalyzedPhrasing(index, phrasing, unique, weight, compact)
            )
        # What _score needs of each entry's phrasings that no question changes: their compacts
        # in order (for one rapidfuzz call over every candidate), and which of them hold each
        # word (to find the few phrasings that share a word with the question).
        self._compacts_of = [[p.compact for p in analyzed] for analyzed in self._phrasings_of]
        self._holding: list[dict[str, list[int]]] = []
        for analyzed in self._phrasings_of:
            holding: dict[str, list[int]] = {}
            for position, analyzed_phrasing in enumerate(analyzed):
                for word in analyzed_phrasing.words:
                    holding.setdefault(word, []).append(position)
            self._holding.append(holding)
        vocabulary = [w for w in frequency if not w.isascii()]
        self._sounds = SoundCorrector(
            vocabulary,
            analyzer.is_common_word,
            function_chars=[w for w in analyzer.stopwords if len(w) == 1],
        )
        documents = [
            (index, {*words, *(_GRAM + g for g in _bigrams(compact))})
            for index, _, words, compact in raw
        ]
        documents += [(index, set(words)) for index, words in enumerate(self._related)]
        self._build_index(documents)

    def phrasings(self) -> Iterator[AnalyzedPhrasing]:
        """Every phrasing of every entry, as the matcher sees it, in entry order."""
        for analyzed in self._phrasings_of:
            yield from analyzed

    def _content(self, folded: str) -> list[str]:
        return [_stem(w) for w in self.analyzer.content_tokens(folded)]

    def _build_index(self, documents: list[tuple[int, set[str]]]) -> None:
        """Index each phrasing (and each answer) as a document of features."""
        postings: dict[str, list[int]] = {}
        for doc, (_, features) in enumerate(documents):
            for feature in features:
                postings.setdefault(feature, []).append(doc)
        count = max(len(documents), 1)
        self._feature_ids = {name: i for i, name in enumerate(postings)}
        self._postings: list[npt.NDArray[np.int32]] = [
            np.array(docs, dtype=np.int32) for docs in postings.values()
        ]
        self._feature_idf = np.array(
            [math.log((count + 1) / (len(d) + 0.5)) for d in postings.values()], dtype=np.float64
        )
        self._doc_entry = np.array([entry for entry, _ in documents], dtype=np.int32)
        # Cosine normalisation: a short phrasing that holds the query's words ranks above a
        # long one that holds them among many others.
        squares = np.zeros(len(documents), dtype=np.float64)
        for feature_id, docs in enumerate(self._postings):
            squares[docs] += self._feature_idf[feature_id] ** 2
        self._doc_norm = np.sqrt(np.maximum(squares, 1e-9))
        self._common_postings = max(50, len(documents) // 20)

    def _candidates(self, words: list[str], compact: str) -> list[int]:
        ids = {self._feature_ids.get(w) for w in words}
        ids |= {self._feature_ids.get(_GRAM + g) for g in _bigrams(compact)}
        ids.discard(None)
        known: list[int] = sorted(ids)  # type: ignore[arg-type]
        # Features in a large share of documents tell little and cost the most; use them only
        # when the question has nothing rarer.
        rare = [i for i in known if len(self._postings[i]) <= self._common_postings]
        known = rare or known
        if not known:
            return []
        postings = [self._postings[i] for i in known]
        weights = np.repeat(self._feature_idf[known], [len(p) for p in postings])
        found = np.concatenate(postings)
        # Each document's weights are added in the order they come, as np.unique's slots
        # did; the documents found, in order, are the ones counted at least once: the same
        # arrays as np.unique(found, return_inverse=True) gave, without its sort.
        count = len(self._doc_norm)
        docs = np.flatnonzero(np.bincount(found, minlength=count))
        ranked = np.bincount(found, weights=weights, minlength=count)[docs] / self._doc_norm[docs]
        if len(docs) > _CANDIDATE_DOCS:
            keep = np.argpartition(ranked, -_CANDIDATE_DOCS)[-_CANDIDATE_DOCS:]
            docs, ranked = docs[keep], ranked[keep]
        entries = self._doc_entry[docs[np.argsort(-ranked, kind="stable")]]
        return list(dict.fromkeys(entries.tolist()))[:CANDIDATES]

    def weight(self, word: str) -> float:
        """How much ``word`` tells entries apart: rare in the base, heavy (IDF)."""
        return self._weight(_stem(word), word)

    def _weight(self, word: str, written: str) -> float:
        """The weight of stem ``word``, written ``written`` in the question."""
        scoring = self.scoring
        weight = self._idf.get(word)
        if weight is None:
            weight = self._unknown_idf * self._rarity(written)
        if word.isdigit() and not (len(word) == 4 and word[:2] in ("19", "20")):
            return weight * scoring.number  # a year the base does not name is a real difference
        return weight * scoring.single_char if len(word) == 1 else weight

    def _rarity(self, written: str) -> float:
        """How rare an unknown word is in everyday language, from the floor to 1."""
        zipf = self.analyzer.everyday(written)
        if zipf is None:
            return 1.0
        s = self.scoring
        share = (s.everyday_common - zipf) / (s.everyday_common - s.everyday_rare)
        return max(s.everyday_floor, min(1.0, share))

    def _query_words(self, text: str) -> list[str]:
        """The content words of a question, typos corrected."""
        return [word for word, _ in self._query_tokens(text)]

    def _query_tokens(self, text: str) -> list[tuple[str, float]]:
        """The content words of a question, typos corrected, each with its weight."""
        tokens = self.analyzer.content_tokens(self._sounds.correct(self.analyzer.fold(text)))
        stems = ((_stem(written), written) for written in tokens)
        return [(word, self._weight(word, written)) for word, written in stems]

    def about_policies(self, question: str) -> bool:
        """Whether ``question`` holds a word the policies are about.

        Those are the policy's terms and the words of the entries' own questions; a question
        with none of them that matched nothing either is off the bot's topic.
        """
        return any(word in self._topical for word in self._query_words(question))

    def _weighed(self, question: str) -> tuple[dict[str, float], str]:
        """The question's words with their weights, and its asking words joined.

        A message of several clauses is read clause by clause: words only in clauses that ask
        nothing weigh :attr:`Scoring.context` of their weight.
        """
        pieces = clauses(question)
        tokens_of = [self._query_tokens(clause.text) for clause in pieces]
        own: dict[str, float] = {}
        for found in tokens_of:
            for word, weight in found:
                own[word] = max(own.get(word, 0.0), weight)
        words = [w for found in tokens_of for w, _ in found]
        asking = []
        if asking_clauses(question, pieces) is not None:  # each clause is read once
            asking = [
                w
                for clause, found in zip(pieces, tokens_of, strict=True)
                if clause.asks
                for w, _ in found
            ]
        if asking:
            context = self.scoring.context
            weights = {w: v * (1.0 if w in asking else context) for w, v in own.items()}
            compact = "".join(asking)
        else:
            weights = own
            compact = "".join(words)
        if len(weights) >= self.scoring.long_words:
            # A long message tells its story in words the base has never seen; past a share of
            # what the base knows, they stop diluting the question the story leads up to.
            known = sum(v for w, v in weights.items() if w in self._idf)
            unknown = sum(v for w, v in weights.items() if w not in self._idf)
            cap = known * self.scoring.unknown_cap
            if unknown > cap > 0:
                weights = {
                    w: v if w in self._idf else v * cap / unknown for w, v in weights.items()
                }
        return weights, compact

    def _explained_by(self, candidates: list[int], weights: dict[str, float]) -> list[float]:
        """How much of the question (by weight) each of ``candidates``' words explain.

        A Chinese word that is part of one of the entry's words (工商 of 工商注册) counts for
        :attr:`Scoring.partial` of its weight. Added up in the question's order, from 0.
        """
        partial = self.scoring.partial
        # Each word, its weight, its partial weight, and where to look for it as a part: not
        # at all (0), among the pieces of the entry's words (1), in its words joined (2).
        words = [
            (w, v, v * partial, 0 if len(w) < 2 or w.isascii() else 2 if "|" in w else 1)
            for w, v in weights.items()
        ]
        explains: list[float] = []
        for index in candidates:
            related, inside, joined = self._related[index], self._inside[index], self._joined[index]
            explained: float = 0  # as sum() starts
            for word, whole, part, kind in words:
                if word in related:
                    explained += whole
                elif (kind == 1 and word in inside) or (kind == 2 and word in joined):
                    explained += part
            explains.append(explained)
        return explains

    def _asked(self, question: str) -> tuple[_Asked | None, bool]:
        """What every score of ``question`` needs (``None``: no candidate), and if it is long."""
        weights, compact = self._weighed(question)
        words = list(weights)
        if all(w.isdigit() for w in words):
            return None, False  # numbers alone ("1", "2026") say nothing about a topic
        candidates = self._candidates(words, compact)
        explains = self._explained_by(candidates, weights)
        # A long message is judged by the question inside it: how fully it holds one of an
        # entry's phrasings, and how much of it that entry explains beside the others.
        long = len(weights) >= self.scoring.long_words
        if not candidates:
            return None, long
        most = max(explains, default=0.0) or 1.0
        asked = _Asked(weights, compact, sum(weights.values()), long, candidates, explains, most)
        return asked, long

    def score(self, question: str) -> list[Match]:
        """Every candidate entry with its score, best first."""
        return self._score(question)[0]

    def _score(self, question: str) -> tuple[list[Match], bool]:
        """Every candidate entry with its score, best first; and whether the message is long."""
        asked, long = self._asked(question)
        if asked is None:
            return [], long
        matches = [
            Match(self.entries[index], round(100.0 * self._entry_score(asked, index, explained), 1))
            for index, explained in zip(asked.candidates, asked.explains, strict=True)
        ]
        matches.sort(key=lambda m: (-m.score, m.entry.id))
        return matches, long

    def _best(self, question: str, keep: int) -> tuple[list[Match], bool]:
        """The ``keep`` best candidates (the first of :meth:`_score`), and if the message is long.

        A candidate is scored only while it may still be among them. Its score cannot exceed
        what it explains of the question (see :meth:`_entry_score`)::

            covers = (exact + (loose - answer_credit * exact)) / total
                   = (answer_credit * explained + (1 - answer_credit) * exact) / total
                  <= explained / total,        since exact <= explained
            score  =  covers * (floor + (1 - floor) * (covered + similar) / 2)
                  <=  covers,                   since covered <= 1 and similar <= 1
            and the long-message term <= held * explained / most.

        Candidates are scored in the order of that bound, and scoring stops once the next one's
        bound, rounded as scores are, is below the ``keep``-th best score so far: neither it nor
        any after it can then be among the first ``keep`` (a tie in the rounded score is scored,
        as the entry's id decides it). Should no candidate reach the score from which
        :meth:`match` offers anything, none is scored and the list is empty, which it reads
        the same way. The bound is widened by a billionth against the rounding of its floats;
        the scores themselves are those of :meth:`_entry_score`, the same floats as
        :meth:`_score`'s.
        """
        asked, long = self._asked(question)
        if asked is None:
            return [], long
        total, most = asked.total, asked.most
        held = self.scoring.held if long else 0.0
        bounds = [
            max(explained / total, held * explained / most) * _SLACK for explained in asked.explains
        ]
        ceiling = round(100.0 * max(bounds), 1)
        if not self._may_offer(ceiling, long):
            return [], long
        order = sorted(range(len(bounds)), key=bounds.__getitem__, reverse=True)
        best: list[Match] = []
        for at in order:
            if len(best) >= keep and round(100.0 * bounds[at], 1) < best[-1].score:
                break
            index = asked.candidates[at]
            # Below the last of the best so far, a score is dropped: it need not be exact.
            needed = best[-1].score if len(best) >= keep else -math.inf
            score = self._entry_score(asked, index, asked.explains[at], needed)
            best.append(Match(self.entries[index], round(100.0 * score, 1)))
            best.sort(key=lambda m: (-m.score, m.entry.id))
            del best[keep:]
        return best, long

    def _entry_score(
        self, asked: _Asked, index: int, explained: float, needed: float = -math.inf
    ) -> float:
        """How well entry ``index`` fits the question (0–1): its best phrasing's score.

        Exact when, rounded as a :class:`Match`'s, it is ``needed`` or more; below that it may
        be less than exact, and the entry cannot matter to the caller anyway.

        Each phrasing scores (see :class:`Scoring`)::

            shared  = the question's words in the phrasing
            exact   = sum of the question's weights of ``shared``
            covers  = (exact + (loose - answer_credit * exact)) / total
                      where total = sum of the question's weights
                      and   loose = answer_credit * what the entry explains (``explained``)
            covered = sum of the IDF of ``shared`` / the phrasing's weight
            similar = fuzz.ratio(question's compact, phrasing's compact) / 100
            score   = covers * (floor + (1 - floor) * (covered + similar) / 2)
            and in a long message, for a phrasing of two words or more:
            score   = max(score, held * covered² * explained / most explained)

        Most phrasings (three in four) share no word with the question: for them ``exact`` is
        0 and ``covered`` 0.0, so the score rises with ``similar`` alone (every step is
        monotonic: nothing there is negative) and the long-message term is 0.0. Only the best
        ``similar`` of them is scored, and only if a perfect similarity would raise the best
        score and could bring it to ``needed``. (Taking the phrasings that share a word by
        the most each could score, ``covers``, saved no time: their ``covers`` differ little,
        as most of it is what the entry explains.) The arithmetic is the same, in the same
        order, as for each phrasing on its own (``sum`` over the same ``shared`` set, so over
        its words in the same order), and a maximum does not depend on the order it is taken
        in (no score is NaN: every weight is above 0, so is ``total``). The scores are the
        same floats, bit for bit, as scoring every phrasing: tests/test_matcher_reference.py
        checks it against the loop that did.
        """
        scoring = self.scoring
        weights, compact, total = asked.weights, asked.compact, asked.total
        credit = scoring.answer_credit
        floor = scoring.floor
        shaped = 1 - scoring.floor
        idf = self._idf.__getitem__
        weight = weights.__getitem__
        long = asked.long
        loose = explained * credit
        holding = self._holding[index]
        sharing = {p for w in weights if w in holding for p in holding[w]}
        phrasings = self._phrasings_of[index]
        best = 0.0
        for position in sharing:
            phrasing = phrasings[position]
            shared = phrasing.words.intersection(weights)
            exact = sum(map(weight, shared))
            covers = (exact + (loose - credit * exact)) / total
            # The phrasing holds a word, so its weight (IDFs, all above 0) is above 0.
            covered = sum(map(idf, shared)) / phrasing.weight
            similar = fuzz.ratio(compact, phrasing.compact) / 100.0
            best = max(best, covers * (floor + shaped * ((covered + similar) / 2)))
            if long and len(phrasing.words) >= 2:
                best = max(best, scoring.held * (covered * covered * explained / asked.most))
        if len(sharing) < len(phrasings):  # as above with exact = 0 and covered = 0.0
            covers = (0 + (loose - credit * 0)) / total
            ceiling = covers * (floor + shaped * ((0.0 + 1.0) / 2))  # similar at its most
            if ceiling > best and round(100.0 * ceiling, 1) >= needed:
                others = [c for p, c in enumerate(self._compacts_of[index]) if p not in sharing]
                found = process.extractOne(compact, others, scorer=fuzz.ratio)
                assert found is not None  # others is not empty
                similar = found[1] / 100.0
                best = max(best, covers * (floor + shaped * ((0.0 + similar) / 2)))
        return best

    def match(self, question: str) -> MatchResult:
        """Decide how to answer ``question``."""
        matches, long = self._best(question, MAX_SUGGESTIONS)
        return self._decide(question, matches, long)

    def _may_offer(self, top: float, long: bool) -> bool:
        """Whether a best score of ``top`` (or less) may be answered or suggested."""
        bands = self.bands
        return top >= bands.suggest or (long and top >= bands.long_lead)

    def _decide(self, question: str, matches: list[Match], long: bool) -> MatchResult:
        """The band for the best ``matches`` (at least the first :data:`MAX_SUGGESTIONS`)."""
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


def _answers(entry: FaqEntry) -> str:
    english = entry.english
    return entry.answer if english is None else f"{entry.answer}\n{english.answer}"


def _english_question(entry: FaqEntry) -> tuple[str, ...]:
    return (entry.english.question.text,) if entry.english is not None else ()


def _stem(word: str) -> str:
    """An English word without its ending, cut to its first :data:`_STEM` letters.

    Cutting is crude but meets more kin than rules alone do: "define" and "definition",
    "qualify" and "qualification", "register" and "registration", "subsidy" and "subsidies"
    each share one stem.
    """
    if not (word.isascii() and word.isalpha()) or len(word) <= 3:
        return word
    for ending in _ENDINGS:
        if ending == "s" and word.endswith(("ss", "us", "is")):
            continue
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)]
            break
    return word.rstrip("eiy")[:_STEM] if len(word) > 3 else word


_ENDINGS = tuple(
    sorted(
        re.findall(
            r"\w+",
            "ations ation itions ition ments ment ness ings ing ers er ies ied ed izes ize ises "
            "ise ities ity ances ance ences ence ives ive als al ly s",
        ),
        key=len,
        reverse=True,
    )
)
"""English endings taken off before cutting, longest first."""


def _bigrams(text: str) -> list[str]:
    if len(text) < 2:
        return [text] if text else []
    return [text[i : i + 2] for i in range(len(text) - 1)]
