"""A console move posted with files: ``multipart/form-data``, its words first, its files last.

The page sends the move's fields (``action``, ``number``, ``id``, ``text``) before its files, so
the route checks everything it can (the session, the origin, the move, the person's right to
the request) having read only those few bytes, and reads the files only then, each to at most
the store's cap. A cross-site form can post ``multipart/form-data``; the SameSite=Strict cookie
already keeps the session off such a post, and the ``Origin`` check refuses it all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aiohttp import BodyPartReader, ClientPayloadError, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from bot.channels.console.http import MAX_BODY, Refused
from bot.files import MB
from bot.texts.console import CONSOLE_TEXTS

__all__ = ["MAX_FILES", "UPLOAD_SECONDS", "PostedFile", "PostedForm"]

log = logging.getLogger(__name__)

MAX_FILES = 3
"""Files one move carries: a result and its annexes; more go in several replies."""
UPLOAD_SECONDS = 120.0
"""How long a form with files may take to arrive: 20 MB on a slow office line."""
_CHUNK = 64 * 1024
_BROKEN = (ValueError, ClientPayloadError, HttpProcessingError, ConnectionError)


@dataclass(frozen=True, slots=True)
class PostedFile:
    """A file the form carried: its name as the browser gave it, and its bytes."""

    name: str
    data: bytes


class PostedForm:
    """A console form with files: :meth:`fields`, then, once they are checked, :meth:`files`."""

    def __init__(self, reader: MultipartReader, cap: int, deadline: float) -> None:
        """Read from ``reader``; no file over ``cap`` bytes; everything before ``deadline``."""
        self._reader = reader
        self._cap = cap
        self._deadline = deadline
        self._first_file: BodyPartReader | None = None

    @classmethod
    async def open(cls, request: web.Request, cap: int) -> PostedForm:
        """The form ``request`` posts; refused before its body is read when it cannot be one.

        Args:
            request: A ``multipart/form-data`` POST from the console page.
            cap: The largest file taken, in bytes (``BOT_FILES_MAX_MB``).
        """
        texts = CONSOLE_TEXTS
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            log.warning("console: a form with files from another site (%s) refused", origin[:80])
            raise Refused(403, texts.bad_request)
        declared = request.content_length
        if declared is not None and declared > MAX_FILES * cap + MAX_BODY:
            raise Refused(413, texts.files_too_big.format(limit=cap // MB))
        try:
            reader = await request.multipart()
        except _BROKEN:
            raise Refused(400, texts.bad_request) from None
        deadline = asyncio.get_running_loop().time() + UPLOAD_SECONDS
        return cls(reader, cap, deadline)

    async def fields(self) -> dict[str, str]:
        """The form's words: every part before its first file, together under a few kilobytes."""
        fields: dict[str, str] = {}
        size = 0
        async with self._in_time():
            while True:
                part = await self._reader.next()
                if part is None:
                    return fields
                if not isinstance(part, BodyPartReader) or not part.name:
                    raise Refused(400, CONSOLE_TEXTS.bad_request)
                if part.filename is not None:
                    self._first_file = part
                    return fields
                value = await self._read(part, MAX_BODY - size)
                if value is None:
                    raise Refused(413, CONSOLE_TEXTS.too_large)
                size += len(value)
                try:
                    fields[part.name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise Refused(400, CONSOLE_TEXTS.bad_request) from None

    async def files(self) -> list[PostedFile]:
        """The form's files (call after :meth:`fields`); refused when too many or one too big."""
        texts = CONSOLE_TEXTS
        files: list[PostedFile] = []
        async with self._in_time():
            part = self._first_file
            while part is not None:
                if len(files) == MAX_FILES:
                    raise Refused(413, texts.files_too_many.format(limit=MAX_FILES))
                if part.filename is None:
                    raise Refused(400, texts.bad_request)  # words after the files: not our page
                name = _shown_name(part.filename)
                data = await self._read(part, self._cap)
                if data is None:
                    raise Refused(413, texts.file_too_big.format(name=name, limit=self._cap // MB))
                if data:  # an empty file input sends an empty part
                    files.append(PostedFile(name, data))
                found = await self._reader.next()
                if found is not None and not isinstance(found, BodyPartReader):
                    raise Refused(400, texts.bad_request)
                part = found
        return files

    async def _read(self, part: BodyPartReader, limit: int) -> bytes | None:
        """The part's bytes; ``None`` (and reading stops) once it is over ``limit``."""
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    @contextlib.asynccontextmanager
    async def _in_time(self) -> AsyncIterator[None]:
        """Reading the form: before its deadline, its breakage answered as a refusal."""
        try:
            async with asyncio.timeout_at(self._deadline):
                yield
        except TimeoutError:
            raise Refused(400, CONSOLE_TEXTS.incomplete) from None
        except _BROKEN as error:
            log.info("console: a form with files broke off (%r)", error)
            raise Refused(400, CONSOLE_TEXTS.incomplete) from None


def _shown_name(filename: str) -> str:
    """The file's own name: without a folder, short, and decoded.

    Browsers send a name in UTF-8 as it is; some clients percent-encode it (aiohttp's does).
    """
    name = unquote(filename).replace("\\", "/").rpartition("/")[2].strip()
    return name[:120] or "file"
