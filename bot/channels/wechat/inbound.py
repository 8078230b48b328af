"""The WeChat Official Account channel (公众号), under WeChat's rules.

WeChat posts each message to ``POST /wechat`` and gives up after 5 seconds: the user then sees
"该公众号暂时无法提供服务" and WeChat posts the same message again, three times in all. So:

* every request's ``signature`` is checked (403 otherwise), and in safe and compatible mode
  its ``msg_signature`` too, before any work on the body: the ``Encrypt`` text it signs is found
  by one bounded forward scan, and only then decrypted and parsed; the reply is encrypted with
  the request's nonce and timestamp;
* a signed ``(timestamp, nonce)`` serves one body (:mod:`storage.nonces`, shared by every
  process): WeChat's own retry, the very same request, is handled as the first was; the pair
  with another body, or a URL check's pair with a message, is a replay and gets 403;
* in plain mode the signature does not cover the body, so no sender is ``verified``;
* an answer ready within :data:`PASSIVE_BUDGET` goes back in the response (a passive reply);
  anything later, and every further message, is answered ``success`` and sent by customer-service
  message through the outbox;
* WeChat only ever sees ``success``, a reply's XML or 403: an unreadable, oversized, entity-laden
  or undecryptable body is answered ``success`` and logged; XML is read by expat in one pass,
  with DTDs, entities, comments and processing instructions refused;
* what people wrote never renders as markup: ``<`` and ``>`` in text reach WeChat as ``＜`` and
  ``＞``, so only the bot's own buttons are links, and every field of a reply is CDATA-safe;
* ``MsgId`` (events: sender, time and event) is the dedup key, so the three retries are one
  message with one answer.

How replies read is :mod:`~bot.channels.wechat.render`'s; pushing them, within the window each
user's messages open, is :mod:`~bot.channels.wechat.push`'s.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.signatures import same, sha1_signature
from bot.channels.wechat import parsing
from bot.channels.wechat.parsing import Unreadable
from bot.channels.wechat.push import WeChatPush
from bot.channels.wechat.render import escape_cdata, passive_text
from bot.clock import Clock
from bot.messages import Attachment, Channel, IncomingMessage, Sender
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import Settings
from storage import Database, nonces, outbox, push_windows

__all__ = [
    "MAX_SKEW",
    "MENU",
    "PASSIVE_BUDGET",
    "WEBHOOK_PATH",
    "WeChatChannel",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/wechat"
MAX_BODY = 64 * 1024
"""A WeChat message is a few kilobytes; anything bigger is not from WeChat."""
PASSIVE_BUDGET = 3.0
"""Seconds: an answer ready by then goes back in the response itself."""
RETRY_SIGNAL = 5.5
"""Seconds a request that failed inside the bot is left unanswered, so that WeChat retries it."""
MAX_SKEW = timedelta(seconds=60)
"""How far a request's signed timestamp may be from our clock.

WeChat's three tries of a message come within about 15 seconds, all with the first one's
timestamp; the rest is room for clock drift, which NTP keeps far under a second. Nonces are
remembered for this long (:mod:`storage.nonces`; older ones may be forgotten): the shorter it
is, the fewer rows, and the less time a signed query that never reached the bot (lost on the
way, refused while the database was down) stays usable by whoever read it in a log.
"""
URL_CHECK = "GET"
"""What a URL check's ``(timestamp, nonce)`` is remembered with, instead of a body's digest."""
SUCCESS = "success"

MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "提交工单", "key": "new"},
        {"type": "click", "name": "我的工单", "key": "tickets"},
        {
            "name": "更多",
            "sub_button": [
                {"type": "click", "name": "选择众创空间", "key": "space"},
                {"type": "click", "name": "取消当前操作", "key": "cancel"},
                {"type": "click", "name": "使用帮助", "key": "help"},
            ],
        },
    ]
}
"""The account's custom menu (``python -m bot wechat menu`` prints or pushes it)."""
MENU_COMMANDS = {
    "new": "/new",
    "tickets": "/tickets",
    "space": "/space",
    "cancel": "/cancel",
    "help": "/help",
}
"""Menu click key → the command it stands for."""

_MEDIA = {"image": "photo", "voice": "voice", "video": "video", "shortvideo": "video"}
_SPOKEN_STOPS = "。.！!．"
"""What a transcription may end a sentence with, stripped from its end (see :func:`_recognised`)."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
"""WeChat's nonces are decimal digits; a signed one of other characters is refused all the same,
since it goes back into the encrypted reply's XML."""


class Refused(Exception):
    """The request's signature is bad, stale or malformed (answered 403); says which."""


