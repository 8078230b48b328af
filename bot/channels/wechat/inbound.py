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

Customer-service messages are allowed only within 48 hours of the user's last message, a few per
message (:data:`MESSAGE_QUOTA`), or a minute after a menu click, follow or scan
(:data:`EVENT_QUOTA`). The adapter keeps that window per user (:mod:`storage.push_windows`); what
falls outside it is held and goes out the moment the user writes again, and a configured
template message tells them that a reply waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.parsers import expat

from aiohttp import web
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.wechat.api import TOKEN_ERRORS, WeChatApi, WeChatApiError
from bot.clock import SHANGHAI, Clock
from bot.messages import (
    COMMAND_WORDS,
    Attachment,
    Channel,
    IncomingMessage,
    OutgoingMessage,
    Sender,
)
from bot.routing import Dispatcher, InlinePolicy
from bot.sender import Delivered, DeliveryError
from bot.settings import Settings
from bot.texts import texts_for
from storage import Database, nonces, outbox, push_windows
from storage.models import PushWindow, Request

__all__ = [
    "EVENT_QUOTA",
    "MAX_SKEW",
    "MENU",
    "MESSAGE_QUOTA",
    "PASSIVE_BUDGET",
    "WEBHOOK_PATH",
    "WeChatChannel",
    "escape_cdata",
    "inert",
    "split_text",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/wechat"
MAX_BODY = 64 * 1024
"""A WeChat message is a few kilobytes; anything bigger is not from WeChat."""
PASSIVE_BUDGET = 3.0
"""Seconds: an answer ready by then goes back in the response itself."""
RETRY_SIGNAL = 5.5
"""Seconds a request that failed inside the bot is left unanswered, so that WeChat retries it."""
CONTACT_FLUSH = timedelta(milliseconds=500)
"""How often users' contacts are written to their push windows (and held messages released)."""
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
MAX_ENVELOPE_PARTS = 256
"""Tags and CDATA sections the scan for ``Encrypt`` reads before it gives up (WeChat's
envelopes have a few dozen): it runs before anything is authenticated."""
MAX_ELEMENTS = 500
"""Elements a message may have (WeChat's have a few dozen): expat stops at the next one."""
WINDOW = timedelta(hours=48)
MESSAGE_QUOTA = 5
"""Customer-service messages allowed per user message, within :data:`WINDOW`."""
EVENT_WINDOW = timedelta(minutes=1)
EVENT_QUOTA = 3
"""Customer-service messages allowed within a minute of a menu click, follow or scan."""
TEXT_LIMIT = 2000
"""Bytes of UTF-8 per text message (WeChat refuses more than 2,048)."""
_TOGETHER = "\n\n"
"""Between the replies that share one passive reply."""
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
MENU_COMMANDS = {"new": "/new", "tickets": "/tickets", "space": "/space", "cancel": "/cancel"}
MENU_COMMANDS["help"] = "/help"
"""Menu click key → the command it stands for."""

_MEDIA = {"image": "photo", "voice": "voice", "video": "video", "shortvideo": "video"}
_SENDABLE = {"photo": "image", "voice": "voice", "video": "video"}
"""Attachment kind → customer-service ``msgtype`` that sends a WeChat ``media_id`` on."""
_TRUSTED_START = re.compile(rb"\s*<xml[\s>]")
"""How every WeChat body starts (used with ``match``: one pass over the leading blanks)."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_NONCE = re.compile(r"[0-9A-Za-z]{1,64}")
"""WeChat's nonces are decimal digits; a signed one of other characters is refused all the same,
since it goes back into the encrypted reply's XML."""
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_WORD_FOR = {command: word for word, command in reversed(COMMAND_WORDS.items())}
"""Command → the first word that means it (提交工单 for ``new``)."""
_COMMAND = re.compile(rf"/({'|'.join(_WORD_FOR)})\b")
_NUMBERED = re.compile(r"^(\d+)\.\s")
_INERT = str.maketrans({"<": "＜", ">": "＞"})
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""A character XML 1.0 does not allow anywhere, CDATA included."""
_NOTICE_TEXT_LIMIT = 20
"""WeChat's ``thing`` template fields take 20 characters."""


class Unreadable(Exception):
    """The body is not a WeChat message we can read (answered ``success``, logged)."""


class Refused(Exception):
    """The request's signature is bad, stale or malformed (answered 403); says which."""


@dataclass(frozen=True, slots=True)
class _Signed:
    """The ``timestamp`` and ``nonce`` of a request whose ``signature`` is good and fresh."""

    timestamp: str
    nonce: str


@dataclass(frozen=True, slots=True)
class _Allowance:
    event: int
    message: int


class WeChatChannel:
    """Adapter between the Official Account and the dispatcher; the outbox's way to WeChat."""

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
        self.api = (
            WeChatApi(
                settings.wechat_api_url,
                settings.wechat_app_id,
                settings.wechat_app_secret.get_secret_value(),
                clock,
            )
            if settings.wechat_app_id and settings.wechat_app_secret
            else None
        )
        """The outbound API; ``None`` without AppID and AppSecret (passive replies only)."""
        self._messages: dict[str, datetime] = {}
        self._events: dict[str, tuple[datetime, bool]] = {}
        """User → when they last clicked, followed or scanned, and whether it was a follow."""
        """Contacts not yet written to the push windows (see :meth:`run`)."""
        self._notice_template = settings.wechat_notice_template
        self._notice_kind = settings.wechat_notice_kind
        self._notice_fields = settings.wechat_notice_fields

    @property
    def mode(self) -> str:
        """``safe`` (messages encrypted; compatible mode too) or ``plain``, for the log."""
        return "safe" if self._crypto is not None else "plain"

    def register(self, app: web.Application) -> None:
        """Add ``GET`` and ``POST /wechat`` to ``app``."""
        app.router.add_get(WEBHOOK_PATH, self._verify_url)
        app.router.add_post(WEBHOOK_PATH, self._receive)

    async def run(self, stop: asyncio.Event) -> None:
        """Write the users' contacts to their push windows until ``stop``, then once more.

        Written in batches rather than in each message's transaction: a message then costs no
        extra statement, and a crash forgets at most the last :data:`CONTACT_FLUSH` of contacts,
        which only makes a push wait for the user's next message (or WeChat's own refusal
        corrects it). Each batch also releases what was held for those users.
        """
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CONTACT_FLUSH.total_seconds())
            try:
                await self.flush_contacts()
            except Exception:
                log.exception("wechat: writing push windows failed; trying again")

    async def flush_contacts(self) -> None:
        """Write the contacts noted since the last call; release what was held for them."""
        messages, events = self._messages, self._events
        if not messages and not events:
            return
        self._messages, self._events = {}, {}
        channel, now = Channel.WECHAT.value, self._clock.now()
        try:
            async with self._database.transaction() as session:
                await push_windows.note_messages(session, channel, messages, quota=MESSAGE_QUOTA)
                for following in (False, True):
                    await push_windows.note_events(
                        session,
                        channel,
                        {o: at for o, (at, follow) in events.items() if follow is following},
                        quota=EVENT_QUOTA,
                        following=following,
                    )
                released = await outbox.release_held(
                    session, channel, messages.keys() | events.keys(), now
                )
        except BaseException:
            # Put them back (newer notes win) so that the next round writes them.
            self._messages = messages | self._messages
            self._events = events | self._events
            raise
        if released:
            log.info("wechat: %d held message(s) for users who wrote again", released)
            self._wake_sender()

    def _note_contact(
        self, openid: str, at: datetime, *, event: bool, following: bool = False
    ) -> None:
        if event:
            # A click right after a follow must not hide the follow from this batch.
            followed = following or self._events.get(openid, (at, False))[1]
            self._events[openid] = (at, followed)
        else:
            self._messages[openid] = at

    async def stop(self) -> None:
        """Write the contacts of the last requests served; close the API's connections."""
        try:
            await self.flush_contacts()
        except Exception:
            log.exception("wechat: writing the last push windows failed")
        if self.api is not None:
            await self.api.close()

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
        if not _same(_sha1(self._token, timestamp, nonce), query.get("signature", "")):
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
            encrypt = _encrypt_of(body)
            expected = _sha1(self._token, signed.timestamp, signed.nonce, encrypt or "")
            if not _same(expected, query.get("msg_signature", "")):
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
            return _parse(body)
        if encrypt is None:
            raise Unreadable("no Encrypt element")
        try:
            plain = prp.decrypt(encrypt, crypto.app_id)
        except Exception as error:
            # Whatever the cipher library raises, the answer to WeChat is the same.
            name = type(error).__name__
            raise Unreadable(f"cannot decrypt ({name}): check the key") from None
        return _parse(plain.encode() if isinstance(plain, str) else plain)

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
            self._note_contact(openid, received, event=True)
            return None
        if event == "unsubscribe":
            # Written at once, after whatever of this user's is still waiting to be noted.
            self._messages.pop(openid, None)
            self._events.pop(openid, None)
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
        text, choice = "", None
        attachments: tuple[Attachment, ...] = ()
        if kind == "text":
            text = fields.get("Content", "").strip()
            choice = fields.get("bizmsgmenuid") or None
            if choice is not None:
                text = ""
        elif kind in _MEDIA:
            media = fields.get("MediaId") or None
            attachments = (Attachment(_MEDIA[kind], None, None, Channel.WECHAT, media),)
            text = fields.get("Recognition", "").strip()  # voice, when recognition is on
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
        self._note_contact(message.chat_id, message.received_at, event=event, following=following)
        text = passive_text(replies) if replies else None
        if text is None:
            return None
        return self._passive(text, message.chat_id, account)

    def _wake_sender(self) -> None:
        if self._dispatcher.on_queued is not None:
            self._dispatcher.on_queued()

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

    # Outbound --------------------------------------------------------------------------------

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Push ``message`` by customer-service message within WeChat's window (the deliverer).

        Raises:
            DeliveryError: ``hold`` outside the window or over the quota (sent when the user
                writes again), ``final`` once the user unfollowed, plain for trouble that
                passes.
        """
        if message.edit is not None or message.edit_card:
            return Delivered(None)  # no cards on WeChat: nothing to edit
        if self.api is None:
            raise DeliveryError("BOT_WECHAT_APP_ID/BOT_WECHAT_APP_SECRET 未设置，无法主动推送")
        if message.notice:
            return await self._notify(message)
        openid = message.chat_id
        parts = self._custom_messages(message)
        window = await self._window(openid)
        allowance = self._allowance(window, len(parts), message)
        try:
            for part in parts:
                await self.api.send_custom(openid, part)
        except WeChatApiError as error:
            notify = self._should_notify(window, message)
            raise await self._refused(error, openid, notify=notify) from None
        if window is not None:
            async with self._database.transaction() as session:
                await push_windows.spend(
                    session,
                    Channel.WECHAT.value,
                    openid,
                    event=allowance.event,
                    message=allowance.message,
                )
        return Delivered(None)

    async def _window(self, openid: str) -> PushWindow | None:
        async with self._database.sessions() as session:
            return await push_windows.load(session, Channel.WECHAT.value, openid)

    def _allowance(
        self, window: PushWindow | None, needed: int, message: OutgoingMessage
    ) -> _Allowance:
        """How many pushes each window pays for; raises when they cannot go now."""
        if window is None:
            return _Allowance(0, 0)  # never wrote since we kept track: WeChat decides
        if window.unsubscribed_at is not None:
            raise DeliveryError("用户已取消关注公众号", final=True)
        now = self._clock.now()
        event = (
            max(0, window.event_quota)
            if window.event_at is not None and now - window.event_at < EVENT_WINDOW
            else 0
        )
        chat = (
            max(0, window.message_quota)
            if window.message_at is not None and now - window.message_at < WINDOW
            else 0
        )
        if event + chat < needed:
            outside = window.message_at is None or now - window.message_at >= WINDOW
            reason = "超过 48 小时未互动" if outside else "本次互动可推送的条数已用完"
            raise DeliveryError(reason, hold=True, notify=self._should_notify(window, message))
        from_event = min(event, needed)
        return _Allowance(from_event, needed - from_event)

    def _should_notify(self, window: PushWindow | None, message: OutgoingMessage) -> bool:
        """Tell the user by template message, once per silence, about a request's news."""
        if self._notice_template is None or message.request_id is None:
            return False
        if window is None or window.notified_at is None:
            return True
        last = max(t for t in (window.message_at, window.event_at, window.notified_at) if t)
        return window.notified_at < last

    async def _refused(self, error: WeChatApiError, openid: str, *, notify: bool) -> DeliveryError:
        """The delivery error for WeChat's refusal, with the window brought up to date."""
        code, channel = error.code, Channel.WECHAT.value
        if code in (45015, 45047):
            async with self._database.transaction() as session:
                await push_windows.close(session, channel, openid)
            reason = "超过 48 小时未互动" if code == 45015 else "本次互动可推送的条数已用完"
            return DeliveryError(f"{reason}（{code}）", hold=True, notify=notify)
        if code == 43004:
            async with self._database.transaction() as session:
                await push_windows.note_unsubscribed(session, channel, openid, self._clock.now())
            return DeliveryError("用户已取消关注公众号（43004）", final=True)
        if code == 48001:
            return DeliveryError("公众号没有客服消息接口权限（48001）", final=True)
        if code == 45009:
            return DeliveryError("今日接口调用已达上限（45009）", retry_after=timedelta(hours=1))
        if code is None or code == -1 or code in TOKEN_ERRORS or code in (40013, 40125, 40164):
            # Network trouble, WeChat busy, or a configuration an admin can fix: try again.
            return DeliveryError(error.message if code is None else f"{code}: {error.message}")
        return DeliveryError(f"{code}: {error.message}", final=True)

    async def _notify(self, message: OutgoingMessage) -> Delivered:
        """Send the "a reply waits" template message, once per silence."""
        assert self.api is not None
        openid = message.chat_id
        window = await self._window(openid)
        if self._notice_template is None or not self._should_notify(window, message):
            return Delivered(None)
        number = ""
        if message.request_id is not None:
            async with self._database.sessions() as session:
                request = await session.get(Request, message.request_id)
                number = request.number if request is not None else ""
        values = {
            "text": message.text,
            "number": number,
            "time": self._clock.now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        }
        data = {field: _fit(field, values.get(what, what)) for field, what in self._notice_fields}
        try:
            if self._notice_kind == "subscription":
                await self.api.send_subscription(openid, self._notice_template, data)
            else:
                await self.api.send_template(openid, self._notice_template, data)
        except WeChatApiError as error:
            raise await self._refused(error, openid, notify=False) from None
        async with self._database.transaction() as session:
            await push_windows.note_notified(
                session, Channel.WECHAT.value, openid, self._clock.now()
            )
        return Delivered(None)

    def _custom_messages(self, message: OutgoingMessage) -> list[dict[str, Any]]:
        """The message as customer-service calls: its text in parts, then the files it carries."""
        calls: list[dict[str, Any]] = [
            {"msgtype": "text", "text": {"content": part}}
            for part in split_text(render_text(message), TEXT_LIMIT)
        ]
        for attachment in message.attachments:
            msgtype = _SENDABLE.get(attachment.kind)
            if attachment.channel is Channel.WECHAT and attachment.ref and msgtype:
                calls.append({"msgtype": msgtype, msgtype: {"media_id": attachment.ref}})
        return calls


