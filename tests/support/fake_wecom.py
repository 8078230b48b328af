"""A fake WeCom (企业微信) self-built app on 127.0.0.1, for tests that drive the real bot.

Two halves, neither of which touches the Internet:

* :class:`FakeWeCom` stands in for ``https://qyapi.weixin.qq.com``: ``gettoken``,
  ``message/send``, ``message/update_template_card``, ``media/upload`` and ``media/get``. It
  answers as WeCom does (HTTP 200, ``{"errcode": N, "errmsg": …}``), hands out the same token
  until it expires, and records every call (:class:`~tests.support.fake_wechat.Call`).
* :class:`WeComPlatform` is WeCom's side of the callback: it encrypts and signs a message
  (:func:`text_xml`, :func:`card_event_xml`) and posts it to the bot's ``/wecom``, and checks
  the URL as WeCom does. Its crypto (:class:`MsgCrypt`) is written here from WeCom's
  description, not taken from wechatpy, so that the tests hold the bot's use of wechatpy
  against a second implementation (and both against the documentation's worked example).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import struct
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.clock import Clock, SystemClock
from tests.support.fake_platform import FakePlatform, outbox_id
from tests.support.fake_wechat import Call, Upload

__all__ = [
    "GETTOKEN",
    "MEDIA_GET",
    "MEDIA_UPLOAD",
    "MESSAGE_SEND",
    "UPDATE_CARD",
    "Callback",
    "FakeWeCom",
    "MsgCrypt",
    "WeComPlatform",
    "card_event_xml",
    "image_xml",
    "new_aes_key",
    "text_xml",
]

Json = dict[str, Any]

GETTOKEN = "/cgi-bin/gettoken"
MESSAGE_SEND = "/cgi-bin/message/send"
UPDATE_CARD = "/cgi-bin/message/update_template_card"
MEDIA_UPLOAD = "/cgi-bin/media/upload"
MEDIA_GET = "/cgi-bin/media/get"

MSGTYPES = frozenset({"text", "image", "voice", "video", "file", "textcard", "news", "markdown",
                      "template_card"})  # fmt: skip
MEDIA_LIMITS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}
"""Bytes a temporary file of each type may have (WeCom's upload rules; at least 5 bytes)."""
RESPONSE_CODE_LIFE = timedelta(hours=72)
SPENT_CODE = 40058
"""What the fake answers for a ``response_code`` it never issued, or one used or too old: WeCom's
"invalid parameter". WeCom's own code for that case is not in the documentation we found."""


class _Error(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.body = {"errcode": errcode, "errmsg": f"{errmsg}, hint: [{secrets.token_hex(6)}]"}


@dataclass
class _Token:
    value: str
    expires_at: float  # the fake's clock, in seconds
    expired: bool = False


class FakeWeCom(FakePlatform[Call]):
    """An in-process ``qyapi.weixin.qq.com`` for one app; see the module docstring.

    Args:
        corp_id: The CorpID ``gettoken`` accepts.
        secret: The app's Secret.
        agent_id: The app's AgentId, which every message must name.
        members: The UserIDs in the app's visible range; ``None``: everyone.
        clock: Decides when tokens and response codes expire (the bot's ``ManualClock``).
    """

    api_name = "WeCom API"
    thread_name = "fake-wecom"

    def __init__(
        self,
        corp_id: str = "ww0000000000000001",
        secret: str = "wecom-secret",
        agent_id: int = 1000002,
        *,
        members: set[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.members = members
        self.clock: Clock = clock or SystemClock()
        self.token_fetches = 0
        self.media: dict[str, Upload] = {}
        self._token: _Token | None = None
        self._codes: dict[str, float] = {}  # response_code → when issued (unused ones)
        self._failures: list[tuple[str, int, str]] = []

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and set :attr:`root`."""
        app = web.Application(client_max_size=32 << 20)
        app.router.add_route("*", "/{path:.*}", self._handle)
        await self._serve(app)
        return self

    # ------------------------------------------------------------------ inspection, scripting

    def sent(self, touser: str | None = None) -> list[Json]:
        """Bodies of the app messages WeCom accepted, to ``touser`` if given."""
        with self._lock:
            calls = [c for c in self.calls if c.path == MESSAGE_SEND and c.ok]
        return [c.body or {} for c in calls if touser is None or c.touser == touser]

    def texts(self, touser: str) -> list[str]:
        """The texts WeCom accepted for ``touser``."""
        return [m["text"]["content"] for m in self.sent(touser) if m.get("msgtype") == "text"]

    def cards(self, touser: str) -> list[Json]:
        """The template cards WeCom accepted for ``touser``, oldest first."""
        sent = self.sent(touser)
        return [m["template_card"] for m in sent if m.get("msgtype") == "template_card"]

    def updates(self, userid: str | None = None) -> list[Json]:
        """Bodies of the card updates WeCom accepted, for ``userid``'s copy if given."""
        with self._lock:
            calls = [c for c in self.calls if c.path == UPDATE_CARD and c.ok]
        bodies = [c.body or {} for c in calls]
        return [b for b in bodies if userid is None or userid in b.get("userids", [])]

    def press_code(self) -> str:
        """A response code as WeCom puts in a ``template_card_event``: good for one update."""
        return self._issue_code()

    def fail_next(self, path: str, errcode: int, errmsg: str = "scripted failure") -> None:
        """Make the next call of ``path`` answer ``errcode`` (after its token is checked)."""
        with self._lock:
            self._failures.append((path, errcode, errmsg))

    def expire_token(self) -> None:
        """The token handed out so far answers 42001 (access_token expired) from now on."""
        with self._lock:
            if self._token is not None:
                self._token.expired = True

    def add_media(self, data: bytes, filename: str, content_type: str) -> str:
        """Keep a file as if a member had sent it; its ``media_id``."""
        media_id = secrets.token_urlsafe(36)
        with self._lock:
            self.media[media_id] = Upload(filename, content_type, data)
        return media_id

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, query = request.path, dict(request.query)
        body: Json | None = None
        upload: Upload | None = None
        status, answer, binary = 200, None, None
        try:
            if request.method == "POST" and request.content_type.startswith("multipart/"):
                upload = await _upload(request)
            elif request.method == "POST":
                body = _json(await request.read())
            if path == GETTOKEN:
                answer = self._gettoken(query)
            else:
                self._check_token(query)
                self._scripted(path)
                if path == MESSAGE_SEND:
                    answer = self._send(body or {})
                elif path == UPDATE_CARD:
                    answer = self._update_card(body or {})
                elif path == MEDIA_UPLOAD:
                    answer = self._upload_media(query.get("type", ""), upload)
                elif path == MEDIA_GET:
                    binary = self._media_get(query.get("media_id", ""))
                else:
                    status = 404
        except _Error as error:
            answer = error.body
        call = Call(path, query, body, time.monotonic(), answer, status, upload, outbox_id(request))
        with self._lock:
            self.calls.append(call)
        self._notify()
        if status == 404:
            return web.Response(status=404, text="404 Not Found")
        if binary is not None:
            headers = {"Content-Disposition": f'attachment; filename="{binary.filename}"'}
            return web.Response(body=binary.data, content_type=binary.content_type, headers=headers)
        return web.json_response(answer, dumps=lambda value: json.dumps(value, ensure_ascii=False))

    def _scripted(self, path: str) -> None:
        with self._lock:
            for failure in self._failures:
                if failure[0] == path:
                    self._failures.remove(failure)
                    raise _Error(failure[1], failure[2])

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _gettoken(self, query: dict[str, str]) -> Json:
        with self._lock:
            self.token_fetches += 1
        if query.get("corpid") != self.corp_id:
            raise _Error(40013, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            raise _Error(40001, "invalid credential")
        with self._lock:
            token = self._token
            # Within its validity WeCom hands every caller the same token.
            if token is None or token.expired or token.expires_at <= self._now():
                token = _Token(secrets.token_urlsafe(96), self._now() + 7200)
                self._token = token
            left = round(token.expires_at - self._now())
        return {"errcode": 0, "errmsg": "ok", "access_token": token.value, "expires_in": left}

    def _check_token(self, query: dict[str, str]) -> None:
        value = query.get("access_token")
        if not value:
            raise _Error(41001, "access_token missing")
        with self._lock:
            token = self._token
        if token is None or token.value != value:
            raise _Error(40014, "invalid access_token")
        if token.expired or token.expires_at <= self._now():
            raise _Error(42001, "access_token expired")

    def _issue_code(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = self._now()
        return code

    def _send(self, body: Json) -> Json:
        if body.get("agentid") != self.agent_id:
            raise _Error(40056, "invalid agentid")
        msgtype = body.get("msgtype")
        if msgtype not in MSGTYPES or not isinstance(body.get(msgtype), dict):
            raise _Error(40008, "invalid message type")
        if msgtype in ("text", "markdown"):
            content = body[msgtype].get("content")
            if not isinstance(content, str) or not content:
                raise _Error(44004, "empty content")
            if len(content.encode()) > 2048:
                raise _Error(45002, "content size out of limit")
        if msgtype == "template_card":
            _check_card(body[msgtype])
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u for u in users if self.members is not None and u not in self.members]
        if not users or len(invalid) == len(users):
            raise _Error(81013, "user & party & tag all invalid")
        answer: Json = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
                        "msgid": secrets.token_urlsafe(24)}  # fmt: skip
        if msgtype == "template_card":
            answer["response_code"] = self._issue_code()
        return answer

    def _update_card(self, body: Json) -> Json:
        if body.get("agentid") != self.agent_id:
            raise _Error(40056, "invalid agentid")
        code = str(body.get("response_code", ""))
        with self._lock:
            issued = self._codes.pop(code, None)  # a code serves one update
        if issued is None or self._now() - issued > RESPONSE_CODE_LIFE.total_seconds():
            raise _Error(SPENT_CODE, "invalid parameter: response_code")
        if not isinstance(body.get("button"), dict) and not isinstance(
            body.get("template_card"), dict
        ):
            raise _Error(40058, "invalid parameter: button or template_card")
        if isinstance(body.get("template_card"), dict):
            _check_card(body["template_card"])
        return {"errcode": 0, "errmsg": "ok"}

    def _upload_media(self, kind: str, upload: Upload | None) -> Json:
        if kind not in MEDIA_LIMITS:
            raise _Error(40004, "invalid media type")
        if upload is None or len(upload.data) < 5:
            raise _Error(41005, "media data missing")
        if len(upload.data) > MEDIA_LIMITS[kind]:
            raise _Error(40006, "invalid media size")
        media_id = self.add_media(upload.data, upload.filename or "file", upload.content_type)
        return {"errcode": 0, "errmsg": "", "type": kind, "media_id": media_id,
                "created_at": str(int(self._now()))}  # fmt: skip

    def _media_get(self, media_id: str) -> Upload:
        with self._lock:
            media = self.media.get(media_id)
        if media is None:
            raise _Error(40007, "invalid media_id")
        return media


_TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")


def _check_card(card: Json) -> None:
    """A ``button_interaction`` card as WeCom takes it: a title, a task id, 1 to 6 buttons."""
    if card.get("card_type") != "button_interaction":
        return  # the other card types are not the bot's
    title = card.get("main_title", {}).get("title")
    buttons = card.get("button_list")
    if not isinstance(title, str) or not title:
        raise _Error(40058, "invalid parameter: main_title")
    if not isinstance(card.get("task_id"), str) or not _TASK_ID.fullmatch(card["task_id"]):
        raise _Error(40058, "invalid parameter: task_id")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
        raise _Error(40058, "invalid parameter: button_list")
    for button in buttons:
        key = button.get("key") if isinstance(button, dict) else None
        if not isinstance(key, str) or not key or len(key.encode()) > 1024:
            raise _Error(40058, "invalid parameter: button key")
    for row in card.get("horizontal_content_list", []):
        if len(row.get("keyname", "")) > 5 or not row.get("value"):
            raise _Error(40058, "invalid parameter: horizontal_content_list")


def _json(raw: bytes) -> Json:
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Error(47001, "data format error") from None
    if not isinstance(body, dict):
        raise _Error(47001, "data format error")
    return body


async def _upload(request: web.Request) -> Upload | None:
    value = (await request.post()).get("media")
    if not isinstance(value, web.FileField):
        return None
    return Upload(value.filename, value.content_type, value.file.read())


# ====================================================================== WeCom → the bot


class MsgCrypt:
    """WeCom's message crypto (WXBizMsgCrypt), from its description.

    AES-256-CBC with the key ``base64(EncodingAESKey + "=")`` and its first 16 bytes as IV;
    the plain text is 16 random bytes, the message's length (4 bytes, network order), the
    message and the CorpID, padded PKCS#7 to a multiple of 32 bytes. ``msg_signature`` is the
    SHA-1 of the token, timestamp, nonce and ciphertext, sorted and joined.
    """

    def __init__(self, token: str, aes_key: str, corp_id: str) -> None:
        self.token, self.corp_id = token, corp_id
        self.key = base64.b64decode(aes_key + "=")
        assert len(self.key) == 32

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        joined = "".join(sorted([self.token, timestamp, nonce, encrypted]))
        return hashlib.sha1(joined.encode()).hexdigest()

    def encrypt(self, text: str, corp_id: str | None = None, random: bytes | None = None) -> str:
        message = text.encode()
        plain = (random or os.urandom(16)) + struct.pack(">I", len(message)) + message
        plain += (corp_id if corp_id is not None else self.corp_id).encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> tuple[str, str]:
        """The message and the CorpID it was encrypted for."""
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def new_aes_key() -> str:
    """A fresh 43-character EncodingAESKey, as the app's callback settings make."""
    return base64.b64encode(os.urandom(32)).decode()[:-1]


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(corp_id: str, userid: str, content: str, msg_id: int, agent_id: int = 1000002) -> str:
    """A member's text message to the app, as WeCom encrypts it."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{_cdata(userid)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType>{_cdata('text')}</MsgType><Content>{_cdata(content)}</Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


def image_xml(
    corp_id: str, userid: str, media_id: str, msg_id: int, agent_id: int = 1000002
) -> str:
    """A member's picture to the app, as WeCom documents it (``PicUrl`` and ``MediaId``).

    Use a ``media_id`` from :meth:`FakeWeCom.add_media`, so that ``media/get`` serves it.
    """
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{_cdata(userid)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType>{_cdata('image')}</MsgType>"
        f"<PicUrl>{_cdata('https://wework.qpic.cn/wwpic/' + media_id[:12])}</PicUrl>"
        f"<MediaId>{_cdata(media_id)}</MediaId><MsgId>{msg_id}</MsgId>"
        f"<AgentID>{agent_id}</AgentID></xml>"
    )


def card_event_xml(
    corp_id: str, userid: str, key: str, task_id: str, response_code: str, create_time: int
) -> str:
    """A member's press of a button of a ``button_interaction`` template card."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{_cdata(userid)}</FromUserName><CreateTime>{create_time}</CreateTime>"
        f"<MsgType>{_cdata('event')}</MsgType><Event>{_cdata('template_card_event')}</Event>"
        f"<EventKey>{_cdata(key)}</EventKey><TaskId>{_cdata(task_id)}</TaskId>"
        f"<CardType>{_cdata('button_interaction')}</CardType>"
        f"<ResponseCode>{_cdata(response_code)}</ResponseCode><AgentID>1000002</AgentID></xml>"
    )


@dataclass(frozen=True)
class Callback:
    """What the bot answered to one callback: status, body, and the query WeCom sent."""

    status: int
    text: str
    query: dict[str, str] = field(default_factory=dict)


class WeComPlatform:
    """WeCom calling the bot's callback URL, encrypted and signed exactly as WeCom does."""

    def __init__(self, url: str, crypt: MsgCrypt, agent_id: int = 1000002) -> None:
        self.url, self.crypt, self.agent_id = url, crypt, agent_id

    def envelope(self, xml: str) -> tuple[str, str]:
        """The body WeCom posts for ``xml``, and its ``Encrypt`` text."""
        encrypted = self.crypt.encrypt(xml)
        body = (
            f"<xml><ToUserName>{_cdata(self.crypt.corp_id)}</ToUserName>"
            f"<AgentID>{_cdata(str(self.agent_id))}</AgentID>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        )
        return body, encrypted

    def query(self, timestamp: str, nonce: str, signed: str) -> dict[str, str]:
        """The query WeCom signs ``signed`` (the ``Encrypt`` text or ``echostr``) with."""
        signature = self.crypt.signature(timestamp, nonce, signed)
        return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}

    async def post(self, xml: str, timestamp: str, nonce: str) -> Callback:
        """Post ``xml`` encrypted and signed; what the bot answered."""
        body, encrypted = self.envelope(xml)
        return await self.send("POST", self.query(timestamp, nonce, encrypted), body.encode())

    async def verify_url(self, echo: str, timestamp: str, nonce: str) -> Callback:
        """WeCom's URL check: ``echo`` encrypted as ``echostr``; the bot must answer ``echo``."""
        echostr = self.crypt.encrypt(echo)
        return await self.send("GET", {**self.query(timestamp, nonce, echostr), "echostr": echostr})

    async def send(self, method: str, query: dict[str, str], body: bytes | None = None) -> Callback:
        """A request as anyone could make it."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url, params=query, data=body) as response,
        ):
            return Callback(response.status, await response.text(), query)
