"""Files to and from WeCom members: temporary media fetched, uploaded and sent as messages.

A member's photo or file arrives as a ``MediaId`` (kept 3 days by WeCom); :meth:`WeComFiles.
fetch_file` downloads it for the file store (:mod:`bot.files`). A file carried from another
channel is uploaded as temporary media and sent as an image or file message after the text,
as WeCom's limits allow (:mod:`bot.files.limits`). A duty group's members each get their own
message, so an upload is kept for a day and sent to each of them by its ``media_id``: the
messages go side by side, and wait for the one upload in progress.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta

from bot.channels.token_api import TooBig
from bot.channels.wecom.api import TOKEN_ERRORS, WeComApi, WeComApiError
from bot.clock import Clock
from bot.files import Fetched, FileRefused, SourceError, upload_as
from bot.messages import Attachment, Channel, OutgoingMessage

__all__ = ["KEEP_UPLOAD", "WeComFiles"]

KEEP_UPLOAD = timedelta(days=1)
"""How long an uploaded file's ``media_id`` is used again: well within WeCom's 3 days."""
_PASSING = frozenset({-1, 45009, 45033, *TOKEN_ERRORS})


class WeComFiles:
    """Fetches members' files, and uploads and sends carried ones."""

    def __init__(self, api: WeComApi, clock: Clock) -> None:
        """Work through ``api``; ``clock`` ages the uploads kept for reuse."""
        self.api = api
        self._clock = clock
        self._uploads: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._uploading: dict[tuple[str, str], asyncio.Lock] = {}

    async def fetch_file(self, ref: str, limit: int) -> Fetched:
        """The file a member sent, by its ``MediaId``.

        Raises:
            FileRefused: It is bigger than ``limit`` bytes.
            SourceError: ``final`` when WeCom no longer has it; plain for trouble that passes.
        """
        try:
            data, name = await self.api.download("/cgi-bin/media/get", {"media_id": ref}, limit)
        except TooBig:
            raise FileRefused("too_big") from None
        except WeComApiError as error:
            passing = error.code is None or error.code in _PASSING
            raise SourceError(f"WeCom: {error}", final=not passing) from None
        return Fetched(data, name)

    async def send_files(self, message: OutgoingMessage) -> None:
        """Send the carried files of ``message`` to its member, each as an image or a file.

        Raises:
            WeComApiError: WeCom refused an upload or a message.
        """
        for file in message.attachments:
            if file.content is None:
                continue
            way = upload_as(Channel.WECOM, file.kind, file.media_type or "", len(file.content))
            if way is None:
                continue  # the sender linked to it instead (or it is a made report)
            media_id = await self._uploaded(way, file)
            await self.api.send(message.chat_id, {"msgtype": way, way: {"media_id": media_id}})

    async def _uploaded(self, way: str, file: Attachment) -> str:
        """The file's ``media_id``: kept from an upload within the day, or uploaded now.

        The members' messages are delivered side by side; one upload at a time per file
        (single flight), so that the second finds the first's ``media_id`` instead of
        uploading the file again.
        """
        assert file.content is not None
        key = (way, hashlib.sha256(file.content).hexdigest())
        lock = self._uploading.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                now = self._clock.now()
                kept = self._uploads.get(key)
                if kept is not None and now - kept[1] < KEEP_UPLOAD:
                    return kept[0]
                media_type = file.media_type or "application/octet-stream"
                media_id = await self.api.upload_media(
                    way, file.name or "file", file.content, media_type
                )
                self._uploads = {k: v for k, v in self._uploads.items() if now - v[1] < KEEP_UPLOAD}
                self._uploads[key] = (media_id, now)
                return media_id
        finally:
            if not lock.locked():
                self._uploading.pop(key, None)