def render_text(message: OutgoingMessage) -> str:
    """The text as WeChat shows it: the source line, then the buttons as tappable menu links.

    Commands are named by their words ("/new" reads “提交工单”), which WeChat users type
    without a keyboard switch. A tapped ``weixin://bizmsgmenu`` link sends its content back
    with ``bizmsgmenuid``, which carries the button's payload. A numbered label ("3. 项目申报…")
    sends just its number, which keeps a long list inside one message and reads as what a user
    would type.

    The bot's buttons are the only markup: WeChat renders ``<a href>`` in a text message, so
    text carrying people's words (a request in a card, a commissioner's reply) could otherwise
    plant a phishing link, or a menu link that makes whoever taps it act on a request. Its
    ``<`` and ``>`` become the full-width ``＜`` and ``＞`` (see :func:`inert`).
    """
    text = _COMMAND.sub(lambda found: f"“{_WORD_FOR[found.group(1)]}”", message.text)
    if message.source:
        text = f"{text}\n\n{texts_for(message.language).source.format(source=message.source)}"
    text = inert(text)
    if message.buttons:
        links = [
            f'<a href="weixin://bizmsgmenu?msgmenucontent={_link_safe(_said(b.label))}'
            f'&msgmenuid={_link_safe(b.payload)}">{inert(b.label)}</a>'
            for b in message.buttons
        ]
        text = "\n".join([text, "", *links])
    return text


