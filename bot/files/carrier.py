"""The carrier: fetches a file from the platform it was sent on into the store, once.

Each platform channel that receives files is a :class:`FileSource`. Fetching a file already in
the store costs a disk read; one not yet there is fetched by one task at a time per process
(single flight), so a group of members (one message each) and the retries of a message share
one download. A source that fails for now says so (:class:`SourceError`, not ``final``): the
message is tried again later. One that can never give the file (unknown or expired
reference, over the platform's download limit) is ``final``, and the reader gets a note.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.clock import Clock
from bot.files.limits import DOWNLOAD_LIMITS
from bot.files.store import FileRefused, FileStore, StoredFile
from bot.messages import Attachment, Channel

__all__ = ["Fetched", "FileCarrier", "FileSource", "SourceError", "UploadsOnly"]


class SourceError(Exception):
    """The platform did not give the file; ``final``: it never will."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


@dataclass(frozen=True, slots=True)
class Fetched:
    """A file as the platform gave it."""

    data: bytes
    name: str | None = None
    """The name the platform gave it (WeChat's ``Content-disposition``), if any."""


class FileSource(Protocol):
    """A platform the bot can fetch files from, by the platform's reference."""

    async def fetch_file(self, ref: str, limit: int) -> Fetched:
        """The file ``ref`` names, if it is no bigger than ``limit`` bytes.

        Raises:
            FileRefused: It is bigger (``too_big``).
            SourceError: The platform did not give it (``final`` when it never will).
        """
        ...


class UploadsOnly:
    """The web channel as a file source: its files are console uploads, kept only in the store.

    One the retention job has forgotten is gone for good (``final``), so a message waiting for
    it goes on with a note instead of waiting forever (:mod:`bot.files.uploads`).
    """

    async def fetch_file(self, ref: str, limit: int) -> Fetched:
        """Never gives a file.

        Raises:
            SourceError: Always, ``final``.
        """
        raise SourceError(f"the upload {ref[:24]}... is no longer kept", final=True)


class FileCarrier:
    """Gets files into the store from their source platforms."""

    def __init__(
        self, store: FileStore, clock: Clock, sources: Mapping[Channel, FileSource] | None = None
    ) -> None:
        """Keep files in ``store``, fetched from ``sources`` (more may be added)."""
        self.store = store
        self._clock = clock
        self._sources: dict[Channel, FileSource] = {Channel.WEB: UploadsOnly(), **(sources or {})}
        self._fetching: dict[str, asyncio.Lock] = {}

    def add_source(self, channel: Channel, source: FileSource) -> None:
        """Fetch ``channel``'s files from ``source``."""
        self._sources[channel] = source

    async def fetch(self, attachment: Attachment) -> StoredFile:
        """The attachment's file, from the store, or fetched from its platform into it.

        Raises:
            FileRefused: The bot does not carry it (too big, an executable, an unknown kind).
            SourceError: Its platform did not give it (``final`` when it never will).
        """
        channel, ref = attachment.channel, attachment.ref
        if channel is None or ref is None:
            raise SourceError("no reference to the file", final=True)
        key = self.store.key_of(channel.value, ref)
        found = await self.store.find(key)
        if found is not None:
            return found
        lock = self._fetching.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                found = await self.store.find(key)  # fetched while this task waited
                if found is not None:
                    return found
                return await self._fetch(key, channel, ref, attachment)
        finally:
            if not lock.locked():
                self._fetching.pop(key, None)

    async def _fetch(
        self, key: str, channel: Channel, ref: str, attachment: Attachment
    ) -> StoredFile:
        source = self._sources.get(channel)
        if source is None:
            raise SourceError(f"no {channel.value} channel to fetch the file from")
        limit = min(self.store.cap, DOWNLOAD_LIMITS.get(channel, self.store.cap))
        if attachment.size is not None and attachment.size > limit:
            raise FileRefused("too_big")  # not worth asking: the platform would refuse
        fetched = await source.fetch_file(ref, limit)
        return await self.store.keep(
            key,
            fetched.data,
            name=attachment.name or fetched.name,
            kind=attachment.kind,
            now=self._clock.now(),
        )
