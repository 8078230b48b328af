"""Pushes to WeChat users: customer-service messages within WeChat's window, and the notices.

Customer-service messages are allowed only within 48 hours of the user's last message, a few per
message (:data:`MESSAGE_QUOTA`), or a minute after a menu click, follow or scan
(:data:`EVENT_QUOTA`). :class:`WeChatPush` keeps that window per user (:mod:`storage.push_windows`)
from the contacts the inbound side notes; what falls outside it is held and goes out the moment
the user writes again, and a configured template (or subscription) message tells them that a
reply waits. WeChat's refusals keep the window true where the bot's count was wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.token_api import TooBig
from bot.channels.wechat.api import TOKEN_ERRORS, WeChatApi, WeChatApiError
from bot.channels.wechat.render import TEXT_LIMIT, render_text, split_text
from bot.clock import SHANGHAI, Clock
from bot.delivery import Delivered, DeliveryError
from bot.files import Fetched, FileRefused, SourceError, upload_as
from bot.messages import Attachment, Channel, OutgoingMessage
from bot.settings import Settings
from storage import Database, outbox, push_windows
from storage.models import PushWindow, Request

__all__ = [
    "CONTACT_FLUSH",
    "EVENT_QUOTA",
    "EVENT_WINDOW",
    "MESSAGE_QUOTA",
    "WINDOW",
    "WeChatPush",
]

log = logging.getLogger(__name__)

CONTACT_FLUSH = timedelta(milliseconds=500)
"""How often users' contacts are written to their push windows (and held messages released)."""
WINDOW = timedelta(hours=48)
MESSAGE_QUOTA = 5
"""Customer-service messages allowed per user message, within :data:`WINDOW`."""
EVENT_WINDOW = timedelta(minutes=1)
EVENT_QUOTA = 3
"""Customer-service messages allowed within a minute of a menu click, follow or scan."""

_SENDABLE = {"photo": "image", "voice": "voice", "video": "video"}
"""Attachment kind → customer-service ``msgtype`` that sends a WeChat ``media_id`` on."""
_NOTICE_TEXT_LIMIT = 20
"""WeChat's ``thing`` template fields take 20 characters."""
_OUTSIDE = "超过 48 小时未互动"
_SPENT = "本次互动可推送的条数已用完"


@dataclass(frozen=True, slots=True)
class _Allowance:
    """How many pushes the event window and the message window each pay for."""

    event: int
    message: int


class WeChatPush:
    """The outbox's way to WeChat users (the :class:`~bot.delivery.Deliverer`) and their windows."""

    def __init__(
        self, settings: Settings, clock: Clock, database: Database, wake: Callable[[], None]
    ) -> None:
        """Prepare the pushes from the ``BOT_WECHAT_*`` settings.

        Args:
            settings: AppID and AppSecret (without them only passive replies go out), the
                notice template.
            clock: Decides which window is open.
            database: Where the push windows are kept.
            wake: Tells the outbox sender that held messages are due again.
        """
        self._clock = clock
        self._database = database
        self._wake = wake
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
        """User → when they last wrote; contacts not yet written to the push windows (see
        :meth:`run`)."""
        self._events: dict[str, tuple[datetime, bool]] = {}
        """User → when they last clicked, followed or scanned, and whether it was a follow."""
        self._notice_template = settings.wechat_notice_template
        self._notice_kind = settings.wechat_notice_kind
        self._notice_fields = settings.wechat_notice_fields

    # Contacts --------------------------------------------------------------------------------

    def note_contact(
        self, openid: str, at: datetime, *, event: bool, following: bool = False
    ) -> None:
        """``openid`` wrote (or, with ``event``, clicked, followed or scanned) at ``at``."""
        if event:
            # A click right after a follow must not hide the follow from this batch.
            followed = following or self._events.get(openid, (at, False))[1]
            self._events[openid] = (at, followed)
        else:
            self._messages[openid] = at

    def forget(self, openid: str) -> None:
        """Drop the contacts of ``openid`` not yet written (the user unfollowed)."""
        self._messages.pop(openid, None)
        self._events.pop(openid, None)

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
            self._wake()

    async def close(self) -> None:
        """Write the contacts of the last requests served; close the API's connections."""
        try:
            await self.flush_contacts()
        except Exception:
            log.exception("wechat: writing the last push windows failed")
        if self.api is not None:
            await self.api.close()

    # Delivery --------------------------------------------------------------------------------

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Push ``message`` by customer-service message within WeChat's window.

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
        parts = _custom_messages(message)
        files = _uploads(message)
        window = await self._window(openid)
        allowance = self._allowance(window, len(parts) + len(files), message)
        try:
            for file in files:
                parts.append(await self._uploaded(file))
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

    async def _uploaded(self, file: Attachment) -> dict[str, Any]:
        """The customer-service call that shows ``file``, uploaded as temporary media."""
        assert self.api is not None
        assert file.content is not None
        media_id = await self.api.upload_media(
            "image", file.name or "photo.jpg", file.content, file.media_type or "image/jpeg"
        )
        return {"msgtype": "image", "image": {"media_id": media_id}}

    async def fetch_file(self, ref: str, limit: int) -> Fetched:
        """The temporary file a user sent, by its ``media_id`` (kept 3 days by WeChat).

        Raises:
            FileRefused: It is bigger than ``limit`` bytes.
            SourceError: ``final`` when WeChat no longer has it; plain for trouble that passes.
        """
        if self.api is None:
            raise SourceError("BOT_WECHAT_APP_ID/BOT_WECHAT_APP_SECRET 未设置，无法取回文件")
        try:
            data, name = await self.api.download_media(ref, limit)
        except TooBig:
            raise FileRefused("too_big") from None
        except WeChatApiError as error:
            code = error.code
            passing = code is None or code in (-1, 45009) or code in TOKEN_ERRORS
            raise SourceError(f"WeChat: {error}", final=not passing) from None
        return Fetched(data, name)

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
            reason = _OUTSIDE if outside else _SPENT
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
            reason = _OUTSIDE if code == 45015 else _SPENT
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


def _custom_messages(message: OutgoingMessage) -> list[dict[str, Any]]:
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


def _uploads(message: OutgoingMessage) -> list[Attachment]:
    """The files carried from another channel that WeChat takes as an image (bot.files.limits).

    The sender sends the others as a link; a report the bot made has no media type here and
    is not sent on WeChat (it asks for it in the console).
    """
    return [
        a
        for a in message.attachments
        if a.content is not None
        and upload_as(Channel.WECHAT, a.kind, a.media_type or "", len(a.content)) == "image"
    ]


def _fit(field: str, value: str) -> str:
    return value[:_NOTICE_TEXT_LIMIT] if field.startswith("thing") else value