@dataclass(frozen=True, slots=True)
class _Signed:
    """The ``timestamp`` and ``nonce`` of a request whose ``signature`` is good and fresh."""

    timestamp: str
    nonce: str


class WeChatChannel:
    """Adapter between the Official Account and the dispatcher; :attr:`push` delivers."""

    def __init__(
        self, settings: Settings, dispatcher: Dispatcher, clock: Clock, database: Database
    ) -> None:
        """Prepare the channel from the ``BOT_WECHAT_*`` settings.

        Raises:
            ValueError: ``settings`` has no WeChat token.
        """
        if settings.wechat_token is None:
            raise ValueError("BOT_WECHAT_TOKEN is not set")
        self._token = settings.wechat_token.get_secret_value()
        self._dispatcher = dispatcher
        self._clock = clock
        self._database = database
        self._nonces = nonces.NonceMemory(database)
        aes_key = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        if aes_key and not settings.wechat_app_id:
            raise ValueError("safe mode (BOT_WECHAT_AES_KEY) needs BOT_WECHAT_APP_ID too")
        self._crypto = (
            WeChatCrypto(self._token, aes_key, settings.wechat_app_id or "") if aes_key else None
        )
        self._prp = PrpCrypto(self._crypto.key) if self._crypto is not None else None
        """Decrypts a message once its ``msg_signature`` passed our own check (wechatpy's
        ``decrypt_message`` would check it again, comparing with ``!=``)."""
        self.push = WeChatPush(settings, clock, database, self._wake_sender)
        """Customer-service messages and notices: the outbox's way to WeChat."""

    @property
    def mode(self) -> str:
        """``safe`` (messages encrypted; compatible mode too) or ``plain``, for the log."""
        return "safe" if self._crypto is not None else "plain"

    def register(self, app: web.Application) -> None:
        """Add ``GET`` and ``POST /wechat`` to ``app``."""
        app.router.add_get(WEBHOOK_PATH, self._verify_url)
        app.router.add_post(WEBHOOK_PATH, self._receive)

    async def run(self, stop: asyncio.Event) -> None:
        """Write the users' contacts to their push windows until ``stop`` (:class:`WeChatPush`)."""
        await self.push.run(stop)

    async def flush_contacts(self) -> None:
        """Write the contacts noted since the last call; release what was held for them."""
        await self.push.flush_contacts()

    async def stop(self) -> None:
        """Write the contacts of the last requests served; close the API's connections."""
        await self.push.close()

    def _wake_sender(self) -> None:
        if self._dispatcher.on_queued is not None:
            self._dispatcher.on_queued()

    # Inbound ---------------------------------------------------------------------------------

    def _authenticate(self, query: Mapping[str, str]) -> _Signed:
        """The request's timestamp and nonce, if WeChat signed them, and recently.

        The signature covers the timestamp and nonce only (in plain mode not the body): what
        keeps a signed query from carrying another body is :meth:`_first_use`, for as long as
        the timestamp is within :data:`MAX_SKEW` of our clock.

        Raises:
            Refused: The signature is missing, wrong or stale, or the query malformed.
        """
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce):
            raise Refused("no well-formed timestamp and nonce")
        if not same(sha1_signature(self._token, timestamp, nonce), query.get("signature", "")):
            raise Refused("a bad signature")
        behind = self._clock.now().timestamp() - int(timestamp)
        if abs(behind) > MAX_SKEW.total_seconds():
            side = "behind" if behind > 0 else "ahead of"
            raise Refused(
                f"a stale signature (its timestamp {abs(behind):.0f} s {side} our clock, "
                f"{MAX_SKEW.total_seconds():.0f} s allowed: is the server's clock right?)"
            )
        return _Signed(timestamp, nonce)

    async def _first_use(self, signed: _Signed, digest: str) -> bool:
        """Whether ``signed`` comes for the first time, or again with the same ``digest``.

        A short transaction of its own, before any work on the message, shared with the
        requests that arrive meanwhile (:class:`storage.nonces.NonceMemory`): a replay must be
        refused before anything is parsed or stored, and the dispatcher's transaction, which
        would save the statement, starts only once the message is read (events such as an
        unfollow have none at all). Committed at once, it also lets WeChat's retry, arriving
        while the first try is still being handled, through to the ``MsgId`` check, which
        answers it.
        """
        return await self._nonces.first_use(int(signed.timestamp), signed.nonce, digest)

    async def _verify_url(self, request: web.Request) -> web.Response:
        """WeChat's server-URL check: echo ``echostr`` back if the signature is ours."""
        try:
            signed = self._authenticate(request.query)
        except Refused as refused:
            log.warning("wechat: refused a URL check with %s", refused)
            return _forbidden()
        try:
            first = await self._first_use(signed, URL_CHECK)
        except Exception:
            log.exception("wechat: could not note a URL check's nonce")
            return web.Response(status=503, text="unavailable")
        if not first:
            log.warning("wechat: refused a URL check whose timestamp and nonce were used before")
            return _forbidden()
        return web.Response(text=request.query.get("echostr", ""))

    async def _receive(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            signed = self._authenticate(query)
        except Refused as refused:
            log.warning("wechat: refused a message with %s", refused)
            return _forbidden()
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge as problem:
            log.warning("wechat: ignored a body of %d bytes or more", problem.size)
            return _success()
        except BodyIncomplete as problem:
            # Never "success" for a message not read whole: WeChat must send it again.
            log.warning("wechat: message not read whole (%s)", problem)
            return web.Response(status=400, text="incomplete body")
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if encrypted != (self._crypto is not None):
            log.warning(
                "wechat: ignored an unreadable message: %s",
                "an encrypted message but no BOT_WECHAT_AES_KEY"
                if encrypted
                else "a plain message while BOT_WECHAT_AES_KEY asks for safe mode",
            )
            return _success()
        encrypt = None
        if encrypted:
            # Before anything else reads the body: a forged one costs one linear scan.
            encrypt = parsing.encrypt_of(body)
            expected = sha1_signature(self._token, signed.timestamp, signed.nonce, encrypt or "")
            if not same(expected, query.get("msg_signature", "")):
                log.warning("wechat: refused a message whose msg_signature does not match")
                return _forbidden()
        started = asyncio.get_running_loop().time()
        try:
            if not await self._first_use(signed, hashlib.sha256(body).hexdigest()):
                # Not logged: the body, which may be anyone's words; the query is WeChat's.
                log.warning(
                    "wechat: refused a message whose timestamp and nonce came before with "
                    "another body (a replayed signature)"
                )
                return _forbidden()
            try:
                fields = self._open(body, encrypt)
            except Unreadable as problem:
                log.warning("wechat: ignored an unreadable message: %s", problem)
                return _success()
            reply = await self._answer(fields)
        except Exception:
            # Left unanswered past WeChat's limit, the message comes again (three tries in
            # all); answering would tell WeChat it was handled, and it would be lost.
            log.exception("wechat: handling a message failed; letting WeChat retry it")
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, RETRY_SIGNAL - elapsed))
            return _success()
        if reply is None:
            return _success()
        if encrypted:
            assert self._crypto is not None
            reply = self._crypto.encrypt_message(reply, signed.nonce, signed.timestamp)
        return web.Response(text=reply, content_type="application/xml")

    def _open(self, body: bytes, encrypt: str | None) -> dict[str, str]:
        """The message's fields, decrypted in safe mode (its ``msg_signature`` already checked).

        Raises:
            Unreadable: Not a WeChat message, or not one this configuration can decrypt.
        """
        crypto, prp = self._crypto, self._prp
        if crypto is None or prp is None:
            return parsing.parse(body)
        if encrypt is None:
            raise Unreadable("no Encrypt element")
        try:
            plain = prp.decrypt(encrypt, crypto.app_id)
        except Exception as error:
            # Whatever the cipher library raises, the answer to WeChat is the same.
            name = type(error).__name__
            raise Unreadable(f"cannot decrypt ({name}): check the key") from None
        return parsing.parse(plain.encode() if isinstance(plain, str) else plain)

    async def _answer(self, fields: dict[str, str]) -> str | None:
        """Handle the message; its passive reply's XML, or ``None`` to answer ``success``."""
        openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
        kind = fields.get("MsgType", "").lower()
        if not openid or not kind:
            log.warning("wechat: ignored a message without sender or type")
            return None
        if kind == "event":
            return await self._event(fields, openid, account)
        message = self._incoming(fields, openid, kind)
        if message is None:
            log.info("wechat: ignored a %s message", kind)
            return None
        return await self._handle(message, account, event=False)

    async def _event(self, fields: dict[str, str], openid: str, account: str) -> str | None:
        event = fields.get("Event", "").lower()
        key = f"wechat:{openid}:{fields.get('CreateTime', '')}:{event}"
        received = self._clock.now()
        if event in ("subscribe", "click"):
            clicked = MENU_COMMANDS.get(fields.get("EventKey", ""))
            text = "/start" if event == "subscribe" else clicked
            if text is None:
                log.info("wechat: ignored a click on unknown menu key %r", fields.get("EventKey"))
                return None
            message = IncomingMessage(self._sender(openid), openid, text, key, received)
            return await self._handle(message, account, event=True, following=event == "subscribe")
        if event == "scan":
            self.push.note_contact(openid, received, event=True)
            return None
        if event == "unsubscribe":
            # Written at once, after whatever of this user's is still waiting to be noted.
            self.push.forget(openid)
            async with self._database.transaction() as session:
                if await outbox.claim_inbound(session, key, received):
                    await push_windows.note_unsubscribed(
                        session, Channel.WECHAT.value, openid, received
                    )
            log.info("wechat: a user unfollowed the account")
            return None
        log.debug("wechat: ignored a %s event", event)
        return None

    def _sender(self, openid: str) -> Sender:
        # In plain mode the signature does not cover the body: FromUserName is only a claim.
        return Sender(Channel.WECHAT, openid, verified=self._crypto is not None)

    def _incoming(self, fields: dict[str, str], openid: str, kind: str) -> IncomingMessage | None:
        msg_id = fields.get("MsgId")
        if not msg_id:
            return None
        text, choice, spoken = "", None, False
        attachments: tuple[Attachment, ...] = ()
        if kind == "text":
            text = fields.get("Content", "").strip()
            choice = fields.get("bizmsgmenuid") or None
            if choice is not None:
                text = ""
        elif kind == "voice" and (words := _recognised(fields)):
            # Speech recognition is on: the words are the message, as if typed. The audio
            # is left behind: the group would only be told to ask for what it can read.
            text, spoken = words, True
        elif kind in _MEDIA:
            media = fields.get("MediaId") or None
            attachments = (Attachment(_MEDIA[kind], None, None, Channel.WECHAT, media),)
        elif kind == "file":
            name = fields.get("Title") or None
            attachments = (Attachment("document", name, None, Channel.WECHAT, None),)
        elif kind == "location":
            text = fields.get("Label", "").strip()
        elif kind == "link":
            text = f"{fields.get('Title', '')} {fields.get('Url', '')}".strip()
        else:
            return None
        return IncomingMessage(
            sender=self._sender(openid),
            chat_id=openid,
            text=text,
            key=f"wechat:{msg_id}",
            received_at=self._clock.now(),
            choice=choice,
            attachments=attachments,
            message_id=msg_id,
            spoken=spoken,
        )

    async def _handle(
        self, message: IncomingMessage, account: str, *, event: bool, following: bool = False
    ) -> str | None:
        """Run the message; its passive reply if one was ready in time, else ``None``."""
        # Awaited to the end, however long it takes: answering before the message is stored
        # could lose it. If this outlasts WeChat's 5 seconds, WeChat posts it again; the retry
        # waits for this transaction, then finds the key and answers with what was handed back.
        replies = await self._dispatcher.handle(message, inline=_passive_reply())
        # Only once the message is stored: a failed one (WeChat retries it) changes nothing.
        self.push.note_contact(
            message.chat_id, message.received_at, event=event, following=following
        )
        text = passive_text(replies) if replies else None
        if text is None:
            return None
        return self._passive(text, message.chat_id, account)

    def _passive(self, text: str, openid: str, account: str) -> str:
        """``text`` as WeChat's passive reply XML, every field safe inside its CDATA section.

        The addresses come from the request's body, which in plain mode anyone may write.
        """
        reply = TextReply(
            source=escape_cdata(account),
            target=escape_cdata(openid),
            content=escape_cdata(text),
            time=int(self._clock.now().timestamp()),
        )
        return str(reply.render())


def _recognised(fields: Mapping[str, str]) -> str:
    """The words of a voice message, as WeChat's speech recognition heard them (or ``""``).

    The transcription closes a sentence with a full stop, which nobody types after a command
    word or an answer (帮助。, 跳过。); a question mark is kept, since it tells a new question.
    """
    return fields.get("Recognition", "").strip().rstrip(_SPOKEN_STOPS).strip()


def _passive_reply() -> InlinePolicy:
    """What one passive reply carries: the first replies that fit one text, within the budget.

    A response carries one message, so the replies that fit go in it together (welcome and
    the maker spaces, say); from the first that does not, the rest go by customer-service
    message. Decided before the message commits, so no reply is stored as handed back that the
    response then cannot carry.
    """
    return InlinePolicy(
        deadline=asyncio.get_running_loop().time() + PASSIVE_BUDGET,
        fits=lambda replies: passive_text(replies) is not None,
    )


def _success() -> web.Response:
    return web.Response(text=SUCCESS)


def _forbidden() -> web.Response:
    return web.Response(status=403, text="forbidden")
