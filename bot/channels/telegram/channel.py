"""The Telegram channel: entrepreneurs in private chat, commissioners in their duty group.

Built on python-telegram-bot's Bot API client (nothing else in the code base imports
``telegram``). Updates arrive by long polling when no public address is configured, or on
``POST /telegram`` with Telegram's secret-token header; either way each becomes an
:class:`~bot.messages.IncomingMessage` keyed by its ``update_id``, so a redelivered update is
handled once. Of several processes sharing a database, one at a time polls (see
:meth:`TelegramChannel.poll`). Replies leave through the outbox: :meth:`TelegramChannel.deliver`
is the outbox sender's way to push them, with Telegram's errors sorted into "later", "wait as
told" and "never".

In a group the bot hears every message (privacy mode off), but answers only what is meant for
it: commands, replies to its own messages (request cards) and ``#2026-0001 …``. The rest is the
group's own conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram import Message as TelegramMessage
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot import logs
from bot.channels.bodies import BodyIncomplete, BodyTooLarge, read_body
from bot.channels.json_codec import json_response, loads
from bot.channels.telegram.render import rendered
from bot.channels.telegram.updates import Received, read_update
from bot.clock import Clock
from bot.delivery import Delivered, DeliveryError, outbox_headers
from bot.files import Fetched, FileRefused, SourceError, upload_as
from bot.messages import (
    Channel,
    OutgoingMessage,
)
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import Settings
from storage.database import UNAVAILABLE, Lease

__all__ = ["SECRET_HEADER", "WEBHOOK_PATH", "TelegramChannel", "TelegramUnavailable"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Opt in to python-telegram-bot's coming behaviour: ``RetryAfter.retry_after`` as a timedelta,
# without the deprecation warning the old integer form raises on every read.
os.environ.setdefault("PTB_TIMEDELTA", "1")

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_UPDATE = 256 * 1024
"""An update is a few kilobytes; anything bigger is not from Telegram."""
POLL_TIMEOUT = 25
"""Seconds one ``getUpdates`` long poll waits for news."""
POLLER_LOCK = "telegram poller"
"""The database lock that elects the one process that polls (:meth:`TelegramChannel.poll`)."""
ALLOWED_UPDATES = ("message", "callback_query")
CAPTION_LIMIT = 1024
"""Telegram's longest caption; a longer text goes as its own message before the files."""


class TelegramUnavailable(Exception):
    """Telegram refused the token or could not be reached at start-up (message in Chinese)."""


