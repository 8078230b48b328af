"""The WeCom (企业微信) API for a self-built app, asynchronously: token, messages, cards, media.

wechatpy's WeCom client is synchronous (``requests``); on the event loop it would stall every
other chat for the length of a call. This client speaks the same HTTP API with aiohttp, with a
timeout on every call.

The access token (``/cgi-bin/gettoken``) is fetched by one task at a time per process (single
flight): concurrent senders wait for the fetch in progress. It is not kept in the database:
within its validity WeCom hands every caller of ``gettoken`` the same token, so the bot's
processes each fetch it once every two hours and never invalidate each other's. A call WeCom
answers with an invalid or expired token (40014, 42001) is retried once with a fresh one.
Fetches are logged, the token never. A call made while the outbox sender delivers a row names
the row in the header ``X-MakerDesk-Outbox`` (see :func:`bot.delivery.outbox_headers`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import aiohttp

from bot.clock import Clock
from bot.delivery import outbox_headers

__all__ = ["TOKEN_ERRORS", "WeComApi", "WeComApiError"]

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
REFRESH_MARGIN = timedelta(minutes=5)
"""A token this close to its expiry is renewed before use."""
TOKEN_ERRORS = frozenset({40014, 42001})
"""Invalid access token, access token expired: fetch a new token and call again, once."""


class WeComApiError(Exception):
    """WeCom answered with an error code (or could not be reached: ``code`` is ``None``).

    Attributes:
        code: WeCom's ``errcode``; ``None`` for network trouble and unreadable answers.
        message: WeCom's ``errmsg`` or a short description.
    """

    def __init__(self, code: int | None, message: str) -> None:
        """Describe the failure."""
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message


class WeComApi:
    """A small async client for one self-built app of one enterprise."""

    def __init__(self, root: str, corp_id: str, secret: str, agent_id: int, clock: Clock) -> None:
        """Prepare the client; the HTTP session opens on first use.

        Args:
            root: API root, ``https://qyapi.weixin.qq.com`` (``BOT_WECOM_API_URL``).
            corp_id: The enterprise's CorpID.
            secret: The app's Secret (kept out of every log line).
            agent_id: The app's AgentId, which every message is sent as.
            clock: Decides when the token is due for renewal.
        """
        self._root = root.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = clock.now()
        self._fetch_lock = asyncio.Lock()
        self.token_fetches = 0
        """Token fetches since the process started."""

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
            WeComApiError: WeCom refused the call, or did not answer in time.
        """
        token = await self.access_token()
        try:
            return await self._call(path, body, method, token, query=query, upload=upload)
        except WeComApiError as error:
            if error.code not in TOKEN_ERRORS:
                raise
            log.info("wecom: access token refused (%s); fetching a new one", error.code)
        fresh = await self.access_token(stale=token)
        return await self._call(path, body, method, fresh, query=query, upload=upload)

    async def send(self, touser: str, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send an app message (``{"msgtype": "text", "text": {...}}``) to one member.

        Returns:
            WeCom's answer: ``msgid``, a card's ``response_code``, and ``invaliduser`` naming
            whom it could not reach (still with ``errcode`` 0).
        """
        body = {"touser": touser, "agentid": self.agent_id, **message}
        return await self.call("/cgi-bin/message/send", body)

    async def send_text(self, touser: str, text: str) -> dict[str, Any]:
        """Send plain text (at most 2,048 bytes; WeCom cuts the rest)."""
        return await self.send(touser, {"msgtype": "text", "text": {"content": text}})

    async def send_markdown(self, touser: str, text: str) -> dict[str, Any]:
        """Send WeCom markdown (shown in the WeCom app; the WeChat plug-in cannot show it)."""
        return await self.send(touser, {"msgtype": "markdown", "markdown": {"content": text}})

    async def update_template_card(
        self, userids: Sequence[str], response_code: str, change: Mapping[str, Any]
    ) -> None:
        """Update a template card, once per ``response_code`` (within 72 hours of it).

        Args:
            userids: Whose copy of the card changes.
            response_code: From the sending answer or the member's ``template_card_event``.
            change: ``{"button": {"replace_name": …}}`` or ``{"template_card": {…}}``.
        """
        body = {
            "userids": list(userids),
            "agentid": self.agent_id,
            "response_code": response_code,
            **change,
        }
        await self.call("/cgi-bin/message/update_template_card", body)

    async def upload_media(self, kind: str, name: str, data: bytes, content_type: str) -> str:
        """Upload a temporary file (kept 3 days by WeCom) and return its ``media_id``.

        Args:
            kind: ``image``, ``voice``, ``video`` or ``file``.
            name: The file name, as members will see it.
            data: The file.
            content_type: Its MIME type.
        """
        answer = await self.call(
            "/cgi-bin/media/upload", query={"type": kind}, upload=(name, data, content_type)
        )
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeComApiError(None, "no media_id in the answer")
        return media_id

    async def access_token(self, *, stale: str | None = None) -> str:
        """A token with time left; fetched by one caller while the others wait.

        Args:
            stale: A token WeCom just refused: fetch a new one unless someone already did.
        """
        if self._fresh(stale):
            assert self._token is not None
            return self._token
        async with self._fetch_lock:
            if self._fresh(stale):  # fetched while we waited for the lock
                assert self._token is not None
                return self._token
            self.token_fetches += 1
            log.info("wecom: fetching an access token (%d so far)", self.token_fetches)
            answer = await self._request(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self._corp_id, "corpsecret": self._secret},
            )
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeComApiError(None, "no access_token in the answer")
            self._token = token
            lifetime = timedelta(seconds=int(answer.get("expires_in", 7200)))
            self._expires_at = self._clock.now() + lifetime
            return token

    def _fresh(self, stale: str | None) -> bool:
        if self._token is None or self._token == stale:
            return False
        return self._expires_at - self._clock.now() > REFRESH_MARGIN

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
        return await self._request(
            method, path, params=params, json=body, data=form, headers=outbox_headers()
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
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
                if response.status != 200:
                    raise WeComApiError(None, f"HTTP {response.status} from {path}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The URL carries the token or the secret: never put it in the message.
            raise WeComApiError(None, f"{path}: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise WeComApiError(None, f"{path}: unreadable answer")
        code = answer.get("errcode", 0)
        if code:
            raise WeComApiError(int(code), str(answer.get("errmsg", "")))
        return answer
