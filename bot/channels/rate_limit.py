"""A per-process rate limit whose memory and work stay bounded however many keys it sees.

Each key has two counters: this window's and the previous window's. The count "in the last
window" is estimated as the previous count weighted by how much of it still overlaps, plus the
current count (the sliding-window counter nginx and Cloudflare use). A message costs two dict
lookups; when a window ends, the previous window's dict is dropped whole, so keys that went quiet
are forgotten without any scan, and memory holds only the keys of the last two windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["RateLimit"]


class RateLimit:
    """At most ``limit`` per ``window`` and key, approximately, in one process.

    What is counted may be events (each costs 1) or something they weigh (characters).
    """

    def __init__(self, limit: int, window: timedelta) -> None:
        """Allow ``limit`` per ``window`` to each key."""
        self.limit = limit
        self.window = window
        self._seconds = window.total_seconds()
        self._index = 0
        """Which window ``_current`` counts (seconds since the epoch ÷ window)."""
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}
        self._refused: set[str] = set()

    def __len__(self) -> int:
        """How many keys are remembered (those seen in this window or the one before)."""
        return len(self._current.keys() | self._previous.keys())

    def full(self, key: str, now: datetime, cost: int = 1) -> bool:
        """Whether ``cost`` more at ``now`` would take ``key`` past its limit for the window."""
        overlap = self._roll(now)
        estimate = self._previous.get(key, 0) * overlap + self._current.get(key, 0)
        return estimate + cost > self.limit

    def count(self, key: str, now: datetime, cost: int = 1) -> None:
        """Count ``cost`` for ``key`` at ``now``."""
        self._roll(now)
        self._current[key] = self._current.get(key, 0) + cost

    def refuse(self, key: str, now: datetime) -> bool:
        """Note that ``key`` was refused; whether for the first time this window (to say so)."""
        self._roll(now)
        if key in self._refused:
            return False
        self._refused.add(key)
        return True

    def _roll(self, now: datetime) -> float:
        """Move to ``now``'s window; how much of the previous window still counts (0 to 1)."""
        position = now.timestamp() / self._seconds
        index = int(position)
        if index > self._index:
            # A clock set back stays in the window it was in: never counts twice, never resets.
            self._previous = self._current if index == self._index + 1 else {}
            self._current = {}
            self._refused = set()
            self._index = index
        return max(0.0, 1.0 - (position - self._index))
