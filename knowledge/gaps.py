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

Answers the askers rated 👎 are gaps of another kind: an entry was given, and it did not answer
what was asked. :func:`group_ratings` groups their questions the same way, ranked by 👎.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from knowledge.matcher import Matcher

__all__ = [
    "SIMILAR",
    "Asked",
    "Gap",
    "Rated",
    "Unhelpful",
    "group_questions",
    "group_ratings",
]

SIMILAR = 0.42
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

    Texts with no word the knowledge base could answer (greetings, thanks) are left out.

    Args:
        asked: Distinct question texts with their counts.
        matcher: The knowledge base's matcher: words are read and weighed as it reads them.
        similar: The weighted overlap from which a question joins a group (against its most
            similar member).
    """
    ordered = sorted(asked, key=lambda a: (-a.count, -a.last_asked_at.timestamp()))
    features = [_features(question.text, matcher) for question in ordered]
    # "你好", "谢谢", "好的": no word an entry could be written for; not a gap to fill.
    kept = [i for i, found in enumerate(features) if found]
    ordered, features = [ordered[i] for i in kept], [features[i] for i in kept]
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


@dataclass(frozen=True, slots=True)
class Rated:
    """One question text answered with one entry, and how often the askers rated it."""

    text: str
    faq_id: str
    """The entry the bot answered with."""
    down: int
    up: int
    last_answered_at: datetime


@dataclass(frozen=True, slots=True)
class Unhelpful:
    """Paraphrases of one question whose answers were rated, with their 👎 and 👍 counted."""

    example: str
    """The phrasing rated 👎 most often."""
    down: int
    up: int
    last_answered_at: datetime
    faq_ids: list[str]
    """The entries given, the most 👎 first."""
    phrasings: list[Rated]
    """Every rated phrasing in the group, the most 👎 first (the example among them)."""


def group_ratings(
    rated: Sequence[Rated], matcher: Matcher, *, similar: float = SIMILAR
) -> list[Unhelpful]:
    """Group rated answers by their questions as :func:`group_questions` does, the most 👎 first.

    Questions rated only 👍 join the groups of their paraphrases (the contrast an admin wants:
    3 👎 against 5 👍), but a group without a 👎 is left out.

    Args:
        rated: Question texts with the entry given and its ratings.
        matcher: The knowledge base's matcher: words are read and weighed as it reads them.
        similar: As for :func:`group_questions`.
    """
    asked = [Asked(r.text, r.down, r.last_answered_at, r.faq_id) for r in rated]
    # group_questions hands back the very objects it was given: identity leads back to each.
    by_asked = dict(zip(map(id, asked), rated, strict=True))
    groups: list[Unhelpful] = []
    for gap in group_questions(asked, matcher, similar=similar):
        if gap.count == 0:
            continue
        phrasings = [by_asked[id(a)] for a in gap.phrasings]
        downs: dict[str, int] = {}
        for phrasing in phrasings:
            downs[phrasing.faq_id] = downs.get(phrasing.faq_id, 0) + phrasing.down
        groups.append(
            Unhelpful(
                example=gap.example,
                down=gap.count,
                up=sum(p.up for p in phrasings),
                last_answered_at=gap.last_asked_at,
                faq_ids=sorted((f for f in downs if downs[f]), key=lambda f: -downs[f]),
                phrasings=phrasings,
            )
        )
    return groups


def _features(text: str, matcher: Matcher) -> dict[str, float]:
    """Content words and the character pairs within longer ones (停车费 ~ 停车), weighted.

    A word's pairs together weigh as much as the word itself.
    """
    features: dict[str, float] = {}
    analyzer = matcher.analyzer
    for word in analyzer.content_tokens(analyzer.fold(text)):
        weight = matcher.weight(word)
        features[word] = weight
        if word.isascii() or len(word) < 2:
            continue
        if len(word) == 2:  # its own only pair, which meets the same pair in a longer word
            pair = _PAIR + word
            features[pair] = max(features.get(pair, 0.0), weight)
            continue
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
