"""The reference for the slim update reader: how the bot read a Telegram update through PTB.

Before issue 18 the webhook built python-telegram-bot's ``Update`` for each update
(``Update.de_json``), checked its types (:func:`readable`) and turned it into an internal
message (:func:`incoming`); this module keeps that code as it was, and :func:`ptb_read` runs it
the way the webhook did. ``tests/test_telegram_updates.py`` checks that
:func:`bot.channels.telegram.updates.read_update` gives the same result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import Message as TelegramMessage
from telegram import Update

from bot.channels.telegram.updates import Received
from bot.messages import Attachment, Channel, IncomingMessage, Language, Sender

__all__ = ["GROUPS", "incoming", "ptb_read", "readable"]

GROUPS = ("group", "supergroup")
"""Chat types where the bot hears a group's conversation and answers only what is meant for it."""


def ptb_read(data: dict[str, Any], bot_id: int | None, now: datetime) -> Received | None:
    """What the PTB path took from ``data``: ``None`` where the webhook answered "ok" unread.

    The steps and the exceptions caught are the webhook's own before the slim reader.
    """
    try:
        update = Update.de_json(data, None)
        if not readable(update):
            return None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    query = update.callback_query
    return Received(incoming(update, bot_id, now), query.id if query is not None else None)


def incoming(update: Update, bot_id: int | None, now: datetime) -> IncomingMessage | None:
    """The update as an internal message, or ``None`` when it is not for the bot.

    Args:
        update: The update, already found :func:`readable`.
        bot_id: The bot's own user id: a reply to the bot's message is meant for it.
        now: When it was received.
    """
    key = f"telegram:{update.update_id}"
    query = update.callback_query
    if query is not None:
        if query.message is None or not query.data:
            return None
        return IncomingMessage(
            sender=_sender(query.from_user),
            chat_id=str(query.message.chat.id),
            text="",
            key=key,
            received_at=now,
            choice=query.data[:200],
        )
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    text = (message.text or message.caption or "").strip()
    replied = message.reply_to_message
    to_us = replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    if message.chat.type in GROUPS and not (to_us or text.startswith("/") or text.startswith("#")):
        return None
    return IncomingMessage(
        sender=_sender(message.from_user),
        chat_id=str(message.chat.id),
        text=text,
        key=key,
        received_at=now,
        attachments=_attachments(message),
        reply_to=str(replied.message_id) if to_us and replied is not None else None,
        quoted=(replied.text or replied.caption) if to_us and replied is not None else None,
        message_id=str(message.message_id),
    )


def readable(update: Update) -> bool:
    """Whether the fields the bot reads have the types Telegram gives them.

    Only the secret's holder can post to the webhook, but a leaked secret or a buggy proxy must
    not make the bot store a message it then cannot answer (a chat id that is not a number).
    """
    if not isinstance(update.update_id, int):
        return False
    query = update.callback_query
    if query is not None:
        return (
            isinstance(query.data, str | None)
            and _user_readable(query.from_user)
            and (query.message is None or _message_readable(query.message))
        )
    message = update.message
    if message is None:
        return True
    replied = message.reply_to_message
    return _message_readable(message) and (replied is None or _message_readable(replied))


def _message_readable(message: Any) -> bool:
    # A button's message may be one the bot can no longer see: only its chat and id are known.
    files = [
        *(getattr(message, "photo", None) or ()),
        *(getattr(message, kind, None) for kind in ("document", "voice", "video")),
    ]
    return (
        isinstance(message.message_id, int)
        and isinstance(message.chat.id, int)
        and isinstance(getattr(message, "text", None), str | None)
        and isinstance(getattr(message, "caption", None), str | None)
        and (getattr(message, "from_user", None) is None or _user_readable(message.from_user))
        and all(
            isinstance(file.file_id, str) and isinstance(file.file_size, int | None)
            for file in files
            if file is not None
        )
    )


def _user_readable(user: Any) -> bool:
    return (
        isinstance(user.id, int)
        and isinstance(user.first_name, str)
        and isinstance(user.last_name, str | None)
        and isinstance(user.language_code, str | None)
    )


def _sender(user: Any) -> Sender:
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
    return Sender(Channel.TELEGRAM, str(user.id), name, Language.from_code(user.language_code))


def _attachments(message: TelegramMessage) -> tuple[Attachment, ...]:
    telegram = Channel.TELEGRAM
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(Attachment("photo", None, largest.file_size, telegram, largest.file_id))
    if message.document:
        document = message.document
        found.append(
            Attachment(
                "document", document.file_name, document.file_size, telegram, document.file_id
            )
        )
    if message.voice:
        voice = message.voice
        found.append(Attachment("voice", None, voice.file_size, telegram, voice.file_id))
    if message.video:
        video = message.video
        found.append(Attachment("video", video.file_name, video.file_size, telegram, video.file_id))
    return tuple(found)
