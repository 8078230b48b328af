"""Files a commissioner uploads in the web console, kept so they travel like any carried file.

An upload has no platform to fetch it from again: it is checked (size cap, kind by its first
bytes) and kept in the store under the web channel and a reference made from its name and
bytes, and the desk command carries it as an :class:`~bot.messages.Attachment` of the web
channel. From there it goes as every carried file does (:func:`bot.files.carry.carry`): a
picture uploaded to WeChat, a PDF as a signed link, a Telegram upload, a link in the web chat.
The reference is the hash of name and bytes, so a resent form keeps the same file once.

A refused upload leaves nothing in the store: the person is told at once and may pick another.
Once the retention job has forgotten an upload, it is gone for good
(:class:`~bot.files.carrier.UploadsOnly`): a message waiting for it goes on with a note.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from bot.files.store import FileStore
from bot.messages import Attachment, Channel

__all__ = ["PICTURES", "keep_upload"]

PICTURES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
"""Media types an upload goes on as a photo; any other is a document."""
_PREFIX = "upload:"


async def keep_upload(
    store: FileStore, data: bytes, name: str | None, *, now: datetime
) -> Attachment:
    """Check ``data`` and keep it; the attachment that carries it.

    Args:
        store: Where it is kept.
        data: The file's bytes.
        name: Its name as the browser sent it.
        now: When it was uploaded.

    Raises:
        FileRefused: Empty, over the store's cap, or not a kind the bot carries; nothing kept.
    """
    found = store.check(data, name)
    digest = hashlib.sha256(f"{name or ''}\n".encode() + data).hexdigest()
    ref = f"{_PREFIX}{digest}"
    kind = "photo" if found.media_type in PICTURES else "document"
    key = store.key_of(Channel.WEB.value, ref)
    stored = await store.keep(key, data, name=name, kind=kind, now=now)
    return Attachment(kind, stored.name, stored.size, Channel.WEB, ref)
