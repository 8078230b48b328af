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
and logged, the token itself never. What is not WeChat's own (the single flight, the retry, the
calls) is :mod:`bot.channels.token_api`'s, which the WeCom client shares.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, ClassVar

from bot.channels.token_api import NotThere, PlatformApiError, TokenApi
from bot.clock import SHANGHAI, Clock

__all__ = ["TOKEN_ERRORS", "WeChatApi", "WeChatApiError"]

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
"""Invalid credential, invalid access token, access token expired: fetch a new token."""
FETCHES_WORTH_A_WARNING = 100
"""Token fetches a day beyond which something is wrong (the platform allows 2,000 or more)."""


class WeChatApiError(PlatformApiError):
    """WeChat answered with an error code (or could not be reached: ``code`` is ``None``)."""


class WeChatApi(TokenApi):
    """A small async client for the Official Account API."""

    name: ClassVar[str] = "wechat"
    token_errors: ClassVar[frozenset[int]] = TOKEN_ERRORS
    error: ClassVar[type[PlatformApiError]] = WeChatApiError

    def __init__(self, root: str, app_id: str, app_secret: str, clock: Clock) -> None:
        """Prepare the client; the HTTP session opens on first use.

        Args:
            root: API root, ``https://api.weixin.qq.com`` (``BOT_WECHAT_API_URL``).
            app_id: The account's AppID.
            app_secret: The account's AppSecret (kept out of every log line).
            clock: Decides when the token is due for renewal.
        """
        super().__init__(root, clock)
        self._app_id = app_id
        self._app_secret = app_secret
        self._stable = True
        self._fetch_day: date | None = None
        self.token_fetches = 0
        """Token fetches today (Asia/Shanghai), as WeChat counts its daily limit."""

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

    async def download_media(self, media_id: str, limit: int) -> tuple[bytes, str | None]:
        """A temporary file a user sent (``/cgi-bin/media/get``): its bytes and its name.

        Raises:
            TooBig: It is bigger than ``limit`` bytes.
            WeChatApiError: WeChat refused (40007: no such media, or older than 3 days).
        """
        return await self.download("/cgi-bin/media/get", {"media_id": media_id}, limit)

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

    async def _fetch_token(self, stale: str | None) -> tuple[str, timedelta]:
        token, lifetime = await self._fetch(force=False)
        if token == stale:
            # The stable endpoint hands back the token it issued until it expires; a refused
            # one needs a forced renewal.
            token, lifetime = await self._fetch(force=True)
        return token, lifetime

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
            except NotThere:
                log.info("wechat: no stable_token endpoint; using /cgi-bin/token")
                self._stable = False
            else:
                return self._token_of(answer)
        answer = await self._request(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._app_secret,
            },
        )
        return self._token_of(answer)

    def _count_fetch(self) -> None:
        today = self._clock.now().astimezone(SHANGHAI).date()
        if today != self._fetch_day:
            self._fetch_day, self.token_fetches = today, 0
        self.token_fetches += 1
        level = logging.WARNING if self.token_fetches > FETCHES_WORTH_A_WARNING else logging.INFO
        log.log(level, "wechat: fetching an access token (%d today)", self.token_fetches)