def passive_text(replies: Sequence[OutgoingMessage]) -> str | None:
    """The one text a passive reply carrying ``replies`` shows; ``None`` if they do not fit.

    A response carries one message: replies that go back together (welcome and the maker
    spaces, say) share it, within :data:`TEXT_LIMIT`. A reply with a file cannot go back at all.
    """
    if any(reply.attachments for reply in replies):
        return None
    text = _TOGETHER.join(render_text(reply) for reply in replies)
    return text if len(text.encode()) <= TEXT_LIMIT else None


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


def inert(text: str) -> str:
    """``text`` that WeChat shows as written, never as a tag or a link.

    WeChat takes any ``<`` in a text message for the start of a tag (``<80%`` hides the rest of
    the line) and shows entities such as ``&lt;`` literally, so escaping would garble the text;
    the full-width ``＜`` and ``＞`` read the same and mean nothing to it.
    """
    return text.translate(_INERT)


def escape_cdata(text: str) -> str:
    """Make ``text`` safe inside ``<![CDATA[…]]>``.

    A ``]]>`` would end the section early; characters XML does not allow at all (control
    characters, lone surrogates) would make WeChat refuse the whole reply, so they are dropped.
    """
    return _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    parts: list[str] = []
    current = ""
    for whole in text.splitlines(keepends=True):
        line = whole
        while len(line.encode()) > limit:
            cut = _fit_bytes(line, limit)
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [part.rstrip("\n") or part for part in parts]


