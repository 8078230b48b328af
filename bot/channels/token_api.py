"""What the WeChat and WeCom API clients share: an access token, fetched once, and JSON calls.

Both platforms answer every call with HTTP 200 and ``{"errcode": N, "errmsg": …}``, take the
token as ``?access_token=`` and refuse a stale one with an error code. :class:`TokenApi` fetches
the token by one task at a time (single flight: concurrent senders wait for the fetch in
progress), renews it before it expires, and calls again once, with a fresh token, when the
platform refused the one it had. Each call has a timeout; the URL, which carries the token or
the secret, never reaches an error message. A call made while the outbox sender delivers a row
names the row in the header ``X-MakerDesk-Outbox`` (see :func:`bot.delivery.outbox_headers`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import aiohttp

from bot.clock import Clock
from bot.delivery import outbox_headers

__all__ = ["REFRESH_MARGIN", "NotThere", "PlatformApiError", "TokenApi", "TooBig"]

log = logging.getLogger(__name__)

_FILENAME = re.compile(r'filename="?([^";]+)"?')

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=5, sock_read=30)
"""A file of 20 MB takes a while even on a good line; a stalled one is given up on."""
REFRESH_MARGIN = timedelta(minutes=5)
"""A token this close to its expiry is renewed before use."""


class PlatformApiError(Exception):
    """The platform answered with an error code (or could not be reached: ``code`` is ``None``).

    Attributes:
        code: The platform's ``errcode``; ``None`` for network trouble and unreadable answers.
        message: The platform's ``errmsg`` or a short description.
    """

    def __init__(self, code: int | None, message: str) -> None:
        """Describe the failure."""
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message


class TooBig(Exception):
    """A download is bigger than the caller takes."""


class NotThere(Exception):
    """The endpoint does not exist here (HTTP 404)."""


class TokenApi:
    """A platform API called with an access token (a subclass says how to fetch one)."""

    name: ClassVar[str]
    """The platform as the log names it (``wechat``, ``wecom``)."""
    token_errors: ClassVar[frozenset[int]]
    """The error codes that say the token is invalid or expired: fetch one and call again."""
    error: ClassVar[type[PlatformApiError]]
    """What the client raises."""

    def __init__(self, root: str, clock: Clock) -> None:
        """Prepare the client; the HTTP session opens on first use.

        Args:
            root: The API root, without a trailing slash needed.
            clock: Decides when the token is due for renewal.
        """
        self._root = root.rstrip("/")
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = clock.now()
        self._fetch_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        method: str = "POST",
        query: Mapping[str, str] | None = None,
        upload: tuple[str, bytes, str] | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` with the access token; one retry with a new token if it went stale.

        Args:
            path: The API path, ``/cgi-bin/…``.
            body: The JSON body.
            method: The HTTP method.
            query: Query parameters besides the token.
            upload: A file to post as the ``media`` form field: name, bytes, content type.

        Raises:
            PlatformApiError: The platform refused the call, or did not answer in time (the
                subclass's :attr:`error`).
        """
        token = await self.access_token()
        try:
            return await self._call(path, body, method, token, query=query, upload=upload)
        except PlatformApiError as error:
            if error.code not in self.token_errors:
                raise
            log.info("%s: access token refused (%s); fetching a new one", self.name, error.code)
        fresh = await self.access_token(stale=token)
        return await self._call(path, body, method, fresh, query=query, upload=upload)

    async def download(
        self, path: str, query: Mapping[str, str], limit: int
    ) -> tuple[bytes, str | None]:
        """Download the file at ``path`` (``/cgi-bin/media/get``): its bytes and its name.

        The platform answers a refusal with JSON and a file with its bytes; a stale token is
        replaced once, as for :meth:`call`.

        Raises:
            TooBig: The file is bigger than ``limit`` bytes.
            PlatformApiError: The platform refused, or did not answer in time.
        """
        token = await self.access_token()
        try:
            return await self._download(path, query, token, limit)
        except PlatformApiError as error:
            if error.code not in self.token_errors:
                raise
            log.info("%s: access token refused (%s); fetching a new one", self.name, error.code)
        fresh = await self.access_token(stale=token)
        return await self._download(path, query, fresh, limit)

    async def _download(
        self, path: str, query: Mapping[str, str], token: str, limit: int
    ) -> tuple[bytes, str | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        params = {**query, "access_token": token}
        try:
            async with self._session.get(
                f"{self._root}{path}",
                params=params,
                headers=outbox_headers(),
                timeout=DOWNLOAD_TIMEOUT,
            ) as response:
                if response.status != 200:
                    raise self.error(None, f"HTTP {response.status} from {path}")
                if (response.content_length or 0) > limit:
                    raise TooBig(path)
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > limit:
                        raise TooBig(path)
                kind = response.content_type
                disposition = response.headers.get("Content-Disposition", "")
        except (aiohttp.ClientError, TimeoutError) as error:
            # The URL carries the token: never put it in the message.
            raise self.error(None, f"{path}: {type(error).__name__}") from None
        if kind in ("application/json", "text/plain"):
            try:
                answer = json.loads(body)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("errcode"):
                raise self.error(int(answer["errcode"]), str(answer.get("errmsg", "")))
        named = _FILENAME.search(disposition)
        return bytes(body), named.group(1) if named else None

    async def access_token(self, *, stale: str | None = None) -> str:
        """A token with time left; fetched by one caller while the others wait.

        Args:
            stale: A token the platform just refused: fetch a new one unless someone already did.
        """
        if self._fresh(stale):
            assert self._token is not None
            return self._token
        async with self._fetch_lock:
            if self._fresh(stale):  # fetched while we waited for the lock
                assert self._token is not None
                return self._token
            token, lifetime = await self._fetch_token(stale)
            self._token = token
            self._expires_at = self._clock.now() + lifetime
            return token

    async def _fetch_token(self, stale: str | None) -> tuple[str, timedelta]:
        """A new token and how long it lives (``stale``: the one just refused, if any)."""
        raise NotImplementedError

    def _fresh(self, stale: str | None) -> bool:
        if self._token is None or self._token == stale:
            return False
        return self._expires_at - self._clock.now() > REFRESH_MARGIN

    def _token_of(self, answer: Mapping[str, Any]) -> tuple[str, timedelta]:
        """The token in a token endpoint's answer, and its lifetime."""
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise self.error(None, "no access_token in the answer")
        return token, timedelta(seconds=int(answer.get("expires_in", 7200)))

    async def _call(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        method: str,
        token: str,
        *,
        query: Mapping[str, str] | None,
        upload: tuple[str, bytes, str] | None,
    ) -> dict[str, Any]:
        params = {**(query or {}), "access_token": token}
        form = None
        if upload is not None:
            name, data, content_type = upload
            form = aiohttp.FormData()
            form.add_field("media", data, filename=name, content_type=content_type)
        try:
            return await self._request(
                method, path, params=params, json=body, data=form, headers=outbox_headers()
            )
        except NotThere:
            raise self.error(None, f"HTTP 404 from {path}") from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        data: aiohttp.FormData | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One call's JSON answer.

        Raises:
            NotThere: HTTP 404.
            PlatformApiError: Any other failure, or an answer with an error code.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.request(
                method, f"{self._root}{path}", params=params, json=json, data=data, headers=headers
            ) as response:
                if response.status == 404:
                    raise NotThere(path)
                if response.status != 200:
                    raise self.error(None, f"HTTP {response.status} from {path}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The URL carries the token or the secret: never put it in the message.
            raise self.error(None, f"{path}: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise self.error(None, f"{path}: unreadable answer")
        code = answer.get("errcode", 0)
        if code:
            raise self.error(int(code), str(answer.get("errmsg", "")))
        return answer
