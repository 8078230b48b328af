"""The one message model every channel adapter speaks.

Adapters turn a platform update into an :class:`IncomingMessage` and render each
:class:`OutgoingMessage` back; handlers see nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "COMMAND_WORDS",
    "MAX_TEXT_LENGTH",
    "Attachment",
    "Button",
    "Channel",
    "IncomingMessage",
    "Language",
    "OutgoingMessage",
    "Sender",
]

MAX_TEXT_LENGTH = 2000

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
"""Longest question or request text the bot accepts; longer ones get a polite refusal."""


class Channel(StrEnum):
    """Where a message came from or goes to."""

    WEB = "web"
    TELEGRAM = "telegram"
    WECHAT = "wechat"


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


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the user sent; only its description travels through the core."""

    kind: str
    """``photo``, ``document``, ``voice``… as the adapter names it."""
    name: str | None = None
    size: int | None = None


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
    """

    sender: Sender
    chat_id: str
    text: str
    key: str
    received_at: datetime
    choice: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None

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
    """

    chat_id: str
    channel: Channel
    text: str
    buttons: tuple[Button, ...] = field(default=())
    source: str | None = None
    faq_id: str | None = None
    request_id: int | None = None
    card: bool = False

    def to_payload(self) -> dict[str, object]:
        """The message as stored in the outbox (JSON)."""
        payload: dict[str, object] = {"text": self.text}
        if self.buttons:
            payload["buttons"] = [[b.label, b.payload] for b in self.buttons]
        if self.source:
            payload["source"] = self.source
        if self.faq_id:
            payload["faq_id"] = self.faq_id
        if self.card:
            payload["card"] = True
        return payload

    @classmethod
    def from_payload(
        cls, channel: str, chat_id: str, payload: dict[str, object], request_id: int | None = None
    ) -> OutgoingMessage:
        """Rebuild a message from its outbox row."""
        buttons = payload.get("buttons") or []
        assert isinstance(buttons, list)
        source, faq_id = payload.get("source"), payload.get("faq_id")
        return cls(
            chat_id,
            Channel(channel),
            str(payload.get("text", "")),
            buttons=tuple(Button(str(label), str(data)) for label, data in buttons),
            source=str(source) if source else None,
            faq_id=str(faq_id) if faq_id else None,
            request_id=request_id,
            card=bool(payload.get("card")),
        )
