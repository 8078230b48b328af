"""The file store: files fetched from one platform to be sent on by another, on disk.

A file is kept under ``BOT_FILES_DIR`` by its key, the hash of its source channel and that
channel's reference to it (a Telegram ``file_id``, a WeChat or WeCom ``media_id``): fetched
once, it serves every target and every retry. Its bytes and a small description beside them
are each written to a temporary file and renamed into place, the description last, so a
reader sees a whole file or none, even after ``kill -9``. A file over the size cap or of a
kind the bot does not carry (:func:`bot.files.kinds.sniff`) is refused, and the refusal is
kept in its place so that the source is not asked again. The retention job forgets files
older than its age (:meth:`FileStore.forget_before`); a link to one fetches it again.

The disk is worked on a thread: a slow disk must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.files.kinds import FileKind, Unwelcome, sniff

__all__ = ["FileRefused", "FileStore", "StoredFile"]

_META = ".json"


class FileRefused(Exception):
    """The bot does not carry this file; ``reason``: ``too_big``, ``executable`` or ``unknown``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file in the store.

    Attributes:
        key: Its key (:meth:`FileStore.key_of`).
        name: Its name as shown, with the extension its kind goes by.
        media_type: Its media type, as its bytes say.
        size: Its size in bytes.
        path: Where its bytes are.
        stored_at: When it was fetched (UTC).
    """

    key: str
    name: str
    media_type: str
    size: int
    path: Path
    stored_at: datetime

    def read(self) -> bytes:
        """The file's bytes (blocking: call it on a thread)."""
        return self.path.read_bytes()


class FileStore:
    """Files on disk by key, each written once and atomically."""

    def __init__(self, folder: Path, cap: int) -> None:
        """Keep files in ``folder`` (made when first needed), none bigger than ``cap`` bytes."""
        self.folder = folder
        self.cap = cap

    @staticmethod
    def key_of(channel: str, ref: str) -> str:
        """The key of the file ``ref`` names on ``channel``."""
        return hashlib.sha256(f"{channel}\n{ref}".encode()).hexdigest()

    async def find(self, key: str) -> StoredFile | None:
        """The file kept under ``key``, or ``None``.

        Raises:
            FileRefused: The file was fetched before and refused.
        """
        return await asyncio.to_thread(self._find, key)

    async def keep(
        self, key: str, data: bytes, *, name: str | None, kind: str, now: datetime
    ) -> StoredFile:
        """Check and keep ``data`` under ``key``.

        Args:
            key: Its key.
            data: The file.
            name: Its name as sent, if any.
            kind: The attachment's kind (``photo``…), which names a file sent without a name.
            now: When it was fetched.

        Raises:
            FileRefused: Too big, empty, or not a kind the bot carries (remembered).
        """
        return await asyncio.to_thread(self._keep, key, data, name, kind, now)

    async def forget_before(self, cutoff: datetime) -> int:
        """Delete the files fetched before ``cutoff``, and refusals as old; how many went."""
        return await asyncio.to_thread(self._forget_before, cutoff)

    # On the thread ----------------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.folder / key[:2]
        return folder / key, folder / f"{key}{_META}"

    def _find(self, key: str) -> StoredFile | None:
        data_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        stored_at = datetime.fromisoformat(str(meta["stored_at"]))
        if meta.get("refused"):
            raise FileRefused(str(meta["refused"]))
        if not data_path.is_file():
            return None
        return StoredFile(
            key, str(meta["name"]), str(meta["media_type"]), int(meta["size"]), data_path, stored_at
        )

    def check(self, data: bytes, name: str | None) -> FileKind:
        """What kind of file ``data`` is, read from its first bytes.

        Raises:
            FileRefused: Empty, over the store's cap, or not a kind the bot carries.
        """
        if len(data) > self.cap:
            raise FileRefused("too_big")
        if not data:
            raise FileRefused("unknown")
        try:
            return sniff(data[:16], name)
        except Unwelcome as error:
            raise FileRefused(error.reason) from None

    def _keep(
        self, key: str, data: bytes, name: str | None, kind: str, now: datetime
    ) -> StoredFile:
        data_path, meta_path = self._paths(key)
        try:
            found = self.check(data, name)
        except FileRefused as refused:
            _write(meta_path, json.dumps({"refused": refused.reason, "stored_at": now.isoformat()}))
            raise
        shown = _name(name, kind, found.extension)
        _write(data_path, data)
        meta = {
            "name": shown,
            "media_type": found.media_type,
            "size": len(data),
            "stored_at": now.isoformat(),
        }
        _write(meta_path, json.dumps(meta, ensure_ascii=False))
        return StoredFile(key, shown, found.media_type, len(data), data_path, now)

    def _forget_before(self, cutoff: datetime) -> int:
        if not self.folder.is_dir():
            return 0
        gone = 0
        for meta_path in self.folder.glob(f"??/*{_META}"):
            try:
                meta = json.loads(meta_path.read_text("utf-8"))
                stored_at = datetime.fromisoformat(str(meta["stored_at"]))
            except (OSError, ValueError, KeyError):
                continue
            if stored_at >= cutoff:
                continue
            # The description first: without it the bytes are not found, never half found.
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()
            with contextlib.suppress(FileNotFoundError):
                meta_path.with_suffix("").unlink()
            gone += 1
        for orphan in self.folder.glob("??/.*.tmp"):
            # A writer killed mid-way leaves its temporary file; an hour-old one is abandoned.
            with contextlib.suppress(OSError):
                if orphan.stat().st_mtime < cutoff.timestamp():
                    orphan.unlink()
        return gone


def _name(name: str | None, kind: str, extension: str) -> str:
    """The name shown: the one sent with the extension its bytes go by, or the kind's."""
    stem = Path(name).name if name else kind
    stem, dot, given = stem.rpartition(".")
    if not dot:
        stem = given
    elif given.lower() == extension:
        return f"{stem}.{given}"
    return f"{stem or kind}.{extension}"


def _write(path: Path, content: bytes | str) -> None:
    """Write ``content`` to ``path`` atomically: to a temporary file, flushed, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
