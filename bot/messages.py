"""The one message model every channel adapter speaks.

Adapters turn a platform update into an :class:`IncomingMessage` and render each
:class:`OutgoingMessage` back; handlers see nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

__all__ = [
    "COMMAND_WORDS",
    "MAX_PAYLOAD",
    "MAX_TEXT_LENGTH",
    "Attachment",
    "Button",
    "Channel",
    "Confirmation",
    "IncomingMessage",
    "Intake",
    "Language",
    "OutgoingMessage",
    "Sender",
    "served_only",
    "storable",
]

MAX_TEXT_LENGTH = 2000
"""Longest question or request text the bot accepts; longer ones get a polite refusal."""

MAX_PAYLOAD = 64
"""Bytes of UTF-8 a button's payload may take: Telegram's limit on ``callback_data``."""

COMMAND_WORDS: dict[str, str] = {
    "提交工单": "new",
    "人工": "new",
    "转人工": "new",
    "人工服务": "new",
    "我的工单": "tickets",
    "查看工单": "tickets",
    "取消": "cancel",
    "选择众创空间": "space",
    "帮助": "help",
}
"""Whole messages that mean a command, for channels without slash commands (WeChat)."""


class Channel(StrEnum):
    """Where a message came from or goes to."""

    WEB = "web"
    TELEGRAM = "telegram"
    WECHAT = "wechat"
    WECOM = "wecom"

    @property
    def pushed(self) -> bool:
        """Whether the bot pushes messages (``False``: the web page pulls its own)."""
        return self is not Channel.WEB


class Intake(StrEnum):
    """How a request came in (policy article 6: by hotline, Internet and WeChat).

    A chat channel's value is its :class:`Channel`'s, so a request's stored ``channel`` names
    both how it came in and where replies go; a call or a visit has no chat to reply to.
    """

    WEB = "web"
    TELEGRAM = "telegram"
    WECHAT = "wechat"
    HOTLINE = "hotline"
    VISIT = "visit"

    @property
    def chat(self) -> Channel | None:
        """The channel that reaches the person who asked; ``None`` for a call or a visit."""
        return None if self in (Intake.HOTLINE, Intake.VISIT) else Channel(self.value)


class Language(StrEnum):
    """Languages the bot speaks; Simplified Chinese unless the user's client says English."""

    ZH = "zh"
    EN = "en"

    @classmethod
    def from_code(cls, code: str | None) -> Language:
        """Pick the language for a client language code such as ``en-GB`` or ``zh-hans``."""
        return cls.EN if code and code.lower().startswith("en") else cls.ZH


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a message, as the channel identifies them."""

    channel: Channel
    user_id: str
    display_name: str | None = None
    language: Language = Language.ZH
    verified: bool = True
    """The platform vouched for this sender (False in WeChat plain mode, whose signature does
    not cover the body)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a user sent, or one the bot makes (a report).

    Only its description travels through the core and the outbox.
    """

    kind: str
    """``photo``, ``document``, ``voice``… as the adapter names it."""
    name: str | None = None
    size: int | None = None
    channel: Channel | None = None
    """The channel whose file reference ``ref`` is; only that channel can send the file on."""
    ref: str | None = None
    """The platform's reference to the file (Telegram ``file_id``), to send it on unchanged."""
    made: str | None = None
    """A file the bot makes for the message, such as ``report:2026Q4:pdf:``: queuing the
    message orders it (:mod:`storage.made_files`), and the message waits until it is made."""
    content: bytes | None = None
    """The file's bytes, filled in by the sender just before delivery from where they are kept
    (a made file, or one carried from another channel), never in the outbox's payload."""
    media_type: str | None = None
    """The media type of ``content``, as its bytes say, when the sender carried it."""

    def to_payload(self) -> dict[str, object]:
        """The attachment as stored in the outbox (JSON)."""
        payload: dict[str, object] = {
            "kind": self.kind,
            "name": self.name,
            "size": self.size,
            "channel": self.channel.value if self.channel else None,
            "ref": self.ref,
        }
        if self.made:
            payload["made"] = self.made
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> Attachment:
        """Rebuild an attachment from its outbox form."""
        channel, size, name, ref, made = (
            payload.get(k) for k in ("channel", "size", "name", "ref", "made")
        )
        return cls(
            str(payload.get("kind", "document")),
            name=str(name) if name else None,
            size=size if isinstance(size, int) else None,
            channel=Channel(str(channel)) if channel else None,
            ref=str(ref) if ref else None,
            made=str(made) if made else None,
        )


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message from a user, whatever the channel.

    Attributes:
        sender: Who wrote it.
        chat_id: The conversation on the channel that replies go to.
        text: The text as typed (commands included), stripped of surrounding space.
        key: Channel-unique key of this delivery, for deduplication.
        received_at: When the bot received it (UTC).
        choice: Payload of a button the user pressed, instead of typed text.
        attachments: Files sent with or instead of text.
        reply_to: The platform id of the bot message this one replies to (a request card).
        quoted: The text of that bot message as the platform quotes it: a card whose id the
            bot has not recorded (sent just before a crash) still names its request.
        message_id: The platform's id of this message, so the bot can answer under it.
        spoken: ``text`` is the platform's transcription of a voice message (WeChat's speech
            recognition): handled as typed, and marked as voice where the duty group reads it.
    """

    sender: Sender
    chat_id: str
    text: str
    key: str
    received_at: datetime
    choice: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None
    quoted: str | None = None
    message_id: str | None = None
    spoken: bool = False

    def __post_init__(self) -> None:
        # What a person sends is stored and shown again, so it must be text every database and
        # platform takes: PostgreSQL refuses NUL, and a lone surrogate (valid in JSON, not in
        # UTF-8) breaks every encoder. Cleaned here, once, whatever the channel.
        for field_name in ("text", "choice", "quoted"):
            value = getattr(self, field_name)
            if value is not None and _UNSTORABLE.search(value):
                object.__setattr__(self, field_name, storable(value))
        shown = self.sender.display_name
        if shown is not None and _UNSTORABLE.search(shown):
            object.__setattr__(self, "sender", replace(self.sender, display_name=storable(shown)))

    @property
    def channel(self) -> Channel:
        """The channel the message arrived on."""
        return self.sender.channel

    @property
    def language(self) -> Language:
        """The language to answer in."""
        return self.sender.language

    @property
    def command(self) -> str | None:
        """The command name without slash (``new`` for ``/new@MakerDeskBot text``), if any."""
        if self.text in COMMAND_WORDS:
            return COMMAND_WORDS[self.text]
        head = self.text.split(maxsplit=1)[0] if self.text else ""
        if COMMAND_WORDS.get(head) == "new":
            return "new"  # "提交工单 想咨询…", as "/new 想咨询…"
        if not self.text.startswith("/") or len(self.text) < 2:
            return None
        head = self.text[1:].split(maxsplit=1)[0]
        return head.split("@", 1)[0].lower() or None

    @property
    def command_args(self) -> str:
        """What follows the command word, stripped."""
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if self.command and len(parts) > 1 else ""


@dataclass(frozen=True, slots=True)
class Button:
    """A choice shown under a message; pressing it sends ``payload`` back as a choice."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Where to confirm a relayed message's delivery: under the commissioner's own message."""

    channel: Channel
    chat_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message the bot sends.

    Attributes:
        chat_id: The conversation on ``channel`` to send to.
        channel: The channel to send on.
        text: Plain text; adapters escape it for their platform.
        buttons: Choices offered under the text, one per row.
        source: The policy article an answer rests on, shown as its citation.
        faq_id: The knowledge-base entry the text answers from, if any.
        request_id: The service request the message is about, if any.
        card: The message is a request's card in a duty group: replies to it answer the
            request, so the sender records where it landed.
        edit_card: Replace the request's card in this chat instead of sending a new message.
        thread: Send as a reply to the request's card in this chat, where there is one.
        attachments: Files to send on with the text (where the channel can).
        confirm: Post ✓ (or ⚠ and the reason) there once this message is delivered (or not).
        language: The reader's language, for the adapter's own words (the source line).
        reply_to: The platform id of the message to answer under (set by the sender).
        edit: The platform id of the message to replace (set by the sender).
        notice: A short "a reply is waiting" push outside the chat, for a user the platform
            will not take chat messages for until they write (WeChat's template message).
        delivery_report: The sender's own word on another message's delivery (a ✓ under a
            relayed reply, a failure told to the duty group): if it fails in turn, nobody is
            told, or reports would beget reports. Stored as ``report``.
    """

    chat_id: str
    channel: Channel
    text: str
    buttons: tuple[Button, ...] = field(default=())
    source: str | None = None
    faq_id: str | None = None
    request_id: int | None = None
    card: bool = False
    edit_card: bool = False
    thread: bool = False
    attachments: tuple[Attachment, ...] = ()
    confirm: Confirmation | None = None
    language: Language = Language.ZH
    reply_to: str | None = None
    edit: str | None = None
    notice: bool = False
    delivery_report: bool = False

    @property
    def files_to_make(self) -> tuple[tuple[int, str], ...]:
        """``(position, spec)`` of each attachment the bot makes (:attr:`Attachment.made`)."""
        return tuple(
            (position, attachment.made)
            for position, attachment in enumerate(self.attachments)
            if attachment.made
        )

    def to_payload(self) -> dict[str, object]:
        """The message as stored in the outbox (JSON)."""
        payload: dict[str, object] = {"text": self.text}
        if self.buttons:
            payload["buttons"] = [[b.label, b.payload] for b in self.buttons]
        if self.source:
            payload["source"] = self.source
        if self.faq_id:
            payload["faq_id"] = self.faq_id
        for flag in ("card", "edit_card", "thread", "notice"):
            if getattr(self, flag):
                payload[flag] = True
        if self.attachments:
            payload["attachments"] = [a.to_payload() for a in self.attachments]
        if self.confirm:
            payload["confirm"] = [
                self.confirm.channel.value,
                self.confirm.chat_id,
                self.confirm.message_id,
            ]
        if self.language is not Language.ZH:
            payload["language"] = self.language.value
        if self.reply_to:
            payload["reply_to"] = self.reply_to
        if self.delivery_report:
            payload[_DELIVERY_REPORT] = True
        return payload

    @classmethod
    def from_payload(
        cls, channel: str, chat_id: str, payload: dict[str, object], request_id: int | None = None
    ) -> OutgoingMessage:
        """Rebuild a message from its outbox row."""
        buttons = payload.get("buttons") or []
        attachments = payload.get("attachments") or []
        confirm = payload.get("confirm")
        assert isinstance(buttons, list)
        assert isinstance(attachments, list)
        source, faq_id, reply_to = (payload.get(k) for k in ("source", "faq_id", "reply_to"))
        return cls(
            chat_id,
            Channel(channel),
            str(payload.get("text", "")),
            buttons=tuple(Button(str(label), str(data)) for label, data in buttons),
            source=str(source) if source else None,
            faq_id=str(faq_id) if faq_id else None,
            request_id=request_id,
            card=bool(payload.get("card")),
            edit_card=bool(payload.get("edit_card")),
            thread=bool(payload.get("thread")),
            notice=bool(payload.get("notice")),
            attachments=tuple(Attachment.from_payload(a) for a in attachments),
            confirm=(
                Confirmation(Channel(str(confirm[0])), str(confirm[1]), str(confirm[2]))
                if isinstance(confirm, list) and len(confirm) == 3
                else None
            ),
            language=Language(str(payload.get("language", Language.ZH.value))),
            reply_to=str(reply_to) if reply_to else None,
            delivery_report=bool(payload.get(_DELIVERY_REPORT)),
        )


_DELIVERY_REPORT = "report"
"""The payload key of :attr:`OutgoingMessage.delivery_report` (rows written before it was a
field carry it under this name too)."""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def served_only(
    messages: Iterable[OutgoingMessage], served: Collection[Channel]
) -> list[OutgoingMessage]:
    """The ``messages`` for a channel this deployment serves, in order; the rest are dropped.

    A message for a channel nobody delivers (the roster names Telegram chats, but no Telegram
    bot is configured) would wait in the outbox for ever, age its alarm, and go out stale the
    day the channel is configured: it is never queued. The request itself is kept, and shows
    in the console.
    """
    return [message for message in messages if message.channel in served]


def storable(text: str) -> str:
    """``text`` without NUL characters, each lone surrogate replaced by U+FFFD (�)."""
    return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else "\ufffd", text)
