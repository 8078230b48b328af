"""A message's files made ready for its channel, just before delivery.

A file goes on as it is where the target can send it by reference (a Telegram ``file_id`` to
Telegram); any other is fetched into the store (:class:`~bot.files.carrier.FileCarrier`) and
handed to the deliverer as bytes to upload, if the target's limits take it
(:mod:`bot.files.limits`). What cannot go is told in the text instead, in plain words: a file
too big for the target, or of a kind it cannot show, as a link (when ``BOT_PUBLIC_URL`` is
set); a file the bot does not carry, or that its platform no longer has, as a note. The
message is never lost for a file: only a source failing *for now* makes it wait and go again.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.files.carrier import FileCarrier, SourceError
from bot.files.limits import MB, upload_as
from bot.files.links import FileLinks
from bot.files.store import FileRefused
from bot.messages import Attachment, OutgoingMessage
from bot.texts.chat import Texts, texts_for

__all__ = ["carry", "needs_carrying"]


def needs_carrying(message: OutgoingMessage) -> bool:
    """Whether a file of ``message`` cannot be sent on as it is (see :func:`carry`)."""
    return any(not _as_is(message, a) for a in message.attachments)


async def carry(
    message: OutgoingMessage, carrier: FileCarrier, links: FileLinks | None
) -> OutgoingMessage:
    """``message`` with its files as its channel can send them, and notes for the rest.

    Raises:
        SourceError: A file's platform failed for now (try the message again later).
    """
    texts = texts_for(message.language)
    kept: list[Attachment] = []
    notes: list[str] = []
    for attachment in message.attachments:
        if _as_is(message, attachment):
            kept.append(attachment)
            continue
        what = _what(texts, attachment)
        try:
            stored = await carrier.fetch(attachment)
        except FileRefused as refused:
            if refused.reason == "too_big":
                notes.append(texts.file_too_big.format(what=what, limit=carrier.store.cap // MB))
            else:
                notes.append(texts.file_refused.format(what=what))
            continue
        except SourceError as error:
            if not error.final:
                raise
            notes.append(texts.file_gone.format(what=what))
            continue
        if upload_as(message.channel, attachment.kind, stored.media_type, stored.size) is None:
            url = links.url(attachment) if links is not None else None
            what = _what(texts, replace(attachment, name=stored.name))
            note = texts.file_link.format(what=what, url=url) if url else None
            notes.append(note or texts.file_not_here.format(what=what))
            continue
        content = await asyncio.to_thread(stored.read)
        kept.append(
            replace(
                attachment,
                name=stored.name,
                size=stored.size,
                content=content,
                media_type=stored.media_type,
            )
        )
    text = "\n".join([message.text, *notes]) if notes else message.text
    return replace(message, text=text, attachments=tuple(kept))


def _as_is(message: OutgoingMessage, attachment: Attachment) -> bool:
    """A file the deliverer sends without help: made bytes, or a reference of its own channel."""
    if attachment.content is not None or attachment.made:
        return True
    return attachment.channel is message.channel and attachment.ref is not None


def _what(texts: Texts, attachment: Attachment) -> str:
    kind = texts.file_kinds.get(attachment.kind, texts.file_kinds["document"])
    return texts.file_named.format(kind=kind, name=attachment.name) if attachment.name else kind
