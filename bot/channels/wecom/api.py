"""The WeCom (企业微信) API for a self-built app, asynchronously: token, messages, cards, media.

wechatpy's WeCom client is synchronous (``requests``); on the event loop it would stall every
other chat for the length of a call. This client speaks the same HTTP API with aiohttp, with a
timeout on every call.

The access token (``/cgi-bin/gettoken``) is fetched by one task at a time per process (single
flight): concurrent senders wait for the fetch in progress. It is not kept in the database:
within its validity WeCom hands every caller of ``gettoken`` the same token, so the bot's
processes each fetch it once every two hours and never invalidate each other's. A call WeCom
answers with an invalid or expired token (40014, 42001) is retried once with a fresh one.
Fetches are logged, the token never. The single flight, the retry and the calls themselves are
:mod:`bot.channels.token_api`'s, shared with the WeChat client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from bot.channels.token_api import NotThere, PlatformApiError, TokenApi
from bot.clock import Clock

__all__ = ["TOKEN_ERRORS", "WeComApi", "WeComApiError"]

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40014, 42001})
"""Invalid access token, access token expired: fetch a new token and call again, once."""


class WeComApiError(PlatformApiError):
    """WeCom answered with an error code (or could not be reached: ``code`` is ``None``)."""


class WeComApi(TokenApi):
    """A small async client for one self-built app of one enterprise."""

    name: ClassVar[str] = "wecom"
    token_errors: ClassVar[frozenset[int]] = TOKEN_ERRORS
    error: ClassVar[type[PlatformApiError]] = WeComApiError

    def __init__(self, root: str, corp_id: str, secret: str, agent_id: int, clock: Clock) -> None:
        """Prepare the client; the HTTP session opens on first use.

        Args:
            root: API root, ``https://qyapi.weixin.qq.com`` (``BOT_WECOM_API_URL``).
            corp_id: The enterprise's CorpID.
            secret: The app's Secret (kept out of every log line).
            agent_id: The app's AgentId, which every message is sent as.
            clock: Decides when the token is due for renewal.
        """
        super().__init__(root, clock)
        self._corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self.token_fetches = 0
        """Token fetches since the process started."""

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

    async def _fetch_token(self, stale: str | None) -> tuple[str, timedelta]:
        # Within its validity WeCom hands out the same token again: a refused one is expired.
        self.token_fetches += 1
        log.info("wecom: fetching an access token (%d so far)", self.token_fetches)
        try:
            answer = await self._request(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self._corp_id, "corpsecret": self._secret},
            )
        except NotThere:
            raise WeComApiError(None, "HTTP 404 from /cgi-bin/gettoken") from None
        return self._token_of(answer)
