"""Gaps in the knowledge base: what people asked that the bot could not answer, grouped.

Admins write the next FAQ entries from this list, so paraphrases of one question must count as
one gap ("创业补贴怎么申请", "如何申请创业补助" …). Each question is folded and segmented by the
knowledge base's own :class:`~knowledge.text.Analyzer` (its glossary maps 补助 to 补贴 and the
like), and two questions are alike when their content words and the character pairs within
them overlap enough. Each word weighs what the matcher gives it: a word the knowledge base uses
everywhere (众创空间, 创业) says little about which question it is, a word it never uses (停车)
says much. A group is every question linked to another of it, and is named by its most asked
phrasing. Synonyms the analyzer does not know (要钱 / 收费) keep questions apart:
the glossary (``knowledge/data/glossary.yaml``) is where to teach them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from knowledge.matcher import Matcher

__all__ = ["SIMILAR", "Asked", "Gap", "group_questions"]

SIMILAR = 0.45
"""Dice overlap of two questions' features from which they count as the same question."""
_PAIR = "\x00"
"""Marks character-pair features apart from word features."""


@dataclass(frozen=True, slots=True)
class Asked:
    """One question text and how often it was asked."""

    text: str
    count: int
    last_asked_at: datetime
    best_faq_id: str | None = None
    """The entry the bot found nearest, though not near enough to answer with."""


@dataclass(slots=True)
class Gap:
    """Paraphrases of one question, counted together."""

    example: str
    """The most asked phrasing."""
    count: int
    last_asked_at: datetime
    phrasings: list[Asked] = field(default_factory=list)
    """Every phrasing in the group, most asked first (the example among them)."""

    @property
    def nearest_faq_id(self) -> str | None:
        """The entry the bot most often found nearest for this group's phrasings."""
        votes: dict[str, int] = {}
        for asked in self.phrasings:
            if asked.best_faq_id:
                votes[asked.best_faq_id] = votes.get(asked.best_faq_id, 0) + asked.count
        return max(votes, key=lambda faq_id: votes[faq_id]) if votes else None


def group_questions(
    asked: Sequence[Asked], matcher: Matcher, *, similar: float = SIMILAR
) -> list[Gap]:
    """Group ``asked`` into gaps, the most asked gap first.

    Args:
        asked: Distinct question texts with their counts.
        matcher: The knowledge base's matcher: words are read and weighed as it reads them.
        similar: The weighted overlap from which a question joins a group (against its most
            similar member).
    """
    ordered = sorted(asked, key=lambda a: (-a.count, -a.last_asked_at.timestamp()))
    features = [_features(question.text, matcher) for question in ordered]
    # Groups are the connected parts of "alike": two phrasings of one question may share
    # little, as long as a third links them.
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ordered)):
        for j in range(i + 1, len(ordered)):
            if _dice(features[i], features[j]) >= similar:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    by_root: dict[int, Gap] = {}
    for i, question in enumerate(ordered):
        gap = by_root.get(root(i))
        if gap is None:  # the first, most asked phrasing names the group
            gap = by_root[root(i)] = Gap(question.text, 0, question.last_asked_at)
        gap.phrasings.append(question)
        gap.count += question.count
        gap.last_asked_at = max(gap.last_asked_at, question.last_asked_at)
    gaps = list(by_root.values())
    gaps.sort(key=lambda gap: (-gap.count, -gap.last_asked_at.timestamp()))
    return gaps


def _features(text: str, matcher: Matcher) -> dict[str, float]:
    """Content words and the character pairs within longer ones (停车费 ~ 停车), weighted.

    A word's pairs together weigh as much as the word itself.
    """
    features: dict[str, float] = {}
    analyzer = matcher.analyzer
    for word in analyzer.content_tokens(analyzer.fold(text)):
        weight = matcher.weight(word)
        features[word] = weight
        if word.isascii() or len(word) < 3:
            continue  # a two-character word is its own only pair
        share = weight / (len(word) - 1)
        for i in range(len(word) - 1):
            pair = _PAIR + word[i : i + 2]
            features[pair] = max(features.get(pair, 0.0), share)
    return features


def _dice(a: dict[str, float], b: dict[str, float]) -> float:
    """Weighted Dice overlap: twice the weight both share over the weight of both."""
    total = sum(a.values()) + sum(b.values())
    if not total:
        return 0.0
    shared = sum(min(weight, b[feature]) for feature, weight in a.items() if feature in b)
    return 2 * shared / total
