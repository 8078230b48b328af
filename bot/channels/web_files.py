"""``GET /files/<id>?exp=…&sig=…``: a carried file, for whoever holds the bot's signed link.

The web chat and the console show a file from another channel as such a link, and a chat
message carries one when its platform cannot take the file (:mod:`bot.files.links`). A link
with a forged or expired signature gets 403, whatever the file. A good one serves the file from
the store, fetching it from its platform the first time; a file the bot does not carry gets its
reason in plain words, never the bytes.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from bot.channels.web_page import language_of
from bot.files import FileCarrier, FileLinks, FileRefused, SourceError
from bot.messages import Attachment
from bot.texts.chat import texts_for

__all__ = ["FILE_HEADERS", "FileRoute"]

log = logging.getLogger(__name__)

FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
    "Referrer-Policy": "no-referrer",
}
"""A served file is shown as what its bytes say it is, runs nothing, and no shared cache keeps
it (it is someone's document)."""
_SHOWN_INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"})


class FileRoute:
    """Serves the files the signed links name."""

    def __init__(self, carrier: FileCarrier, links: FileLinks) -> None:
        """Serve from ``carrier``'s store (fetching what is not there) what ``links`` signed."""
        self._carrier = carrier
        self._links = links

    def register(self, app: web.Application) -> None:
        """Add ``/files/{id}`` to ``app``."""
        app.router.add_get("/files/{id}", self._file)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        texts = texts_for(language_of(request))
        linked = self._links.open(
            request.match_info["id"], request.query.get("exp", ""), request.query.get("sig", "")
        )
        if linked is None:
            return _plain(403, texts.file_link_bad)
        attachment = Attachment(linked.kind, linked.name, None, linked.channel, linked.ref)
        what = texts.file_kinds.get(linked.kind, texts.file_kinds["document"])
        try:
            stored = await self._carrier.fetch(attachment)
        except FileRefused as refused:
            if refused.reason == "too_big":
                limit = self._carrier.store.cap // (1024 * 1024)
                return _plain(413, texts.file_too_big.format(what=what, limit=limit))
            return _plain(415, texts.file_refused.format(what=what))
        except SourceError as error:
            log.info("file link: %s", error.reason)
            if error.final:
                return _plain(410, texts.file_gone.format(what=what))
            return _plain(503, texts.file_try_later)
        inline = "inline" if stored.media_type in _SHOWN_INLINE else "attachment"
        headers = {
            **FILE_HEADERS,
            "Content-Type": stored.media_type,
            "Content-Disposition": f"{inline}; filename*=UTF-8''{quote(stored.name)}",
        }
        return web.FileResponse(stored.path, headers=headers)


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers=FILE_HEADERS)
