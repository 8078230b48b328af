"""The WeChat API, asynchronously: access token, customer-service and template messages, menu.

wechatpy's client is synchronous (``requests``); on the event loop it would stall every other
chat for the length of a call. This client speaks the same HTTP API with aiohttp, with a
timeout on every call.

The access token is fetched by one task at a time (single flight): concurrent senders wait for
the fetch in progress instead of each fetching their own. It is renewed before it expires, and
a call the platform answers with an expired or invalid token (40001, 40014, 42001) is retried
once with a fresh one. ``/cgi-bin/stable_token`` is preferred: it hands every process the same
token, so several bot processes do not invalidate each other's; ``/cgi-bin/token`` serves where
the stable endpoint is not available. Fetches are counted per day (WeChat allows a few thousand)
and logged, the token itself never. A call made while the outbox sender delivers a row names
the row in the header ``X-MakerDesk-Outbox`` (see :func:`bot.delivery.outbox_headers`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import aiohttp

from bot.clock import SHANGHAI, Clock
from bot.delivery import outbox_headers

__all__ = ["TOKEN_ERRORS", "WeChatApi", "WeChatApiError"]

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
REFRESH_MARGIN = timedelta(minutes=5)
"""A token this close to its expiry is renewed before use."""
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
"""Invalid credential, invalid access token, access token expired: fetch a new token."""
FETCHES_WORTH_A_WARNING = 100
"""Token fetches a day beyond which something is wrong (the platform allows 2,000 or more)."""


class WeChatApiError(Exception):
    """WeChat answered with an error code (or could not be reached: ``code`` is ``None``).

    Attributes:
        code: WeChat's ``errcode``; ``None`` for network trouble and unreadable answers.
        message: WeChat's ``errmsg`` or a short description.
    """

    def __init__(self, code: int | None, message: str) -> None:
        """Describe the failure."""
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message


class WeChatApi:
    """A small async client for the Official Account API."""

    def __init__(self, root: str, app_id: str, app_secret: str, clock: Clock) -> None:
        """Prepare the client; the HTTP session opens on first use.

        Args:
            root: API root, ``https://api.weixin.qq.com`` (``BOT_WECHAT_API_URL``).
            app_id: The account's AppID.
            app_secret: The account's AppSecret (kept out of every log line).
            clock: Decides when the token is due for renewal.
        """
        self._root = root.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = clock.now()
        self._fetch_lock = asyncio.Lock()
        self._stable = True
        self._fetch_day: date | None = None
        self.token_fetches = 0
        """Token fetches today (Asia/Shanghai), as WeChat counts its daily limit."""

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
            WeChatApiError: WeChat refused the call, or did not answer in time.
        """
        token = await self.access_token()
        try:
            return await self._call(path, body, method, token, query=query, upload=upload)
        except WeChatApiError as error:
            if error.code not in TOKEN_ERRORS:
                raise
            log.info("wechat: access token refused (%s); fetching a new one", error.code)
        fresh = await self.access_token(stale=token)
        return await self._call(path, body, method, fresh, query=query, upload=upload)

    async def upload_media(self, kind: str, name: str, data: bytes, content_type: str) -> str:
        """Upload a temporary file (kept 3 days by WeChat) and return its ``media_id``.

        Args:
            kind: ``image``, ``voice``, ``video`` or ``thumb``.
            name: The file name; WeChat judges the type by its extension.
            data: The file.
            content_type: Its MIME type.
        """
        answer = await self.call(
            "/cgi-bin/media/upload", query={"type": kind}, upload=(name, data, content_type)
        )
        media_id = answer.get("thumb_media_id" if kind == "thumb" else "media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeChatApiError(None, "no media_id in the answer")
        return media_id

    async def send_custom(self, openid: str, message: Mapping[str, Any]) -> None:
        """Send a customer-service message (``{"msgtype": "text", "text": {...}}``)."""
        await self.call("/cgi-bin/message/custom/send", {"touser": openid, **message})

    async def send_template(
        self, openid: str, template_id: str, data: Mapping[str, str], url: str | None = None
    ) -> None:
        """Send a template message, each field as ``{"value": …}``."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url:
            body["url"] = url
        await self.call("/cgi-bin/message/template/send", body)

    async def send_subscription(
        self, openid: str, template_id: str, data: Mapping[str, str], page: str | None = None
    ) -> None:
        """Send a one-time subscription message (``subscribe/bizsend``)."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            body["page"] = page
        await self.call("/cgi-bin/message/subscribe/bizsend", body)

    async def create_menu(self, menu: Mapping[str, Any]) -> None:
        """Replace the account's custom menu."""
        await self.call("/cgi-bin/menu/create", menu)

    async def access_token(self, *, stale: str | None = None) -> str:
        """A token with time left; fetched by one caller while the others wait.

        Args:
            stale: A token WeChat just refused: fetch a new one unless someone already did.
        """
        if self._fresh(stale):
            assert self._token is not None
            return self._token
        async with self._fetch_lock:
            if self._fresh(stale):  # fetched while we waited for the lock
                assert self._token is not None
                return self._token
            token, lifetime = await self._fetch(force=False)
            if token == stale:
                # The stable endpoint hands back the token it issued until it expires; a
                # refused one needs a forced renewal.
                token, lifetime = await self._fetch(force=True)
            self._token = token
            self._expires_at = self._clock.now() + lifetime
            return token

    def _fresh(self, stale: str | None) -> bool:
        if self._token is None or self._token == stale:
            return False
        return self._expires_at - self._clock.now() > REFRESH_MARGIN

    async def _fetch(self, *, force: bool) -> tuple[str, timedelta]:
        self._count_fetch()
        if self._stable:
            try:
                answer = await self._request(
                    "POST",
                    "/cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self._app_id,
                        "secret": self._app_secret,
                        "force_refresh": force,
                    },
                )
            except _NotThere:
                log.info("wechat: no stable_token endpoint; using /cgi-bin/token")
                self._stable = False
            else:
                return _token_of(answer)
        answer = await self._request(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._app_secret,
            },
        )
        return _token_of(answer)

    def _count_fetch(self) -> None:
        today = self._clock.now().astimezone(SHANGHAI).date()
        if today != self._fetch_day:
            self._fetch_day, self.token_fetches = today, 0
        self.token_fetches += 1
        level = logging.WARNING if self.token_fetches > FETCHES_WORTH_A_WARNING else logging.INFO
        log.log(level, "wechat: fetching an access token (%d today)", self.token_fetches)

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
        except _NotThere:
            raise WeChatApiError(None, f"HTTP 404 from {path}") from None

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
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.request(
                method, f"{self._root}{path}", params=params, json=json, data=data, headers=headers
            ) as response:
                if response.status == 404:
                    raise _NotThere(path)
                if response.status != 200:
                    raise WeChatApiError(None, f"HTTP {response.status} from {path}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The URL carries the token and the secret: never put it in the message.
            raise WeChatApiError(None, f"{path}: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise WeChatApiError(None, f"{path}: unreadable answer")
        code = answer.get("errcode", 0)
        if code:
            raise WeChatApiError(int(code), str(answer.get("errmsg", "")))
        return answer


class _NotThere(Exception):
    """The endpoint does not exist here (HTTP 404)."""


def _token_of(answer: Mapping[str, Any]) -> tuple[str, timedelta]:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise WeChatApiError(None, "no access_token in the answer")
    return token, timedelta(seconds=int(answer.get("expires_in", 7200)))
