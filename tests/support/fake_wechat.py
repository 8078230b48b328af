"""A fake WeChat Official Account platform on 127.0.0.1 for tests that drive the real bot.

Two halves, neither of which ever touches the Internet:

* :class:`FakeWeChat` stands in for ``https://api.weixin.qq.com``: access tokens
  (``/cgi-bin/token`` and ``/cgi-bin/stable_token``), customer-service, template and subscription
  messages, the custom menu and temporary media. It answers the way WeChat does, HTTP 200 with
  ``{"errcode": N, "errmsg": "… rid: …"}`` for every API error, keeps just enough state to be
  believable, and records every call.
* :class:`WeChatPlatform` is WeChat's side of the webhook: it signs (and in safe or compatible
  mode encrypts) message XML built by :func:`text_xml`, :func:`event_xml`, :func:`image_xml` or
  :func:`voice_xml`, posts it to the bot's server URL, and checks and decrypts the passive reply.

    async with FakeWeChat(app_id="wx123", app_secret="s3cret") as fake:
        # the bot runs with BOT_WECHAT_API_URL=fake.root
        platform = WeChatPlatform(f"{bot_url}/wechat", token="tok", app_id="wx123",
                                  aes_key=new_aes_key(), mode="safe")
        posted = await platform.post(text_xml("oUser1", "你好", msg_id=1))
        call = await fake.wait_for(lambda c: c.path == CUSTOM_SEND)

Sync tests: ``with FakeWeChat(...).in_thread() as fake:`` runs it on a loop of its own; the
scripting methods and ``fake.calls`` are safe there, and ``fake.wait_for_sync`` waits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import math
import os
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web
from wechatpy.crypto import PrpCrypto

from bot.clock import Clock, SystemClock
from tests.support.fake_platform import FakePlatform, outbox_id

__all__ = [
    "ACCOUNT",
    "BUTTON_TYPES",
    "CUSTOM_MSGTYPES",
    "CUSTOM_SEND",
    "CUSTOM_TYPING",
    "ENCRYPTED_ONLY",
    "ERRMSG",
    "JSON_CONTENT_TYPE",
    "KEY_BUTTONS",
    "MEDIA_GET",
    "MEDIA_MIME",
    "MEDIA_RULES",
    "MEDIA_UPLOAD",
    "MENU_CREATE",
    "MENU_DELETE",
    "MENU_GET",
    "OK",
    "STABLE_TOKEN",
    "SUBSCRIBE_SEND",
    "TEMPLATE_SEND",
    "TEXT_LIMIT",
    "TOKEN",
    "Call",
    "FakeWeChat",
    "Handler",
    "Json",
    "Media",
    "Mode",
    "Posted",
    "RejectedReply",
    "Tamper",
    "Upload",
    "WeChatError",
    "WeChatPlatform",
    "event_xml",
    "image_xml",
    "msg_signature",
    "new_aes_key",
    "new_openid",
    "parse_xml",
    "sign",
    "text_xml",
    "voice_xml",
]

Json = dict[str, Any]

TOKEN = "/cgi-bin/token"
STABLE_TOKEN = "/cgi-bin/stable_token"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
CUSTOM_TYPING = "/cgi-bin/message/custom/typing"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
SUBSCRIBE_SEND = "/cgi-bin/message/subscribe/bizsend"
MENU_CREATE = "/cgi-bin/menu/create"
MENU_GET = "/cgi-bin/menu/get"
MENU_DELETE = "/cgi-bin/menu/delete"
MEDIA_UPLOAD = "/cgi-bin/media/upload"
MEDIA_GET = "/cgi-bin/media/get"

ACCOUNT = "gh_account"
"""The default ToUserName of incoming messages (an Official Account's original ID)."""

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40006: "invalid meida size",  # sic: WeChat's own spelling
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    46003: "menu no exist",
    47001: "data format error",
}
"""WeChat's wording for the error codes the fake uses; a ``rid`` is appended, as WeChat does."""

TEXT_LIMIT = 2048  # bytes of UTF-8 in a customer-service text message
CUSTOM_MSGTYPES = frozenset(
    {"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
     "wxcard", "miniprogrampage"}
)  # fmt: skip
KEY_BUTTONS = frozenset(
    {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
     "pic_weixin", "location_select"}
)  # fmt: skip
BUTTON_TYPES = KEY_BUTTONS | {
    "view", "miniprogram", "media_id", "view_limited", "article_id", "article_view_limited",
}  # fmt: skip
# Temporary media: (size limit in bytes, accepted file extensions), per WeChat's upload rules.
MEDIA_RULES: dict[str, tuple[int, frozenset[str]]] = {
    "image": (10 * 1024 * 1024, frozenset({"bmp", "png", "jpeg", "jpg", "gif"})),
    "voice": (2 * 1024 * 1024, frozenset({"amr", "mp3"})),
    "video": (10 * 1024 * 1024, frozenset({"mp4"})),
    "thumb": (64 * 1024, frozenset({"jpg", "jpeg"})),
}
MEDIA_MIME = {
    "image": "image/jpeg",
    "voice": "audio/amr",
    "video": "video/mp4",
    "thumb": "image/jpeg",
}
JSON_CONTENT_TYPE = "application/json; encoding=utf-8"  # sic: what api.weixin.qq.com sends


