"""What one request's log counts, cut at the report's moment: positions, not values.

Logs of the same kinds cut at the same place count the same way, so the report replays each
shape once (:class:`Shape`) and reads the values (the group, the due date) at the positions the
shape names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.events import ACTING, REPLIES, EventKind, status_after
from bot.domain.lifecycle import CLOCK_RUNNING, Status

__all__ = ["Chain", "Shape"]

Chain = tuple[tuple[int, str], ...]
"""Positions of the events that may set a value (a group, a due date), newest first, each with
the key of its data that holds the value; the first that holds one wins."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a log of given kinds counts, cut at the report's moment: positions, not values."""

    groups: tuple[Chain, ...]
    """The distinct group chains the fields below refer to by index."""
    dues: tuple[Chain, ...]
    """The distinct due-date chains the fields below refer to by index."""
    received: tuple[tuple[int, int], ...]
    """Each opening or transfer in the quarter: its position and group chain."""
    first_reply: tuple[int, int] | None
    """The first reply (position, group chain), if it came in the quarter."""
    resolution: tuple[int, int, int] | None
    """The resolution that counts (position, group chain, due chain at that moment)."""
    ratings: tuple[tuple[int, int, int], ...]
    """The ratings of the quarter, newest first: position, group chain, position of the
    resolution before it (-1: none). The newest with whole stars counts."""
    status: Status
    group: int
    """The group chain at the report's moment."""
    due: int
    """The due-date chain at the report's moment."""
    assignee: int
    """Position of the event whose actor holds the request at the report's moment (-1: none)."""
    counts_nothing: bool
    stands: bool
    """Waiting on the entrepreneur or being worked on at the report's moment."""
    opening: int | None
    """The position of the only event naming a group, if an opening: the common case."""
    opening_due: int | None
    """The position of the only event dating the resolution that counts, if an opening."""

    @classmethod
    def of(cls, kinds: Sequence[str], cut: int, first_inside: int) -> Shape:
        """Replay ``kinds[:cut]``; the events from ``first_inside`` on are in the quarter."""
        groups: list[Chain] = []
        dues: list[Chain] = []

        def index(chains: list[Chain], chain: Chain) -> int:
            if chain not in chains:
                chains.append(chain)
            return chains.index(chain)

        group: Chain = ()
        due: Chain = ()
        status = Status.OPEN
        assignee = resolver = -1
        replied = False
        received: list[tuple[int, int]] = []
        first_reply: tuple[int, int] | None = None
        resolution: tuple[int, int, int] | None = None
        ratings: list[tuple[int, int, int]] = []
        for at, kind in enumerate(kinds[:cut]):
            inside = at >= first_inside
            if kind in (EventKind.OPENED, EventKind.TRANSFERRED):
                group = ((at, "group" if kind == EventKind.OPENED else "to"), *group)
                due = ((at, "due_date"), *due)
                assignee = -1
                if inside:
                    received.append((at, index(groups, group)))
            elif kind == EventKind.DUE_CHANGED:
                due = ((at, "to"), *due)
            elif kind == EventKind.REOPENED:
                resolution = None  # not resolved after all: the next resolution counts
            elif kind in ACTING:
                if assignee < 0 or kind == EventKind.CLAIM:
                    assignee = at  # as the desk assigns: the first to act, or a claim
                if kind in REPLIES and not replied:
                    replied = True
                    if inside:
                        first_reply = (at, index(groups, group))
                if kind == EventKind.RESOLVE:
                    resolver = at
                    if inside:
                        resolution = (at, index(groups, group), index(dues, due))
            elif kind == EventKind.RATED and inside:
                ratings.append((at, index(groups, group), resolver))
            status = status_after(kind, status)
        final_group, final_due = index(groups, group), index(dues, due)
        return cls(
            groups=tuple(groups),
            dues=tuple(dues),
            received=tuple(received),
            first_reply=first_reply,
            resolution=resolution,
            ratings=tuple(reversed(ratings)),
            status=status,
            group=final_group,
            due=final_due,
            assignee=assignee,
            counts_nothing=not (received or first_reply or resolution or ratings)
            and status not in (Status.WAITING, *CLOCK_RUNNING),
            stands=status in (Status.WAITING, *CLOCK_RUNNING),
            opening=opening(groups, "group"),
            opening_due=None if resolution is None else opening((dues[resolution[2]],), "due_date"),
        )


def opening(chains: Sequence[Chain], key: str) -> int | None:
    """The position of the event in ``chains`` if that is one event, read by ``key``."""
    if len(chains) == 1 and len(chains[0]) == 1 and chains[0][0][1] == key:
        return chains[0][0][0]
    return None
