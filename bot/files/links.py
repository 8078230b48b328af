"""Signed links to carried files: ``/files/<id>?exp=…&sig=…``, for the web chat and the console.

The id names the file by its source (channel, reference, kind and name), so a link works
before the file is fetched: the first to open it fetches it into the store. The signature is an
HMAC of the id and the expiry with the bot's file secret, so only a link the bot made opens,
and only until it expires; the holder needs no account. A link sent in a chat message (a file
too big for the platform) is absolute when ``BOT_PUBLIC_URL`` is set, and is not sent without.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from bot.clock import Clock
from bot.messages import Attachment, Channel

__all__ = ["CHAT_LINK_LIFETIME", "PAGE_LINK_LIFETIME", "FileLinks", "LinkedFile"]

CHAT_LINK_LIFETIME = timedelta(days=7)
"""How long a link sent in a chat message opens: a week of a request's back and forth."""
PAGE_LINK_LIFETIME = timedelta(hours=12)
"""How long a link drawn on the web chat or the console opens; the page draws fresh ones."""


@dataclass(frozen=True, slots=True)
class LinkedFile:
    """The file a link names."""

    channel: Channel
    ref: str
    kind: str
    name: str | None


class FileLinks:
    """Makes and checks the signed links."""

    def __init__(self, secret: bytes, clock: Clock, public_url: str | None = None) -> None:
        """Sign with ``secret``; expiries by ``clock``; absolute links under ``public_url``."""
        self._secret = secret
        self._clock = clock
        self._public_url = public_url

    def path(self, attachment: Attachment, lifetime: timedelta = PAGE_LINK_LIFETIME) -> str | None:
        """The link (a path on this server) to ``attachment``; ``None`` when it has no source."""
        if attachment.channel is None or attachment.ref is None:
            return None
        named = [attachment.channel.value, attachment.ref, attachment.kind, attachment.name or ""]
        file_id = base64.urlsafe_b64encode(json.dumps(named).encode()).decode().rstrip("=")
        expires = int((self._clock.now() + lifetime).timestamp())
        query = urlencode({"exp": expires, "sig": self._sign(file_id, expires)})
        return f"/files/{file_id}?{query}"

    def url(self, attachment: Attachment, lifetime: timedelta = CHAT_LINK_LIFETIME) -> str | None:
        """The absolute link for a chat message; ``None`` without ``BOT_PUBLIC_URL``."""
        path = self.path(attachment, lifetime)
        if path is None or self._public_url is None:
            return None
        return f"{self._public_url}{path}"

    def open(self, file_id: str, expires: str, signature: str) -> LinkedFile | None:
        """The file a link names, if its signature is the bot's and it has not expired."""
        try:
            moment = int(expires)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(file_id, moment), signature):
            return None
        if moment < self._clock.now().timestamp():
            return None
        try:
            padded = file_id + "=" * (-len(file_id) % 4)
            channel, ref, kind, name = json.loads(base64.urlsafe_b64decode(padded))
            return LinkedFile(Channel(channel), str(ref), str(kind), str(name) or None)
        except (ValueError, TypeError, binascii.Error):
            return None  # signed by us, so never; but a link is input all the same

    def _sign(self, file_id: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{file_id}.{expires}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