def _rid() -> str:
    """A request id like the ones WeChat appends to every error message."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


class WeChatError(Exception):
    """A WeChat API error answer: ``{"errcode": …, "errmsg": …}`` with HTTP 200."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        if errmsg is None:
            errmsg = f"{ERRMSG.get(errcode, 'system error')} rid: {_rid()}"
        super().__init__(f"{errcode} {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg

    def body(self) -> Json:
        """The JSON body WeChat would answer with."""
        return {"errcode": self.errcode, "errmsg": self.errmsg}


OK: Json = {"errcode": 0, "errmsg": "ok"}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Media:
    """A temporary media file the fake holds, uploaded by the bot or seeded by a test."""

    type: str
    upload: Upload
    created_at: int


@dataclass(frozen=True)
class Call:
    """One API call as the fake saw it.

    Attributes:
        path: The URL path, e.g. ``/cgi-bin/message/custom/send``.
        query: The query parameters (``access_token`` among them).
        body: The JSON body, or None when there was none or it did not parse.
        at: ``time.monotonic()`` when the answer was ready.
        result: The JSON answered; None for a binary answer (media/get) or an unknown path.
        status: The HTTP status: 200 for every API answer, errors included; 404 for unknown paths.
        upload: The ``media`` part of a multipart upload.
        outbox_id: The outbox row the bot said the call delivers (its ``X-MakerDesk-Outbox``
            header); None for a call without one.
    """

    path: str
    query: dict[str, str]
    body: Json | None
    at: float
    result: Json | None
    status: int = 200
    upload: Upload | None = None
    outbox_id: int | None = None

    @property
    def errcode(self) -> int:
        """The answer's ``errcode``; 0 for success (answers without one, e.g. tokens, succeed)."""
        return int((self.result or {}).get("errcode", 0))

    @property
    def ok(self) -> bool:
        """Whether WeChat accepted the call."""
        return self.status == 200 and self.errcode == 0

    @property
    def touser(self) -> str | None:
        """The ``touser`` of a message call, if any."""
        value = (self.body or {}).get("touser")
        return value if isinstance(value, str) else None


@dataclass
class _Token:
    value: str
    stable: bool
    expires_at: datetime
    superseded_at: datetime | None = None
    revoked: bool = False
    expired: bool = False


@dataclass
class _Failure:
    path: str
    errcode: int
    errmsg: str | None
    times: int
    openid: str | None


@dataclass(frozen=True)
class _Request:
    query: dict[str, str]
    body: Json | None
    upload: Upload | None


Handler = Callable[[_Request], Awaitable[Json | web.Response]]


@dataclass(frozen=True)
class _Route:
    handler: Handler
    body: Literal["none", "json", "multipart"] = "none"
    authorized: bool = True  # needs ?access_token=


class FakeWeChat(FakePlatform["Call"]):
    """An in-process ``api.weixin.qq.com``; see the module docstring.

    Args:
        app_id: The AppID the token endpoints accept.
        app_secret: The AppSecret the token endpoints accept.
        clock: Decides when tokens expire (after ``token_ttl`` seconds) and when superseded ones
            stop working. Pass the bot's ``ManualClock`` to expire tokens without sleeping;
            call times (:attr:`Call.at`) stay on ``time.monotonic()``.
        token_ttl: Seconds a token lives (``expires_in``); WeChat says 7200.
        token_grace: Seconds a ``/cgi-bin/token`` token keeps working after a newer one was
            fetched. WeChat documents up to 300; 0 (the default) makes a second fetcher break the
            first at once, which is what a bot must survive.
        stable_grace: The same for a ``stable_token`` replaced by ``force_refresh``.
        template_ids: When given, the only template ids that template and subscription sends
            accept (others answer 40037).
    """

    api_name = "WeChat API"
    thread_name = "fake-wechat"

    def __init__(
        self,
        app_id: str = "wx123",
        app_secret: str = "s3cret",
        *,
        clock: Clock | None = None,
        token_ttl: float = 7200,
        token_grace: float = 0.0,
        stable_grace: float = 300.0,
        template_ids: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.app_id, self.app_secret = app_id, app_secret
        self.clock: Clock = clock or SystemClock()
        self.token_ttl, self.token_grace, self.stable_grace = token_ttl, token_grace, stable_grace
        self.template_ids = None if template_ids is None else frozenset(template_ids)
        self.media: dict[str, Media] = {}
        self.token_fetches = 0  # calls of either token endpoint, failed ones too
        self.token_delay = 0.0  # seconds each token call waits before answering
        self._tokens: dict[str, _Token] = {}
        self._stable: _Token | None = None
        self._menu: list[Json] | None = None
        self._failures: list[_Failure] = []
        self._slow: dict[str, float] = {}
        self._outside: set[str] = set()
        self._next_msgid = 2_800_000_000_000_000_000
        self._routes: dict[str, _Route] = {
            TOKEN: _Route(self._api_token, authorized=False),
            STABLE_TOKEN: _Route(self._api_stable_token, "json", authorized=False),
            CUSTOM_SEND: _Route(self._api_custom_send, "json"),
            CUSTOM_TYPING: _Route(self._api_custom_typing, "json"),
            TEMPLATE_SEND: _Route(self._api_template_send, "json"),
            SUBSCRIBE_SEND: _Route(self._api_subscribe_send, "json"),
            MENU_CREATE: _Route(self._api_menu_create, "json"),
            MENU_GET: _Route(self._api_menu_get),
            MENU_DELETE: _Route(self._api_menu_delete),
            MEDIA_UPLOAD: _Route(self._api_media_upload, "multipart"),
            MEDIA_GET: _Route(self._api_media_get),
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and set :attr:`root`."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        await self._serve(app)
        return self

    # ------------------------------------------------------------------ inspection

    def calls_of(self, path: str) -> list[Call]:
        """Every call of ``path`` (failed ones too), oldest first."""
        path = _normalise(path)
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def _accepted(self, path: str, openid: str | None) -> list[Json]:
        return [
            copy.deepcopy(c.body or {})
            for c in self.calls_of(path)
            if c.ok and (openid is None or c.touser == openid)
        ]

    def custom_messages(self, openid: str | None = None) -> list[Json]:
        """Bodies of the customer-service messages WeChat accepted, to ``openid`` if given."""
        return self._accepted(CUSTOM_SEND, openid)

    def templates(self, openid: str | None = None) -> list[Json]:
        """Bodies of the template messages WeChat accepted, to ``openid`` if given."""
        return self._accepted(TEMPLATE_SEND, openid)

    def subscriptions(self, openid: str | None = None) -> list[Json]:
        """Bodies of the subscription messages (bizsend) accepted, to ``openid`` if given."""
        return self._accepted(SUBSCRIBE_SEND, openid)

    @property
    def menu(self) -> list[Json] | None:
        """The buttons of the menu as created, or None when there is none."""
        with self._lock:
            return copy.deepcopy(self._menu)

    def valid_tokens(self) -> list[str]:
        """The access tokens that would be accepted right now."""
        with self._lock:
            return [t.value for t in self._tokens.values() if self._token_error(t) is None]

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        path: str,
        errcode: int,
        errmsg: str | None = None,
        times: int = 1,
        openid: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``path`` (to ``openid`` if given) answer ``errcode``.

        The access token is still checked first, as WeChat does, so a call with a bad token
        neither succeeds nor uses up the scripted failure.

        Args:
            path: ``/cgi-bin/message/custom/send``, or short: ``message/custom/send``.
            errcode: E.g. 45015 (outside the 48-hour window), 45047 (too many messages),
                43004 (not following), 45009 (daily quota), -1 (system error).
            errmsg: Defaults to WeChat's wording for the code, with a ``rid`` like WeChat's.
            times: How many calls fail.
            openid: Only calls whose ``touser`` is this user fail (others are unaffected).
        """
        path = self._known(path)
        with self._lock:
            self._failures.append(_Failure(path, errcode, errmsg, times, openid))

    def slow(self, path: str, seconds: float) -> None:
        """Delay every answer of ``path`` by ``seconds`` (0 undoes it).

        The call is still carried out and recorded after the delay, even if the client gave up:
        on the real platform a request that timed out may well have been delivered.
        """
        path = self._known(path)
        with self._lock:
            if seconds > 0:
                self._slow[path] = seconds
            else:
                self._slow.pop(path, None)

    def outside_window(self, openid: str) -> None:
        """Treat ``openid`` as silent for over 48 hours: customer-service calls answer 45015."""
        with self._lock:
            self._outside.add(openid)

    def inside_window(self, openid: str) -> None:
        """``openid`` has written again: customer-service messages to them work again."""
        with self._lock:
            self._outside.discard(openid)

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 42001 (access_token expired) from now on."""
        with self._lock:
            for token in self._tokens.values():
                token.expired = True

    def revoke_tokens(self) -> None:
        """Make every token issued so far answer 40001 (invalid credential) from now on."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def add_media(self, data: bytes, media_type: str = "image", filename: str = "photo.jpg") -> str:
        """Store temporary media as if a user had sent it, and return its media_id.

        Use the id in :func:`image_xml` or :func:`voice_xml` so that the bot can fetch the
        bytes with ``/cgi-bin/media/get``.
        """
        upload = Upload(filename, MEDIA_MIME.get(media_type, "application/octet-stream"), data)
        return self._store_media(media_type, upload)

    def _known(self, path: str) -> str:
        path = _normalise(path)
        if path not in self._routes:
            raise ValueError(f"the fake has no endpoint {path}")
        return path

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, query, outbox = request.path, dict(request.query), outbox_id(request)
        route = self._routes.get(path)
        if route is None:
            self._record(
                Call(path, query, None, time.monotonic(), None, status=404, outbox_id=outbox)
            )
            return web.Response(status=404, text="404 Not Found")
        body: Json | None = None
        upload: Upload | None = None
        unreadable: WeChatError | None = None
        # Read the body before judging the token so that a refused call still shows what the
        # bot tried to send; the token's verdict comes first all the same, as on WeChat.
        try:
            if route.body == "json":
                body = await _json_body(request)
            elif route.body == "multipart":
                upload = await _upload(request)
        except WeChatError as error:
            unreadable = error
        # Delays come after the request is read, so a client that gives up meanwhile has
        # still delivered it.
        with self._lock:
            delay = self._slow.get(path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if path in (TOKEN, STABLE_TOKEN):
            with self._lock:
                self.token_fetches += 1
            self._notify()
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
        try:
            if route.authorized:
                self._check_token(query)
            if unreadable is not None:
                raise unreadable
            self._scripted_failure(path, body)
            answer = await route.handler(_Request(query, body, upload))
        except WeChatError as error:
            answer = error.body()
        if isinstance(answer, web.Response):
            self._record(
                Call(path, query, body, time.monotonic(), None, upload=upload, outbox_id=outbox)
            )
            return answer
        self._record(
            Call(path, query, body, time.monotonic(), answer, upload=upload, outbox_id=outbox)
        )
        text = json.dumps(answer, ensure_ascii=False)
        return web.Response(body=text.encode(), headers={"Content-Type": JSON_CONTENT_TYPE})

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
        self._notify()

    def _scripted_failure(self, path: str, body: Json | None) -> None:
        touser = (body or {}).get("touser")
        with self._lock:
            for failure in self._failures:
                if failure.path == path and failure.openid in (None, touser):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise WeChatError(failure.errcode, failure.errmsg)

    # ------------------------------------------------------------------ tokens

    def _token_error(self, token: _Token) -> int | None:
        """Why ``token`` is refused now (an errcode), or None if it works."""
        now = self.clock.now()
        if token.revoked:
            return 40001
        if token.superseded_at is not None:
            grace = self.stable_grace if token.stable else self.token_grace
            if now >= token.superseded_at + timedelta(seconds=grace):
                return 40001  # "… or not latest"
        if token.expired or now >= token.expires_at:
            return 42001
        return None

    def _check_token(self, query: Mapping[str, str]) -> None:
        value = query.get("access_token")
        if not value:
            raise WeChatError(41001)
        with self._lock:
            token = self._tokens.get(value)
            errcode = 40001 if token is None else self._token_error(token)
        if errcode is not None:
            raise WeChatError(errcode)

    def _check_credentials(self, appid: object, secret: object) -> None:
        if not appid:
            raise WeChatError(41002)
        if appid != self.app_id:
            raise WeChatError(40013)
        if not secret:
            raise WeChatError(41004)
        if secret != self.app_secret:
            raise WeChatError(40125)

    def _issue(self, stable: bool) -> _Token:
        """A new token; it supersedes the earlier ones of the same endpoint (call with lock)."""
        now = self.clock.now()
        # Real tokens are ~136 characters of [A-Za-z0-9_-]; the length keeps storage honest.
        value = f"{len(self._tokens) + 86}_{secrets.token_urlsafe(99)}"
        token = _Token(value, stable, now + timedelta(seconds=self.token_ttl))
        for old in self._tokens.values():
            if old.stable == stable and old.superseded_at is None:
                old.superseded_at = now
        self._tokens[value] = token
        if stable:
            self._stable = token
        return token

    def _expires_in(self, token: _Token) -> int:
        # Rounded up: a token fetched just now says 7200, not 7199.
        remaining = (token.expires_at - self.clock.now()).total_seconds()
        return max(0, math.ceil(remaining))

    async def _api_token(self, request: _Request) -> Json:
        query = request.query
        if query.get("grant_type") != "client_credential":
            raise WeChatError(40002)
        self._check_credentials(query.get("appid"), query.get("secret"))
        with self._lock:
            token = self._issue(stable=False)
            return {"access_token": token.value, "expires_in": self._expires_in(token)}

    async def _api_stable_token(self, request: _Request) -> Json:
        body = request.body or {}
        if body.get("grant_type") != "client_credential":
            raise WeChatError(40002)
        self._check_credentials(body.get("appid"), body.get("secret"))
        with self._lock:
            token = self._stable
            if (
                body.get("force_refresh") is True
                or token is None
                or self._token_error(token) is not None
            ):
                token = self._issue(stable=True)
            # expires_in is what is left of the token's life, not always 7200.
            return {"access_token": token.value, "expires_in": self._expires_in(token)}

    # ------------------------------------------------------------------ messages

    @staticmethod
    def _touser(body: Json) -> str:
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            raise WeChatError(40003)
        return touser

    def _check_window(self, openid: str) -> None:
        with self._lock:
            outside = openid in self._outside
        if outside:
            raise WeChatError(45015)

    async def _api_custom_send(self, request: _Request) -> Json:
        body = request.body or {}
        openid = self._touser(body)
        msgtype = body.get("msgtype")
        if msgtype not in CUSTOM_MSGTYPES:
            raise WeChatError(40008)
        content = body.get(msgtype)
        if not isinstance(content, dict):
            raise WeChatError(47001)
        if msgtype == "text":
            text = content.get("content")
            if not isinstance(text, str) or not text:
                raise WeChatError(44004)
            if len(text.encode()) > TEXT_LIMIT:
                raise WeChatError(45002)
        elif msgtype in ("image", "voice", "video"):
            with self._lock:
                known = content.get("media_id") in self.media
            if not known:
                raise WeChatError(40007)
        elif msgtype == "msgmenu":
            items = content.get("list")
            if (
                not isinstance(items, list)
                or not items
                or not all(isinstance(i, dict) and i.get("id") and i.get("content") for i in items)
            ):
                raise WeChatError(47001)
        self._check_window(openid)
        return dict(OK)

    async def _api_custom_typing(self, request: _Request) -> Json:
        body = request.body or {}
        openid = self._touser(body)
        if body.get("command") not in ("Typing", "CancelTyping"):
            raise WeChatError(47001)
        self._check_window(openid)
        return dict(OK)

    def _check_template(self, body: Json) -> None:
        self._touser(body)
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise WeChatError(40037)
        if self.template_ids is not None and template_id not in self.template_ids:
            raise WeChatError(40037)
        data = body.get("data")
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and "value" in v for v in data.values()
        ):
            raise WeChatError(47001)

    async def _api_template_send(self, request: _Request) -> Json:
        # Template messages are not bound to the 48-hour window: that is what they are for.
        self._check_template(request.body or {})
        with self._lock:
            self._next_msgid += 1
            return OK | {"msgid": self._next_msgid}

    async def _api_subscribe_send(self, request: _Request) -> Json:
        self._check_template(request.body or {})
        return dict(OK)

    # ------------------------------------------------------------------ menu

    async def _api_menu_create(self, request: _Request) -> Json:
        buttons = (request.body or {}).get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise WeChatError(40016)
        stored: list[Json] = []
        for button in buttons:
            if not isinstance(button, dict):
                raise WeChatError(40017)
            _check_name(button, limit=16, errcode=40018)
            subs = button.get("sub_button")
            if subs:  # menu/get answers leaves with "sub_button": [], so [] means a leaf
                if not isinstance(subs, list) or len(subs) > 5:
                    raise WeChatError(40023)
                for sub in subs:
                    if not isinstance(sub, dict):
                        raise WeChatError(40024)
                    _check_name(sub, limit=60, errcode=40025)
                    _check_leaf(sub, sub=True)
                children = [_leaf(s) for s in subs]
                stored.append({"name": button["name"], "sub_button": children})
            else:
                _check_leaf(button, sub=False)
                stored.append(_leaf(button))
        with self._lock:
            self._menu = stored
        return dict(OK)

    async def _api_menu_get(self, request: _Request) -> Json:
        menu = self.menu
        if menu is None:
            raise WeChatError(46003)
        return {"menu": {"button": menu}}

    async def _api_menu_delete(self, request: _Request) -> Json:
        with self._lock:
            self._menu = None
        return dict(OK)

    # ------------------------------------------------------------------ media

    def _store_media(self, media_type: str, upload: Upload) -> str:
        media_id = secrets.token_urlsafe(48)  # 64 characters, like WeChat's
        with self._lock:
            self.media[media_id] = Media(media_type, upload, int(time.time()))
        return media_id

    async def _api_media_upload(self, request: _Request) -> Json:
        media_type = request.query.get("type", "")
        if media_type not in MEDIA_RULES:
            raise WeChatError(40004)
        upload = request.upload
        if upload is None or not upload.data:
            raise WeChatError(41005)
        limit, extensions = MEDIA_RULES[media_type]
        # WeChat judges the type by the part's file name: no extension, no upload.
        extension = (upload.filename or "").rpartition(".")[2].lower()
        if "." not in (upload.filename or "") or extension not in extensions:
            raise WeChatError(40005)
        if len(upload.data) > limit:
            raise WeChatError(40006)
        media_id = self._store_media(media_type, upload)
        with self._lock:
            created_at = self.media[media_id].created_at
        key = "thumb_media_id" if media_type == "thumb" else "media_id"
        return {"type": media_type, key: media_id, "created_at": created_at}

    async def _api_media_get(self, request: _Request) -> Json | web.Response:
        with self._lock:
            media = self.media.get(request.query.get("media_id", ""))
        if media is None:
            raise WeChatError(40007)
        filename = media.upload.filename or "media"
        return web.Response(
            body=media.upload.data,
            headers={
                "Content-Type": media.upload.content_type,
                "Content-disposition": f'attachment; filename="{filename}"',
            },
        )


def _normalise(path: str) -> str:
    """``message/custom/send`` → ``/cgi-bin/message/custom/send``; full paths stay."""
    if path.startswith("/"):
        return path
    return f"/{path}" if path.startswith("cgi-bin/") else f"/cgi-bin/{path}"


async def _json_body(request: web.Request) -> Json:
    """The JSON body whatever the Content-Type (WeChat does not look at it)."""
    raw = await request.read()
    if not raw.strip():
        raise WeChatError(44002)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WeChatError(47001) from None
    if not isinstance(body, dict):
        raise WeChatError(47001)
    return body


async def _upload(request: web.Request) -> Upload | None:
    """The ``media`` part of a multipart upload, or None."""
    if not request.content_type.startswith("multipart/"):
        return None
    value = (await request.post()).get("media")
    if not isinstance(value, web.FileField):
        return None
    return Upload(value.filename, value.content_type, value.file.read())


def _check_name(button: Json, *, limit: int, errcode: int) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > limit:
        raise WeChatError(errcode)


def _check_leaf(button: Json, *, sub: bool) -> None:
    """A button that does something: its type and the field that type needs."""
    offset = 7 if sub else 0  # sub-button errors are the button ones + 7 (40017 → 40024 …)
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise WeChatError(40017 + offset)
    if kind in KEY_BUTTONS:
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode()) > 128:
            raise WeChatError(40019 + offset)
    elif kind in ("view", "miniprogram"):
        url = button.get("url")
        if not isinstance(url, str) or not url or len(url.encode()) > 1024:
            raise WeChatError(40020 + offset)
        if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
            raise WeChatError(47001)
    elif kind in ("media_id", "view_limited"):
        if not button.get("media_id"):
            raise WeChatError(40007)
    elif not button.get("article_id"):
        raise WeChatError(47001)


def _leaf(button: Json) -> Json:
    """A leaf button the way menu/get gives it back: with an empty ``sub_button`` list."""
    return {k: v for k, v in button.items() if k != "sub_button"} | {"sub_button": []}


# ====================================================================== WeChat → the bot

Mode = Literal["plain", "compatible", "safe"]
Tamper = Literal["signature", "msg_signature", "aes", "appid", "unsigned"]
"""Ways :meth:`WeChatPlatform.post` can get the request wrong on purpose.

* ``signature``: ``signature`` made with a different token.
* ``msg_signature``: ``msg_signature`` made with a different token (encrypted modes).
* ``aes``: the body encrypted with a different EncodingAESKey (both signatures are right).
* ``appid``: encrypted with the right key for a different AppID (both signatures are right).
* ``unsigned``: no ``signature`` and no ``msg_signature`` at all.
"""
ENCRYPTED_ONLY = frozenset({"msg_signature", "aes", "appid"})


class RejectedReply(Exception):
    """WeChat would refuse the bot's passive reply (the user sees 该公众号暂时无法提供服务)."""


@dataclass(frozen=True)
class Posted:
    """What the bot answered to one post from WeChat.

    Attributes:
        status: The HTTP status, or None when no answer came within the timeout (WeChat would
            then retry).
        body_text: The body as the bot sent it.
        reply: The passive reply as a dict of its XML (decrypted and its MsgSignature checked
            when encrypted); None when the body is empty or ``success``, or the status not 200.
        encrypted: Whether the reply came encrypted.
        query: The query parameters WeChat sent.
    """

    status: int | None
    body_text: str
    reply: Json | None
    encrypted: bool = False
    query: dict[str, str] = field(default_factory=dict)


def new_aes_key() -> str:
    """A fresh 43-character EncodingAESKey, as the Official Account settings page makes."""
    return base64.b64encode(os.urandom(32)).decode()[:-1]


def new_openid() -> str:
    """A random OpenID shaped like WeChat's (28 characters starting with ``o``)."""
    return "o" + secrets.token_urlsafe(21)[:27]


def sign(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's ``signature``: sha1 of token, timestamp and nonce, sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """WeChat's ``msg_signature``: sha1 of token, timestamp, nonce and Encrypt, sorted."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA; close and reopen the section around it.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml(*fields: tuple[str, str | int | None]) -> str:
    """A message in WeChat's layout: strings in CDATA, numbers bare, one element a line."""
    parts = [
        f"<{name}>{value if isinstance(value, int) else _cdata(value)}</{name}>"
        for name, value in fields
        if value is not None
    ]
    return "<xml>" + "\n".join(parts) + "\n</xml>"


def _now(create_time: int | None) -> int:
    return int(time.time()) if create_time is None else create_time


def text_xml(
    openid: str,
    content: str,
    msg_id: int,
    to: str = ACCOUNT,
    create_time: int | None = None,
    bizmsgmenuid: int | str | None = None,
) -> str:
    """A text message from ``openid``; ``bizmsgmenuid`` when it is a tap on a msgmenu item."""
    return _xml(
        ("ToUserName", to), ("FromUserName", openid), ("CreateTime", _now(create_time)),
        ("MsgType", "text"), ("Content", content), ("MsgId", msg_id),
        ("bizmsgmenuid", bizmsgmenuid),
    )  # fmt: skip


def event_xml(
    openid: str,
    event: str,
    event_key: str | None = None,
    create_time: int | None = None,
    *,
    to: str = ACCOUNT,
    ticket: str | None = None,
    menu_id: int | None = None,
) -> str:
    """An event: ``subscribe``, ``unsubscribe``, ``CLICK``, ``VIEW``, ``SCAN`` …

    Args:
        openid: The user.
        event: The Event value, with WeChat's case (``subscribe`` but ``CLICK``).
        event_key: The button key (CLICK), URL (VIEW), scene (SCAN, or ``qrscene_…`` on a
            subscribe by QR code). Subscribe and unsubscribe carry an empty one, as WeChat's do.
        create_time: Seconds since the epoch; now by default.
        to: The Official Account's original ID.
        ticket: The QR code ticket (SCAN, subscribe by QR code).
        menu_id: The MenuId of a VIEW event.
    """
    if event in ("CLICK", "VIEW", "SCAN") and not event_key:
        raise ValueError(f"a {event} event needs an event_key")
    if event_key is None and event in ("subscribe", "unsubscribe"):
        event_key = ""
    return _xml(
        ("ToUserName", to), ("FromUserName", openid), ("CreateTime", _now(create_time)),
        ("MsgType", "event"), ("Event", event), ("EventKey", event_key),
        ("Ticket", ticket), ("MenuId", menu_id),
    )  # fmt: skip


def image_xml(
    openid: str,
    media_id: str,
    pic_url: str,
    msg_id: int,
    to: str = ACCOUNT,
    create_time: int | None = None,
) -> str:
    """A picture from ``openid`` (see :meth:`FakeWeChat.add_media` for a fetchable media_id)."""
    return _xml(
        ("ToUserName", to), ("FromUserName", openid), ("CreateTime", _now(create_time)),
        ("MsgType", "image"), ("PicUrl", pic_url), ("MediaId", media_id), ("MsgId", msg_id),
    )  # fmt: skip


def voice_xml(
    openid: str,
    media_id: str,
    msg_id: int,
    fmt: str = "amr",
    recognition: str | None = None,
    to: str = ACCOUNT,
    create_time: int | None = None,
) -> str:
    """A voice message; ``recognition`` is WeChat's speech-to-text when that is switched on."""
    return _xml(
        ("ToUserName", to), ("FromUserName", openid), ("CreateTime", _now(create_time)),
        ("MsgType", "voice"), ("MediaId", media_id), ("Format", fmt),
        ("Recognition", recognition), ("MsgId", msg_id),
    )  # fmt: skip


def parse_xml(text: str) -> Json:
    """WeChat message XML as a dict: leaves as text, nested elements as dicts, ``item`` as lists."""
    return _element(ET.fromstring(text))


def _element(element: ET.Element) -> Json:
    result: Json = {}
    for child in element:
        value: Any = _element(child) if len(child) else (child.text or "")
        if child.tag == "item":
            result.setdefault("item", []).append(value)
        else:
            result[child.tag] = value
    return result


class WeChatPlatform:
    """WeChat posting to the bot's server URL, signed (and encrypted) exactly as WeChat does.

    Args:
        url: The server URL configured on the Official Account, e.g. ``…/wechat``.
        token: The Token configured beside it.
        app_id: The AppID (part of every encrypted message).
        aes_key: The EncodingAESKey; needed in ``compatible`` and ``safe`` mode.
        mode: ``plain``: XML as is. ``compatible``: the plaintext fields and an ``Encrypt``
            element; the bot may answer in either form. ``safe``: only ``Encrypt``, and the reply
            must be encrypted too.
        timeout: Seconds WeChat waits for the answer (5 on the real platform).
    """

    def __init__(
        self,
        url: str,
        token: str,
        app_id: str,
        aes_key: str | None = None,
        mode: Mode = "plain",
        *,
        timeout: float = 5.0,
    ) -> None:
        if mode not in ("plain", "compatible", "safe"):
            raise ValueError(f"unknown mode {mode!r}")
        if mode != "plain" and aes_key is None:
            raise ValueError(f"{mode} mode needs an aes_key")
        self.url, self.token, self.app_id = url, token, app_id
        self.aes_key, self.mode, self.timeout = aes_key, mode, timeout

    async def post(
        self,
        xml: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
        tamper: Tamper | None = None,
    ) -> Posted:
        """Post one message or event and read the passive reply.

        Args:
            xml: The plaintext message, e.g. from :func:`text_xml`.
            session: A session to post with; a fresh one by default.
            timestamp: The ``timestamp`` parameter; now by default.
            nonce: The ``nonce`` parameter; random digits by default.
            tamper: Get one thing wrong on purpose (see :data:`Tamper`).

        Raises:
            RejectedReply: The bot answered 200 with a reply WeChat would not accept.
        """
        self._check_tamper(tamper)
        body, encrypt = self._envelope(xml, tamper)
        query = self._query(_openid_of(xml), timestamp or _timestamp(), nonce or _nonce(),
                            encrypt, tamper)  # fmt: skip
        return await self._send("POST", query, body, session)

    async def post_retries(
        self,
        xml: str,
        times: int = 3,
        *,
        concurrent: bool = False,
        session: aiohttp.ClientSession | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> list[Posted]:
        """Post one message ``times`` times, as WeChat does when an answer is late.

        Every attempt has the same body (the same ciphertext, the same MsgId) and timestamp;
        each is signed with a nonce of its own, unless ``nonce`` is given: then every attempt
        is the very same request, query and all, as real WeChat retries are.

        Args:
            xml: The plaintext message.
            times: How many deliveries (WeChat makes up to 3).
            concurrent: All at once (the bot is still busy with the first when the next comes)
                instead of one after another.
            session: A session to post with; one shared fresh session by default.
            timestamp: The ``timestamp`` parameter; now by default.
            nonce: The one ``nonce`` of every attempt; one each by default.
        """
        body, encrypt = self._envelope(xml, None)
        openid, timestamp = _openid_of(xml), timestamp or _timestamp()
        queries = [self._query(openid, timestamp, nonce or _nonce(), encrypt, None)
                   for _ in range(times)]  # fmt: skip
        async with contextlib.AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            if concurrent:
                posts = (self._send("POST", q, body, session) for q in queries)
                return list(await asyncio.gather(*posts))
            return [await self._send("POST", q, body, session) for q in queries]

    async def verify_url(
        self,
        echostr: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
        tamper: Literal["signature", "unsigned"] | None = None,
    ) -> Posted:
        """WeChat's check of the server URL: a signed GET that must answer ``echostr`` as is."""
        timestamp, nonce = timestamp or _timestamp(), nonce or _nonce()
        signature = sign(("wrong-" if tamper == "signature" else "") + self.token, timestamp, nonce)
        query = {"signature": signature, "echostr": echostr, "timestamp": timestamp, "nonce": nonce}
        if tamper == "unsigned":
            del query["signature"]
        return await self._send("GET", query, None, session)

    def prepare(
        self, xml: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The signed query and the body WeChat would post for ``xml``, to send by other means."""
        body, encrypt = self._envelope(xml, None)
        query = self._query(_openid_of(xml), timestamp or _timestamp(), nonce or _nonce(),
                            encrypt, None)  # fmt: skip
        return query, body.encode()

    def read_reply(self, text: str) -> Json | None:
        """The passive reply in ``text`` as WeChat reads it (``None`` for ``success``).

        Raises:
            RejectedReply: WeChat would not accept it.
        """
        return self._read_reply(text)[0]

    def _check_tamper(self, tamper: Tamper | None) -> None:
        if tamper is not None and tamper not in ("signature", "unsigned", *ENCRYPTED_ONLY):
            raise ValueError(f"unknown tamper {tamper!r}")
        if tamper in ENCRYPTED_ONLY and self.mode == "plain":
            raise ValueError(f"tamper={tamper!r} needs an encrypted mode")

    def _encrypt(self, text: str, aes_key: str, app_id: str) -> str:
        key = base64.b64decode(aes_key + "=")
        encrypted: bytes = PrpCrypto(key).encrypt(text, app_id)
        return encrypted.decode()

    def _envelope(self, xml: str, tamper: Tamper | None) -> tuple[str, str | None]:
        """The body to post and its Encrypt value (None in plain mode)."""
        if self.mode == "plain":
            return xml, None
        assert self.aes_key is not None
        key = new_aes_key() if tamper == "aes" else self.aes_key
        app_id = "wx0000000000000000" if tamper == "appid" else self.app_id
        encrypt = self._encrypt(xml, key, app_id)
        if self.mode == "compatible":  # plaintext fields with the ciphertext beside them
            end = xml.rindex("</xml>")
            return f"{xml[:end]}<Encrypt>{_cdata(encrypt)}</Encrypt>\n</xml>", encrypt
        to = parse_xml(xml).get("ToUserName", ACCOUNT)
        body = (
            f"<xml>\n    <ToUserName>{_cdata(to)}</ToUserName>\n"
            f"    <Encrypt>{_cdata(encrypt)}</Encrypt>\n</xml>"
        )
        return body, encrypt

    def _query(
        self, openid: str, timestamp: str, nonce: str, encrypt: str | None, tamper: Tamper | None
    ) -> dict[str, str]:
        token = "wrong-" + self.token if tamper == "signature" else self.token
        query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": openid}  # fmt: skip
        if encrypt is not None:
            token = "wrong-" + self.token if tamper == "msg_signature" else self.token
            query |= {"encrypt_type": "aes",
                      "msg_signature": msg_signature(token, timestamp, nonce, encrypt)}  # fmt: skip
        if tamper == "unsigned":
            query.pop("signature")
            query.pop("msg_signature", None)
        return query

    async def _send(
        self,
        method: str,
        query: dict[str, str],
        body: str | None,
        session: aiohttp.ClientSession | None,
    ) -> Posted:
        # WeChat's own request headers; the body is UTF-8 XML.
        headers = {"User-Agent": "Mozilla/4.0", "Accept": "*/*"}
        if body is not None:
            headers["Content-Type"] = "text/xml"
        data = None if body is None else body.encode()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with contextlib.AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            try:
                # WeChat hangs up after its limit whatever the connection is doing; aiohttp's
                # own timeout does not reliably cover a server that is still busy.
                async with (
                    asyncio.timeout(self.timeout),
                    session.request(
                        method, self.url, params=query, data=data, headers=headers, timeout=timeout
                    ) as response,
                ):
                    status, text = response.status, (await response.read()).decode()
            except TimeoutError:
                return Posted(None, "", None, query=query)
        if method == "GET" or status != 200:
            return Posted(status, text, None, query=query)
        reply, encrypted = self._read_reply(text)
        return Posted(status, text, reply, encrypted, query)

    def _read_reply(self, text: str) -> tuple[Json | None, bool]:
        """The passive reply as WeChat would read it; raises :class:`RejectedReply`."""
        if text.strip() in ("", "success"):
            return None, False
        try:
            outer = parse_xml(text)
        except ET.ParseError as error:
            raise RejectedReply(f"the reply is not XML: {text!r}") from error
        encrypted = "Encrypt" in outer
        if encrypted:
            reply = self._decrypt_reply(outer)
        elif self.mode == "safe":
            raise RejectedReply(f"safe mode needs an encrypted reply, got {text!r}")
        else:
            reply = outer
        missing = [k for k in ("ToUserName", "FromUserName", "CreateTime", "MsgType")
                   if not reply.get(k)]  # fmt: skip
        if missing:
            raise RejectedReply(f"the reply lacks {missing}: {reply}")
        return reply, encrypted

    def _decrypt_reply(self, outer: Json) -> Json:
        if self.aes_key is None:
            raise RejectedReply("an encrypted reply in plain mode")
        fields = [outer.get(k) for k in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")]
        if not all(isinstance(f, str) and f for f in fields):
            raise RejectedReply(f"an encrypted reply needs Encrypt, MsgSignature, TimeStamp, "
                                f"Nonce: {outer}")  # fmt: skip
        encrypt, signature, timestamp, nonce = (str(f) for f in fields)
        if msg_signature(self.token, timestamp, nonce, encrypt) != signature:
            raise RejectedReply("the reply's MsgSignature does not match")
        key = base64.b64decode(self.aes_key + "=")
        try:
            plain = PrpCrypto(key).decrypt(encrypt, self.app_id)
        except Exception as error:  # wrong key: bad padding, garbage text or a foreign AppID
            raise RejectedReply(f"the reply does not decrypt: {error!r}") from error
        try:
            return parse_xml(plain)
        except ET.ParseError as error:
            raise RejectedReply(f"the decrypted reply is not XML: {plain!r}") from error


def _timestamp() -> str:
    return str(int(time.time()))


def _nonce() -> str:
    # WeChat's nonces are decimal digits.
    return str(secrets.randbelow(9 * 10**9) + 10**9)


def _openid_of(xml: str) -> str:
    """FromUserName of a message, for the ``openid`` parameter; "" when it does not parse."""
    try:
        return str(parse_xml(xml).get("FromUserName", ""))
    except ET.ParseError:
        return ""
