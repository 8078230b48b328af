"""Reading Telegram updates: what the bot trusts of them, and the internal message they become.

An update is read straight from its JSON: the few fields the bot uses, looked up in the dicts
Telegram sends. Building python-telegram-bot's ``Update`` for it cost 66-214 µs per update
(every kind of update and every field of a message parsed into objects, most never read),
against a few µs for these lookups. PTB stays for sending and for polling; a polled ``Update``
comes here as its ``to_dict()``.

The result is what PTB's objects gave (``tests/support/ptb_updates.py`` keeps that reading as
the reference, and ``tests/test_telegram_updates.py`` compares the two): a field the bot reads
must have the type Telegram gives it, and the keys Telegram always sends on the objects it
reads (a message's ``date``, a user's ``is_bot``) must be there, or the update is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.messages import Attachment, Channel, IncomingMessage, Language, Sender

__all__ = ["GROUPS", "Received", "read_update"]

GROUPS = ("group", "supergroup")
"""Chat types where the bot hears a group's conversation and answers only what is meant for it."""

_FILES = {
    # kind → the keys Telegram always sends on it (PTB refused an update without them)
    "photo": ("file_id", "file_unique_id", "width", "height"),
    "document": ("file_id", "file_unique_id"),
    "voice": ("file_id", "file_unique_id", "duration"),
    "video": ("file_id", "file_unique_id", "width", "height", "duration"),
}


@dataclass(frozen=True, slots=True)
class Received:
    """What the bot takes from one readable update."""

    message: IncomingMessage | None
    """The update as an internal message; ``None`` when it is not for the bot (an edited
    message, a group's own conversation, a button press without data)."""
    query_id: str | None = None
    """The button press (callback query) whose spinner Telegram shows until it is answered."""


def read_update(data: dict[str, Any], bot_id: int | None, now: datetime) -> Received | None:
    """What the bot takes from the update ``data`` (Telegram's JSON), or ``None`` if unreadable.

    Only the secret's holder can post to the webhook, but a leaked secret or a buggy proxy must
    not make the bot store a message it then cannot answer (a chat id that is not a number):
    an update whose fields the bot reads have the wrong types is refused whole.

    Args:
        data: The update as decoded from JSON.
        bot_id: The bot's own user id: a reply to the bot's message is meant for it.
        now: When it was received.
    """
    update_id = data.get("update_id")
    if not _whole(update_id):
        return None
    key = f"telegram:{update_id}"
    query = data.get("callback_query")
    if query is not None:
        return _button(query, key, now)
    message = data.get("message")
    if message is None:
        return Received(None)  # a kind the bot does not take (edited, a channel post…)
    if not _message_readable(message):
        return None
    replied = message.get("reply_to_message")
    if replied is not None and not _message_readable(replied):
        return None
    user = message.get("from")
    if user is None or user["is_bot"]:
        return Received(None)
    text = (message.get("text") or message.get("caption") or "").strip()
    replier = replied.get("from") if replied is not None else None
    to_us = replier is not None and replier["id"] == bot_id
    if message["chat"]["type"] in GROUPS and not (
        to_us or text.startswith("/") or text.startswith("#")
    ):
        return Received(None)
    return Received(
        IncomingMessage(
            sender=_sender(user),
            chat_id=str(message["chat"]["id"]),
            text=text,
            key=key,
            received_at=now,
            attachments=_attachments(message),
            reply_to=str(replied["message_id"]) if to_us else None,
            quoted=(replied.get("text") or replied.get("caption")) if to_us else None,
            message_id=str(message["message_id"]),
        )
    )


def _button(query: Any, key: str, now: datetime) -> Received | None:
    """A button press: the button's data as the message's choice."""
    if not (
        isinstance(query, dict)
        and isinstance(query.get("id"), str)
        and "chat_instance" in query
        and _user_readable(query.get("from"))
    ):
        return None
    choice = query.get("data")
    message = query.get("message")
    if not isinstance(choice, str | None) or (
        message is not None and not _message_readable(message)
    ):
        return None
    if message is None or not choice:
        return Received(None, query["id"])
    incoming = IncomingMessage(
        sender=_sender(query["from"]),
        chat_id=str(message["chat"]["id"]),
        text="",
        key=key,
        received_at=now,
        choice=choice[:200],
    )
    return Received(incoming, query["id"])


def _message_readable(message: Any) -> bool:
    if not (
        isinstance(message, dict)
        and _whole(message.get("message_id"))
        and "date" in message
        and isinstance(message.get("text"), str | None)
        and isinstance(message.get("caption"), str | None)
    ):
        return False
    chat = message.get("chat")
    if not (isinstance(chat, dict) and _whole(chat.get("id")) and "type" in chat):
        return False
    user = message.get("from")
    if user is not None and not _user_readable(user):
        return False
    if not isinstance(message.get("photo"), list | None):  # the sizes of one photo
        return False
    return all(_file_readable(kind, file) for kind, file in _files(message))


def _files(message: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every file object of ``message``, each photo size included (absent or ``null`` left out)."""
    found: list[tuple[str, Any]] = [("photo", size) for size in message.get("photo") or ()]
    found.extend(
        (kind, message[kind])
        for kind in ("document", "voice", "video")
        if message.get(kind) is not None
    )
    return found


def _file_readable(kind: str, file: Any) -> bool:
    return (
        isinstance(file, dict)
        and all(field in file for field in _FILES[kind])
        and isinstance(file["file_id"], str)
        and isinstance(file.get("file_size"), int | None)
    )


def _user_readable(user: Any) -> bool:
    return (
        isinstance(user, dict)
        and _whole(user.get("id"))
        and "is_bot" in user
        and isinstance(user.get("first_name"), str)
        and isinstance(user.get("last_name"), str | None)
        and isinstance(user.get("language_code"), str | None)
    )


def _sender(user: dict[str, Any]) -> Sender:
    parts = (user["first_name"], user.get("last_name"))
    name = " ".join(part for part in parts if part) or None
    return Sender(
        Channel.TELEGRAM, str(user["id"]), name, Language.from_code(user.get("language_code"))
    )


def _attachments(message: dict[str, Any]) -> tuple[Attachment, ...]:
    telegram = Channel.TELEGRAM
    found: list[Attachment] = []
    if photos := message.get("photo"):
        largest = photos[-1]
        found.append(
            Attachment("photo", None, largest.get("file_size"), telegram, largest["file_id"])
        )
    if document := message.get("document"):
        found.append(
            Attachment(
                "document",
                document.get("file_name"),
                document.get("file_size"),
                telegram,
                document["file_id"],
            )
        )
    if voice := message.get("voice"):
        found.append(Attachment("voice", None, voice.get("file_size"), telegram, voice["file_id"]))
    if video := message.get("video"):
        found.append(
            Attachment(
                "video", video.get("file_name"), video.get("file_size"), telegram, video["file_id"]
            )
        )
    return tuple(found)


def _whole(value: object) -> bool:
    """An id as Telegram sends it: a JSON integer, not ``true`` (Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)
