"""How the bot's messages read on WeChat: text with menu links, CDATA-safe, within the byte limit.

WeChat takes plain text in a passive reply and in a customer-service message alike, at most
2,048 bytes of UTF-8 (:data:`TEXT_LIMIT` leaves room). The bot's buttons become
``weixin://bizmsgmenu`` links, the only markup a message carries: ``<`` and ``>`` in the text
itself reach WeChat as ``＜`` and ``＞``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.messages import COMMAND_WORDS, OutgoingMessage
from bot.texts.chat import texts_for

__all__ = [
    "TEXT_LIMIT",
    "escape_cdata",
    "inert",
    "passive_text",
    "render_text",
    "split_text",
]

TEXT_LIMIT = 2000
"""Bytes of UTF-8 per text message (WeChat refuses more than 2,048)."""
_TOGETHER = "\n\n"
"""Between the replies that share one passive reply."""

_WORD_FOR = {command: word for word, command in reversed(COMMAND_WORDS.items())}
"""Command → the first word that means it (提交工单 for ``new``)."""
_COMMAND = re.compile(rf"/({'|'.join(_WORD_FOR)})\b")
_NUMBERED = re.compile(r"^(\d+)\.\s")
_INERT = str.maketrans({"<": "＜", ">": "＞"})
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""A character XML 1.0 does not allow anywhere, CDATA included."""


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
