"""Admin-kept files (roster, calendar overrides) that reload without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Reloadable"]

T = TypeVar("T")


class Reloadable(Generic[T]):
    """The object loaded from a file, swapped whole on a successful reload.

    A reload that fails raises the loader's error and keeps the object that was serving, so a
    typo in the roster never leaves the bot without one.
    """

    def __init__(self, load: Callable[[], T], current: T) -> None:
        """Hold ``current``; ``load`` reads the file again (it runs off the event loop)."""
        self._load = load
        self._current = current

    @property
    def current(self) -> T:
        """The object in service."""
        return self._current

    async def reload(self, vet: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Read the file again and serve the result.

        Args:
            vet: Looks at the fresh object before it serves (against the database, say);
                what it raises refuses it.

        Raises:
            Exception: Whatever the loader or ``vet`` raises; the current object stays.
        """
        fresh = await asyncio.to_thread(self._load)
        if vet is not None:
            await vet(fresh)
        self._current = fresh
        return fresh