class TelegramChannel:
    """Adapter between the Bot API and the dispatcher, and the outbox's way out to Telegram."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher, clock: Clock) -> None:
        """Prepare the client; nothing is called until :meth:`start`.

        Raises:
            ValueError: ``settings`` has no Telegram token.
        """
        if settings.telegram_token is None:
            raise ValueError("BOT_TELEGRAM_TOKEN is not set")
        token = settings.telegram_token.get_secret_value()
        root = settings.telegram_api_url
        self._dispatcher = dispatcher
        self._clock = clock
        self._root = root
        self._webhook_url = settings.telegram_webhook_url
        secret = settings.telegram_webhook_secret
        # Telegram allows A-Z, a-z, 0-9, _ and -: a hex digest of the token qualifies and needs
        # no extra setting, while never revealing the token itself.
        self._secret = (
            secret.get_secret_value()
            if secret
            else hashlib.sha256(f"makerdesk-webhook:{token}".encode()).hexdigest()[:48]
        )
        logs.register_secret(self._secret)  # derived here, so only known here
        self._bot: Bot = ExtBot(
            token,
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(
                connection_pool_size=32,
                read_timeout=10,
                write_timeout=10,
                # Each call names the outbox row it delivers (hooks run in the caller's task).
                httpx_kwargs={"event_hooks": {"request": [_name_outbox_row]}},
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=1, read_timeout=POLL_TIMEOUT + 10
            ),
            rate_limiter=AIORateLimiter(max_retries=0),
        )
        self._bot_id: int | None = None
        self._spinners: set[asyncio.Task[None]] = set()
        """Calls that stop a button's spinner, running beside the webhook's answer."""

    @property
    def webhook(self) -> bool:
        """Whether updates come by webhook (a public address is configured) or polling."""
        return self._webhook_url is not None

    async def start(self) -> None:
        """Introduce ourselves (``getMe``) and tell Telegram how updates should arrive.

        Raises:
            TelegramUnavailable: The token is refused or the Bot API does not answer.
        """
        try:
            await self._bot.initialize()
            await self._choose_delivery()
        except InvalidToken:
            raise TelegramUnavailable(
                f"Telegram 拒绝了 BOT_TELEGRAM_TOKEN（{self._root}）：请向 @BotFather 核对令牌。"
            ) from None
        except TelegramError as error:
            raise TelegramUnavailable(
                f"连不上 Telegram Bot API（{self._root}）：{error.message}"
            ) from None
        self._bot_id = self._bot.id

    async def _choose_delivery(self) -> None:
        if self._webhook_url:
            await self._bot.set_webhook(
                f"{self._webhook_url}{WEBHOOK_PATH}",
                secret_token=self._secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("telegram: webhook at %s%s", self._webhook_url, WEBHOOK_PATH)
        else:
            # A webhook left over from an earlier setup would make every poll fail.
            await self._bot.delete_webhook()
            log.info("telegram: long polling as @%s", self._bot.username)

    async def stop(self) -> None:
        """Close the HTTP connections (after the spinners still being stopped)."""
        await asyncio.gather(*self._spinners, return_exceptions=True)
        with contextlib.suppress(TelegramError):
            await self._bot.shutdown()

    def register(self, app: web.Application) -> None:
        """Add the webhook route to ``app``."""
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def poll(self, stop: asyncio.Event) -> None:
        """Fetch updates until ``stop`` is set, whenever this process is elected to poll.

        Telegram serves one ``getUpdates`` at a time and ends the older with 409 Conflict, so
        of the processes sharing the database only the holder of :data:`POLLER_LOCK` polls;
        the others stand by, and one of them takes over when the holder stops or dies. A
        holder whose lock connection is lost (a database restart) stops polling and stands
        for election again, rather than go on beside the next holder. On SQLite, whose file
        one process uses, that process polls at once.
        """
        database = self._dispatcher.services.database
        while not stop.is_set():
            async with contextlib.AsyncExitStack() as held:
                election = database.leadership(POLLER_LOCK, on_wait=_standing_by)
                lease = await _unless(held.enter_async_context(election), stop.wait())
                if lease is None:
                    return
                log.info("telegram: this process polls")
                await self._poll_while(lease, stop)
                if not stop.is_set():
                    log.warning("telegram: lost the poller lock (database connection); re-electing")

    async def _poll_while(self, lease: Lease, stop: asyncio.Event) -> None:
        """Poll while ``lease`` holds and ``stop`` is not set; an update is confirmed once handled.

        ``getUpdates`` with ``offset`` confirms every update before it, so a crash (or a lost
        lease) before an update is handled gets it again to whoever polls next, and the dedup
        key makes the second handling a no-op. A stop or a lost lease cuts a long poll short:
        Telegram keeps what it would have returned for the next poll.
        """
        offset: int | None = None
        failures = 0
        while not stop.is_set() and await lease.held():
            try:
                updates = await _unless(
                    self._bot.get_updates(
                        offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                    ),
                    stop.wait(),
                    lease.lost(),
                )
                failures = 0
            except (Conflict, InvalidToken) as error:
                log.error("telegram: polling refused: %s", error)
                failures += 1
            except TelegramError as error:
                log.warning("telegram: polling failed: %s", error)
                failures += 1
            else:
                try:
                    # Handled to the end even if ``stop`` comes meanwhile: the batch is in hand.
                    for update in updates or ():
                        await self._handle(update)
                        offset = update.update_id + 1
                except UNAVAILABLE as error:
                    # Not confirmed: the next poll gets this update again, once the database
                    # (down, stalled, its disk full) takes it.
                    log.warning(
                        "telegram: database unavailable (%s); the update waits for the next poll",
                        type(error).__name__,
                    )
                    failures += 1
                else:
                    continue
            wait = min(60.0, 0.5 * 2**failures)
            await _unless(asyncio.sleep(wait), stop.wait(), lease.lost())

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        """Send ``message`` to its chat, or replace the card it edits (the outbox's deliverer).

        Raises:
            DeliveryError: ``retry_after`` when Telegram says to wait, ``final`` when the chat
                is gone or the bot was blocked, plain for network trouble.
        """
        text, markup = rendered(message)
        try:
            if message.edit is not None:
                return await self._edit(message.chat_id, message.edit, text, markup)
            reply = (
                ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
                if message.reply_to and message.reply_to.isdigit()
                else None
            )
            sent = await self._send(message, text, markup, reply)
        except RetryAfter as error:
            raise DeliveryError(
                "429 Too Many Requests", retry_after=_seconds(error.retry_after)
            ) from None
        except (Forbidden, BadRequest) as error:
            raise DeliveryError(error.message, final=True) from None
        except TelegramError as error:
            raise DeliveryError(error.message) from None
        return Delivered(str(sent.message_id))

    async def _send(
        self,
        message: OutgoingMessage,
        text: str,
        markup: InlineKeyboardMarkup | None,
        reply: ReplyParameters | None,
    ) -> TelegramMessage:
        """The text, with the files attached to it (the text as the first file's caption).

        Files are sent on by their ``file_id``, or uploaded when the bot made them (reports).
        """
        files = [
            a
            for a in message.attachments
            if a.content is not None or (a.channel is Channel.TELEGRAM and a.ref)
        ]
        chat = message.chat_id
        if not files:
            return await self._bot.send_message(
                chat, text, reply_markup=markup, reply_parameters=reply
            )
        sent: TelegramMessage | None = None
        if len(text) > CAPTION_LIMIT:
            sent = await self._bot.send_message(chat, text, reply_parameters=reply)
            text = ""
        for n, file in enumerate(files):
            caption = text if n == 0 and text else None
            last = n == len(files) - 1
            what: InputFile | str | None = file.ref
            send = _MEDIA_SENDERS.get(file.kind, _MEDIA_SENDERS["document"])
            if file.content is not None:
                # Bytes the bot made or carried from another channel: uploaded, as a photo
                # where Telegram shows it as one (bot.files.limits), else as a document.
                what = InputFile(file.content, filename=file.name)
                way = upload_as(
                    Channel.TELEGRAM, file.kind, file.media_type or "", len(file.content)
                )
                send = _MEDIA_SENDERS["photo" if way == "sendPhoto" else "document"]
            sent = await send(
                self._bot,
                chat,
                what,
                caption=caption,
                reply_markup=markup if last else None,
                reply_parameters=reply,
            )
        assert sent is not None
        return sent

    async def fetch_file(self, ref: str, limit: int) -> Fetched:
        """The file a Telegram ``file_id`` names (``getFile``, then its download).

        Raises:
            FileRefused: Telegram says it is bigger than ``limit`` bytes.
            SourceError: ``final`` when Telegram refuses the id or the file (over the Bot API's
                20 MB download limit); plain for network trouble.
        """
        try:
            found = await self._bot.get_file(ref)
            if found.file_size is not None and found.file_size > limit:
                raise FileRefused("too_big")
            data = await found.download_as_bytearray()
        except RetryAfter:
            raise SourceError("Telegram: 429 Too Many Requests") from None
        except (BadRequest, Forbidden) as error:
            raise SourceError(f"Telegram: {error.message}", final=True) from None
        except TelegramError as error:
            raise SourceError(f"Telegram: {error.message}") from None
        name = found.file_path.rpartition("/")[2] if found.file_path else None
        return Fetched(bytes(data), name)

    async def _edit(
        self, chat_id: str, message_id: str, text: str, markup: InlineKeyboardMarkup | None
    ) -> Delivered:
        try:
            await self._bot.edit_message_text(
                text, chat_id=chat_id, message_id=int(message_id), reply_markup=markup
            )
        except BadRequest as error:
            # Two edits to the same state (or a card already up to date) are not a failure.
            if "not modified" not in error.message.lower():
                raise
        return Delivered(message_id)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("telegram webhook: refused a call without the secret token")
            return web.Response(status=401, text="unauthorized")
        try:
            body = await read_body(request, MAX_UPDATE)
        except BodyTooLarge:
            return web.Response(status=413, text="too large")
        except BodyIncomplete as problem:
            # Not acknowledged: Telegram sends the update again.
            log.warning("telegram webhook: update not read whole (%s)", problem)
            return web.Response(status=400, text="incomplete body")
        # Answering 200 to what cannot be read stops Telegram from sending it again.
        try:
            data = loads(body)
        except (ValueError, RecursionError) as error:
            log.warning("telegram webhook: unreadable update (%s)", type(error).__name__)
            return web.Response(text="ok")
        if not isinstance(data, dict):
            return web.Response(text="ok")
        update = read_update(data, self._bot_id, self._clock.now())
        if update is None:
            log.warning("telegram webhook: an update whose fields have the wrong types")
            return web.Response(text="ok")
        return await self._answer_webhook(update)

    async def _answer_webhook(self, update: Received) -> web.Response:
        """Handle a webhook update and answer with one Bot API call in the response body.

        Telegram performs a method call found in the webhook's response, which spares a round
        trip per answer: the reply to a question, or the acknowledgement of a button press. If
        the response is lost, Telegram delivers the update again and the dedup key hands back
        the same reply.
        """
        message = update.message
        replies = (
            await self._dispatcher.handle(message, inline=_WEBHOOK_ANSWER)
            if message is not None
            else []
        )
        if update.query_id is not None:
            # The spinner is stopped by a call of its own, so that the response can carry the
            # button's answer; a lost stop leaves a spinner, never a message twice.
            self._stop_spinner(update.query_id)
        if not replies:
            return web.Response(text="ok")
        text, markup = rendered(replies[0])
        call: dict[str, object] = {
            "method": "sendMessage",
            "chat_id": int(replies[0].chat_id),
            "text": text,
        }
        if markup is not None:
            call["reply_markup"] = markup.to_dict()
        return json_response(call)

    def _stop_spinner(self, query_id: str) -> None:
        task = asyncio.create_task(self._answer_query(query_id))
        self._spinners.add(task)
        task.add_done_callback(self._spinners.discard)

    async def _answer_query(self, query_id: str) -> None:
        with contextlib.suppress(TelegramError):
            await self._bot.answer_callback_query(query_id)

    async def _handle(self, polled: Update) -> None:
        """Handle an update fetched by ``getUpdates``, read as the webhook reads one."""
        # PTB parsed it already; its dict is read by the webhook's own reader, so that both
        # ways in take the same fields with the same checks.
        update = read_update(polled.to_dict(), self._bot_id, self._clock.now())
        if update is None:
            log.warning(
                "telegram: skipped update %s, whose fields have the wrong types", polled.update_id
            )
            return
        if update.message is not None:
            await self._dispatcher.handle(update.message)
        if update.query_id is not None:
            # Stops the spinner on the button; the answer itself comes through the outbox.
            await self._answer_query(update.query_id)


def _standing_by() -> None:
    log.info("telegram: another process polls; standing by")


async def _unless(work: Awaitable[T], *interruptions: Awaitable[object]) -> T | None:
    """``work``'s result, or ``None`` when one of ``interruptions`` finishes first.

    Whatever is still running then is cancelled and waited for, so nothing is left behind.
    """
    job = asyncio.ensure_future(work)
    rivals = [asyncio.ensure_future(i) for i in interruptions]
    try:
        await asyncio.wait([job, *rivals], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (job, *rivals):
            task.cancel()
        await asyncio.wait([job, *rivals])
    return None if job.cancelled() else job.result()


def _sendable_inline(replies: Sequence[OutgoingMessage]) -> bool:
    """Whether the webhook's answer can carry ``replies``: plain messages, no edit or files."""
    return all(reply.edit is None and not reply.attachments for reply in replies)


_WEBHOOK_ANSWER = InlinePolicy(limit=1, fits=_sendable_inline)
"""The webhook's answer: one Bot API call, which sends a message."""


_MEDIA_SENDERS: dict[str, Any] = {
    "photo": lambda bot, chat, ref, **kw: bot.send_photo(chat, ref, **kw),
    "document": lambda bot, chat, ref, **kw: bot.send_document(chat, ref, **kw),
    "voice": lambda bot, chat, ref, **kw: bot.send_voice(chat, ref, **kw),
    "video": lambda bot, chat, ref, **kw: bot.send_video(chat, ref, **kw),
}
"""Attachment kind → how to send the file on by its ``file_id``."""


def _seconds(value: int | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


async def _name_outbox_row(request: httpx.Request) -> None:
    """Put the outbox row being delivered, if any, on a Bot API call (``X-MakerDesk-Outbox``)."""
    request.headers.update(outbox_headers())
