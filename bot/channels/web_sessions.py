"""The web chat's session cookies: issued by the server only, and told apart from made-up ones.

A cookie is ``RANDOM.SIGNATURE``: 192 random bits and their HMAC-SHA256 under a key all
processes share (:func:`storage.visitors.signing_key`). The visitor is the SHA-256 of the random
part, as before signing existed, so a cookie from then keeps its identity once it is signed.
A value the server did not sign is never adopted: whoever plants one on someone else's browser
(session fixation) shares nothing with them, since each of them is given a fresh session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["SessionCookies", "visitor_of"]


def visitor_of(random_part: str) -> str:
    """The user id a session stands for: never the cookie itself, which opens the session."""
    return hashlib.sha256(random_part.encode()).hexdigest()[:32]


class SessionCookies:
    """Issues and checks session cookies with one key."""

    def __init__(self, key: bytes) -> None:
        """Sign with ``key``."""
        self._key = key

    def issue(self) -> tuple[str, str]:
        """A new session: its cookie value and its visitor."""
        random_part = secrets.token_urlsafe(24)
        return self.sign(random_part), visitor_of(random_part)

    def sign(self, random_part: str) -> str:
        """The cookie value for ``random_part`` (also to sign a cookie from before signing)."""
        return f"{random_part}.{self._signature(random_part)}"

    def visitor(self, cookie: str) -> str | None:
        """The visitor of a cookie this server issued; ``None`` for any other value."""
        if not cookie.isascii():  # ours are; compare_digest takes no other text
            return None
        random_part, dot, signature = cookie.rpartition(".")
        if not dot or not random_part:
            return None
        if not hmac.compare_digest(signature, self._signature(random_part)):
            return None
        return visitor_of(random_part)

    def _signature(self, random_part: str) -> str:
        digest = hmac.new(self._key, random_part.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
