"""Checks that need the matcher: entries it could not tell apart."""

from __future__ import annotations

from knowledge.matcher import AnalyzedPhrasing, Matcher
from knowledge.model import Fault

__all__ = ["find_collisions"]

_COLLISION = "“{text}”与 {other}（{where}）的“{other_text}”在匹配时无法区分，请改写其中一条"


def find_collisions(matcher: Matcher) -> list[Fault]:
    """Phrasings of different entries that mean the same to the matcher.

    Two phrasings collide when their meaningful words are identical after folding (case,
    width, traditional characters, glossary aliases and stop words set aside): a question
    asked that way could get either answer.
    """
    first: dict[frozenset[str], AnalyzedPhrasing] = {}
    faults = []
    for analyzed in matcher.phrasings():
        if not analyzed.words:
            continue
        earlier = first.setdefault(analyzed.words, analyzed)
        if earlier.entry == analyzed.entry:
            continue
        entry = matcher.entries[analyzed.entry]
        other = matcher.entries[earlier.entry]
        faults.append(
            Fault(
                entry.file,
                analyzed.phrasing.line,
                _COLLISION.format(
                    text=analyzed.phrasing.text,
                    other=other.id,
                    where=f"{other.file}:{earlier.phrasing.line}",
                    other_text=earlier.phrasing.text,
                ),
            )
        )
    return faults
