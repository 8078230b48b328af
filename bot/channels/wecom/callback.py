"""The WeCom (企业微信) self-built app's callback URL ``/wecom``, under WeCom's rules.

WeCom checks the URL with a signed ``GET`` whose ``echostr`` is encrypted: the answer is the
decrypted text, as is. Every message and event then comes as a signed, encrypted ``POST``.
WeCom waits 5 seconds for an answer and posts again (three tries in all) after a timeout or any
status but 200; an empty 200 means "received". So:

* ``msg_signature`` (SHA-1 over the token, timestamp, nonce and the ``Encrypt`` text or
  ``echostr``) is checked in constant time before any work on the body beyond the one bounded
  scan that finds ``Encrypt`` (:func:`bot.channels.wechat.parsing.encrypt_of`): 403 if wrong,
  missing or stale;
* a signed ``(timestamp, nonce)`` serves one body (:mod:`storage.nonces`, scope ``wecom``,
  shared by every process): WeCom's own retry is handled as the first try was; the pair with
  another body is a replay and gets 403;
* a body that is malformed, oversized, not read whole or not decryptable with our key is
  answered 400 and logged; the message is never acknowledged unread;
* the message is stored with its replies (``MsgId``; an event by sender, time, event and key)
  before the empty 200 goes back: a retry finds the key and changes nothing, and a failure
  answers 503 so that WeCom tries again;
* replies never go in the response: they leave through the outbox as app messages
  (:mod:`~bot.channels.wecom.push`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from wechatpy.enterprise.crypto import PrpCrypto

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.signatures import same, sha1_signature
from bot.channels.wechat import parsing
from bot.channels.wechat.inbound import MAX_SKEW
from bot.channels.wechat.parsing import Unreadable
from bot.channels.wecom import cards
from bot.channels.wecom.api import WeComApi
from bot.channels.wecom.media import WeComFiles
from bot.channels.wecom.push import WeComPush
from bot.clock import Clock
from bot.messages import Attachment, Channel, IncomingMessage, Sender
from bot.routing import Dispatcher
from bot.settings import Settings
from storage import Database, nonces, wecom_cards

__all__ = ["CALLBACK_PATH", "MAX_BODY", "WeComChannel"]

log = logging.getLogger(__name__)

CALLBACK_PATH = "/wecom"
MAX_BODY = 64 * 1024
"""A WeCom callback is a few kilobytes; anything bigger is not from WeCom."""
URL_CHECK = "GET"
"""What a URL check's ``(timestamp, nonce)`` is remembered with, instead of a body's digest."""
SCOPE = Channel.WECOM.value
"""The nonce memory's scope for WeCom's pairs. They are kept as long as WeChat's (and pruned
with them): :data:`~bot.channels.wechat.inbound.MAX_SKEW` is this channel's window too."""
CARD_EVENT = "template_card_event"
FILE_KINDS = {"image": "photo"}
"""A member's messages that carry a file, as the attachment kinds the desk names them.

WeCom documents six kinds of message to an app (企业内部开发 › 接收消息与事件 › 消息格式):
text, image, voice, video, location and link. There is no file message: a document a member
sends the app does not reach it as one. An image's ``MediaId`` is the file's reference, good
for three days (:class:`~bot.channels.wecom.media.WeComFiles` fetches it with ``media/get``);
its ``PicUrl`` is not used, and it has no name or size."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
_SIGNATURE = re.compile(r"[0-9a-f]{40}")


class _Refusal(Exception):
    """Why a request is not handled; :attr:`status` is the answer."""

    status = 400


class _Malformed(_Refusal):
    """The request is not one WeCom sends (answered 400); says why."""


class _Refused(_Refusal):
    """The request's signature is missing, bad or stale (answered 403); says which."""

    status = 403


@dataclass(frozen=True, slots=True)
class _Signed:
    """A request's well-formed ``timestamp``, ``nonce`` and ``msg_signature``, fresh."""

    timestamp: str
    nonce: str
    signature: str


