"""A small least-recently-used cache of what was worked out from a text, with its hit count.

The knowledge base keeps one (see :class:`knowledge.service.KnowledgeBase`): a question asked
again skips the reading and the matcher, which are about half the CPU an answer costs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["MATCH_CACHE_SIZE", "CacheCounts", "TextCache"]

V = TypeVar("V")

MATCH_CACHE_SIZE = 4096
"""Questions whose reading and match a knowledge base keeps, by default (``BOT_MATCH_CACHE_SIZE``):
well under a kilobyte each for the usual question (the text, its reading, up to three matches
that point at entries the base holds anyway), so a few MB."""


@dataclass(frozen=True, slots=True)
class CacheCounts:
    """How often a cache had what was asked for, and how often it had to work it out."""

    hits: int = 0
    misses: int = 0

    def __add__(self, other: CacheCounts) -> CacheCounts:
        """Both caches' counts together."""
        return CacheCounts(self.hits + other.hits, self.misses + other.misses)


class TextCache(Generic[V]):
    """Keeps the values of the ``size`` texts looked up last, and counts hits and misses.

    Not thread-safe: the bot answers on the event loop's thread only. A cache lives as long as
    whatever owns it, and holds nothing but its own keys and values; ``functools.lru_cache`` on
    a method would be one cache for every owner and would keep each owner alive.
    """

    def __init__(self, size: int, longest: int = 1_000) -> None:
        """Create an empty cache.

        Args:
            size: Texts kept at most; 0 keeps none (every lookup is a miss).
            longest: Characters of the longest text kept. A longer one is worked out each time
                (and counted as a miss): a long message is seldom sent twice word for word, and
                keeping them would let a few pasted essays hold megabytes.

        Raises:
            ValueError: ``size`` or ``longest`` is negative.
        """
        if size < 0 or longest < 0:
            raise ValueError(f"a cache of {size} texts of up to {longest} characters")
        self.size = size
        self.longest = longest
        self.hits = 0
        self.misses = 0
        self._values: OrderedDict[str, V] = OrderedDict()

    def get(self, text: str, make: Callable[[str], V]) -> V:
        """The value kept for ``text``; else ``make(text)``, kept in place of the oldest.

        ``make`` must depend on ``text`` alone (and on what owns the cache), since a hit serves
        what it returned for the same text before.
        """
        try:
            value = self._values[text]
        except KeyError:
            pass
        else:
            self.hits += 1
            self._values.move_to_end(text)
            return value
        self.misses += 1
        value = make(text)
        if self.size and len(text) <= self.longest:
            self._values[text] = value
            if len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    @property
    def counts(self) -> CacheCounts:
        """The hits and misses so far."""
        return CacheCounts(self.hits, self.misses)

    def __len__(self) -> int:
        """How many texts are kept now."""
        return len(self._values)

    def __contains__(self, text: object) -> bool:
        """Whether ``text`` is kept (without counting a lookup or refreshing it)."""
        return text in self._values
