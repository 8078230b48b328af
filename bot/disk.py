"""Free space where the bot writes: the SQLite database's folder and the temporary folder.

A full disk does not stop the bot from reading, so a health check that only reads stays green
while every message fails to be stored. SQLite needs room to grow its write-ahead log (a few
megabytes between checkpoints); the temporary folder takes jieba's dictionary cache at start-up
(9 MB) and each PDF report (Chromium's profile and the file).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOW_SPACE", "Room", "room_left"]

LOW_SPACE = 64 * 1024 * 1024
"""Bytes: with less free, the disk counts as full (room for a PDF report and a WAL's growth)."""
CHECK_LIMIT = 2.0
"""Seconds a free-space check may take (a hung network filesystem) before it counts as full."""


@dataclass(frozen=True, slots=True)
class Room:
    """The free space in one folder the bot writes to.

    Attributes:
        name: What the folder holds: ``database`` or ``temp``.
        folder: The folder.
        free: Bytes free for the bot; 0 when the folder cannot be checked.
    """

    name: str
    folder: Path
    free: int

    @property
    def full(self) -> bool:
        """Whether the bot is about to run out of room here."""
        return self.free < LOW_SPACE


async def room_left(database_file: Path | None) -> list[Room]:
    """The free space for the SQLite database (when ``database_file`` is given) and for temp.

    Args:
        database_file: The SQLite database's file; ``None`` when the database is a server.
    """
    folders = {"temp": Path(tempfile.gettempdir())}
    if database_file is not None:
        folders = {"database": database_file.parent, **folders}
    return [Room(name, folder, await _free(folder)) for name, folder in folders.items()]


async def _free(folder: Path) -> int:
    # On a thread: statvfs on a hung network filesystem must not stall the event loop.
    try:
        async with asyncio.timeout(CHECK_LIMIT):
            usage = await asyncio.to_thread(shutil.disk_usage, folder)
    except (OSError, TimeoutError):
        return 0
    return usage.free