class WeComChannel:
    """Adapter between the WeCom app and the dispatcher; :attr:`push` delivers."""

    def __init__(
        self, settings: Settings, dispatcher: Dispatcher, clock: Clock, database: Database
    ) -> None:
        """Prepare the channel from the ``BOT_WECOM_*`` settings.

        Raises:
            ValueError: ``settings`` does not configure WeCom.
        """
        corp_id, agent_id = settings.wecom_corp_id, settings.wecom_agent_id
        secret, token, aes_key = settings.wecom_secret, settings.wecom_token, settings.wecom_aes_key
        if corp_id is None or agent_id is None or secret is None or token is None or not aes_key:
            raise ValueError("the BOT_WECOM_* settings are not all set")
        self._corp_id = corp_id
        self._token = token.get_secret_value()
        self._prp = PrpCrypto(base64.b64decode(aes_key.get_secret_value() + "="))
        self._dispatcher = dispatcher
        self._clock = clock
        self._database = database
        self._nonces = nonces.NonceMemory(database, SCOPE)
        api = WeComApi(settings.wecom_api_url, corp_id, secret.get_secret_value(), agent_id, clock)
        self.files = WeComFiles(api, clock)
        """Fetches members' files for other channels, and sends files carried to them."""
        self.push = WeComPush(api, database, clock, self.files)
        """App messages: the outbox's way to WeCom members."""

    def register(self, app: web.Application) -> None:
        """Add ``GET`` and ``POST /wecom`` to ``app``."""
        app.router.add_get(CALLBACK_PATH, self._verify_url)
        app.router.add_post(CALLBACK_PATH, self._receive)

    async def stop(self) -> None:
        """Close the API's connections."""
        await self.push.close()

    # The URL check ----------------------------------------------------------------------------

    async def _verify_url(self, request: web.Request) -> web.Response:
        """WeCom's check of the callback URL: answer the decrypted ``echostr`` if it is signed."""
        # A "+" sent bare reads as a space in a query; base64 has no spaces, so it was a "+".
        echostr = request.query.get("echostr", "").replace(" ", "+")
        try:
            signed = self._signed_query(request.query)
            self._check(signed, echostr)
            plain = self._decrypt(echostr)
        except _Refusal as refusal:
            return _refuse("a URL check", refusal)
        if not await self._first_use(signed, URL_CHECK):
            reused = _Refused("a timestamp and nonce used before")
            return _refuse("a URL check", reused)
        return web.Response(text=plain)

    # Messages and events ----------------------------------------------------------------------

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            # Before the body is read: an unsigned or stale request costs nothing more.
            signed = self._signed_query(request.query)
        except _Refusal as refusal:
            return _refuse("a callback", refusal)
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge as problem:
            log.warning("wecom: refused a body of %d bytes or more", problem.size)
            return web.Response(status=413, text="too large")
        except BodyIncomplete as problem:
            return _refuse("a callback", _Malformed(f"not read whole ({problem})"))
        # Before anything else reads the body: a forged one costs one linear scan.
        encrypt = parsing.encrypt_of(body)
        try:
            if encrypt is None:
                raise _Malformed("no single base64 Encrypt element in an <xml> envelope")
            self._check(signed, encrypt)
        except _Refusal as refusal:
            return _refuse("a callback", refusal)
        if not await self._first_use(signed, hashlib.sha256(body).hexdigest()):
            # Not logged: the body, which may be anyone's words; the query is WeCom's.
            replayed = _Refused("a timestamp and nonce that came before with another body")
            return _refuse("a callback", replayed)
        try:
            fields = parsing.parse(self._decrypt(encrypt).encode())
        except Unreadable as problem:
            return _refuse("a callback", _Malformed(str(problem)))
        except _Refusal as refusal:
            return _refuse("a callback", refusal)
        try:
            await self._handle(fields)
        except Exception:
            # Anything but 200 makes WeCom post it again (three tries in all); answering 200
            # would tell WeCom it was handled, and it would be lost.
            log.exception("wecom: handling a callback failed; letting WeCom retry it")
            return web.Response(status=503, text="retry")
        return web.Response(text="")

    def _signed_query(self, query: Mapping[str, str]) -> _Signed:
        """The request's signature parts, well formed and fresh (not yet checked).

        Raises:
            _Malformed: The timestamp or nonce is missing or not as WeCom writes them.
            _Refused: The signature is missing or malformed, or the timestamp stale.
        """
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        signature = query.get("msg_signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
            raise _Malformed("no well-formed timestamp and nonce")
        if not _SIGNATURE.fullmatch(signature):
            raise _Refused("no well-formed msg_signature")
        behind = self._clock.now().timestamp() - int(timestamp)
        if abs(behind) > MAX_SKEW.total_seconds():
            side = "behind" if behind > 0 else "ahead of"
            raise _Refused(
                f"a stale signature (its timestamp {abs(behind):.0f} s {side} our clock, "
                f"{MAX_SKEW.total_seconds():.0f} s allowed: is the server's clock right?)"
            )
        return _Signed(timestamp, nonce, signature)

    def _check(self, signed: _Signed, signed_text: str) -> None:
        """Whether WeCom signed ``signed_text`` (the ``Encrypt`` text or ``echostr``).

        Raises:
            _Refused: It did not.
        """
        expected = sha1_signature(self._token, signed.timestamp, signed.nonce, signed_text)
        if not same(expected, signed.signature):
            raise _Refused("a bad msg_signature")

    async def _first_use(self, signed: _Signed, digest: str) -> bool:
        """Whether ``signed`` comes for the first time, or again with the same ``digest``.

        Its own short transaction, before any work on the message (see
        :meth:`bot.channels.wechat.inbound.WeChatChannel._first_use`).
        """
        return await self._nonces.first_use(int(signed.timestamp), signed.nonce, digest)

    def _decrypt(self, encrypted: str) -> str:
        """``encrypted`` opened with our key, checked to be for our CorpID.

        Raises:
            _Malformed: It does not open with our key or is for another enterprise.
        """
        try:
            plain = self._prp.decrypt(encrypted, self._corp_id)
        except Exception as error:
            # Whatever the cipher library raises, the answer to WeCom is the same.
            name = type(error).__name__
            raise _Malformed(f"cannot decrypt ({name}): check BOT_WECOM_AES_KEY") from None
        return str(plain)

    async def _handle(self, fields: Mapping[str, str]) -> None:
        """Hand a text, a photo or file, or a card press to the dispatcher; ignore the rest."""
        member, kind = fields.get("FromUserName", ""), fields.get("MsgType", "").lower()
        if not member or not kind:
            log.warning("wecom: ignored a callback without sender or type")
            return
        received = self._clock.now()
        sender = Sender(Channel.WECOM, member)
        if kind == "text" and fields.get("MsgId"):
            msg_id = fields["MsgId"]
            text = fields.get("Content", "").strip()
            message = IncomingMessage(
                sender, member, text, f"wecom:{msg_id}", received, message_id=msg_id
            )
        elif kind in FILE_KINDS and fields.get("MsgId") and fields.get("MediaId"):
            msg_id = fields["MsgId"]
            attachment = Attachment(FILE_KINDS[kind], channel=Channel.WECOM, ref=fields["MediaId"])
            message = IncomingMessage(
                sender, member, "", f"wecom:{msg_id}", received, attachments=(attachment,),
                message_id=msg_id,
            )  # fmt: skip
        elif kind == "event" and fields.get("Event") == CARD_EVENT and fields.get("EventKey"):
            # WeCom's advice: an event is one by its sender and time; the card and the button
            # keep two presses within one second apart.
            key = ":".join(
                ("wecom", member, fields.get("CreateTime", ""), fields.get("TaskId", ""))
            )
            message = IncomingMessage(
                sender, member, "", f"{key}:{fields['EventKey']}", received,
                choice=fields["EventKey"],
            )  # fmt: skip
            await self._keep_code(member, fields)
        else:
            log.info("wecom: ignored a %s callback", fields.get("Event") or kind)
            return
        # Awaited to the end: the empty 200 may go back only once the message is stored.
        await self._dispatcher.handle(message)

    async def _keep_code(self, member: str, fields: Mapping[str, str]) -> None:
        """Keep a press's response code: the member's card is redrawn with it, not sent anew.

        Kept before the press is handled, in a transaction of its own, so the redraw the press
        causes finds it; WeCom's retry of the press keeps it once.
        """
        request_id = cards.request_of_task(fields.get("TaskId", ""))
        code = fields.get("ResponseCode", "")
        if request_id is None or not code:
            return
        async with self._database.transaction() as session:
            await wecom_cards.keep(
                session, code, userid=member, request_id=request_id, at=self._clock.now()
            )


def _refuse(what: str, refusal: _Refusal) -> web.Response:
    """Log why ``what`` was refused, and answer it: 400 malformed, 403 forged or replayed."""
    log.warning("wecom: refused %s: %s", what, refusal)
    return web.Response(status=refusal.status, text="forbidden" if refusal.status == 403 else "bad")