def _fit_bytes(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-8 bytes."""
    size = 0
    for index, char in enumerate(text):
        size += len(char.encode())
        if size > limit:
            return index
    return len(text)


def _said(label: str) -> str:
    numbered = _NUMBERED.match(label)
    return numbered.group(1) if numbered else label


def _link_safe(value: str) -> str:
    return re.sub(r'[&"<>]', "", value)


def _fit(field: str, value: str) -> str:
    return value[:_NOTICE_TEXT_LIMIT] if field.startswith("thing") else value


def _success() -> web.Response:
    return web.Response(text=SUCCESS)


def _forbidden() -> web.Response:
    return web.Response(status=403, text="forbidden")


def _sha1(*parts: str) -> str:
    """WeChat's signatures: SHA-1 of the parts sorted and joined (hex)."""
    # SHA-1 is WeChat's choice, not ours: the platform signs with it.
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


def _same(expected: str, given: str) -> bool:
    """Whether a signature matches, in time that does not depend on where they differ.

    wechatpy compares with ``!=``, which stops at the first differing character.
    """
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _encrypt_of(body: bytes) -> str | None:
    """The text of the envelope's ``<Encrypt>`` element, or ``None`` if there is not exactly one.

    This runs before ``msg_signature`` is checked, on anything anyone posts, so it is one
    forward scan: each step finds the next ``<``, ``>`` or ``]]>`` from where the last one
    stopped, and nothing is read twice. It knows CDATA sections (in compatible mode a user's
    words could contain ``<Encrypt>``) and stops after :data:`MAX_ENVELOPE_PARTS` parts or at
    anything WeChat never sends (comments, DTDs, processing instructions).
    """
    start = _TRUSTED_START.match(body)
    if start is None:
        return None
    at = body.find(b">", start.end() - 1) + 1  # past <xml …>
    if at == 0:
        return None
    depth = 1
    found: bytes | None = None
    text: list[bytes] | None = None  # inside <Encrypt>: its pieces so far
    for _ in range(MAX_ENVELOPE_PARTS):
        if depth == 0:
            break
        opening = body.find(b"<", at)
        if opening < 0:
            return None
        if text is not None:
            text.append(body[at:opening])
        if body.startswith(b"<![CDATA[", opening):
            closing = body.find(b"]]>", opening + 9)
            if closing < 0:
                return None
            if text is not None:
                text.append(body[opening + 9 : closing])
            at = closing + 3
            continue
        if body.startswith((b"<!", b"<?"), opening):
            return None
        end = body.find(b">", opening + 1)
        if end < 0:
            return None
        tag, at = body[opening + 1 : end], end + 1
        if text is not None:  # the tag after <Encrypt>'s text must close it
            if tag != b"/Encrypt" or found is not None:
                return None
            found, text = b"".join(text), None
            depth -= 1
        elif tag.startswith(b"/"):
            depth -= 1
        elif not tag.endswith(b"/"):
            depth += 1
            if depth == 2 and tag == b"Encrypt":
                text = []
    if depth > 0 or found is None:
        return None
    found = found.strip()
    if not found or found.translate(None, _BASE64):  # anything left is not base64
        return None
    return found.decode("ascii")


def _parse(body: bytes) -> dict[str, str]:
    """The ``<xml>`` message as a flat dict: its children that hold text, by name.

    One pass of expat (linear in the body), refusing what WeChat never sends: a DTD, an entity
    (undeclared ones are expat's own error), a comment, a processing instruction, more than
    :data:`MAX_ELEMENTS` elements. A child with attributes or children of its own, or a name
    that repeats, is left out.

    Raises:
        Unreadable: Anything that is not a plain WeChat XML message.
    """
    if not _TRUSTED_START.match(body):
        raise Unreadable("not a plain <xml> document")
    reader = _FlatReader()
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    for refused in (
        "StartDoctypeDeclHandler",
        "EntityDeclHandler",
        "ExternalEntityRefHandler",
        "CommentHandler",
        "ProcessingInstructionHandler",
    ):
        setattr(parser, refused, _refuse_markup)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise Unreadable(f"XML error: {error}") from None
    return {name: value for name, value in reader.fields.items() if value is not None}


def _refuse_markup(*_: object) -> None:
    raise Unreadable("not a plain <xml> document (a DTD, an entity, a comment or a PI)")


class _FlatReader:
    """Collects the root's text children as expat reports them (see :func:`_parse`)."""

    def __init__(self) -> None:
        self.fields: dict[str, str | None] = {}
        """Name → text; ``None`` for a child that is empty, nested, or not the only one."""
        self._depth = 0
        self._elements = 0
        self._plain = False
        self._text: list[str] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self._elements += 1
        if self._elements > MAX_ELEMENTS:
            # Each element costs a call into Python: stop before they add up.
            raise Unreadable(f"more than {MAX_ELEMENTS} elements")
        self._depth += 1
        if self._depth == 2:
            self._plain, self._text = not attributes, []
        elif self._depth > 2:
            self._plain = False

    def end(self, name: str) -> None:
        if self._depth == 2:
            value = "".join(self._text).strip() if self._plain else ""
            self.fields[name] = None if name in self.fields or not value else value
        self._depth -= 1

    def text(self, data: str) -> None:
        if self._depth == 2:
            self._text.append(data)
