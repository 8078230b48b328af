"""Greeting, help, and the polite answers to input the bot cannot use."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts import texts_for

__all__ = ["guard_router", "router", "unknown"]

guard_router = Router("guards")
router = Router("basics")


def reply(message: IncomingMessage, text: str, **extra: object) -> list[OutgoingMessage]:
    """One message back to the conversation ``message`` came from."""
    return [OutgoingMessage(message.chat_id, message.channel, text, **extra)]  # type: ignore[arg-type]


def _unusable(message: IncomingMessage) -> bool:
    return message.choice is None and (not message.text or len(message.text) > MAX_TEXT_LENGTH)


@guard_router.message(_unusable)
async def unusable(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Empty text, a bare upload, or a message too long to be one question."""
    texts = texts_for(message.language)
    if len(message.text) > MAX_TEXT_LENGTH:
        return reply(
            message, texts.too_long.format(length=len(message.text), limit=MAX_TEXT_LENGTH)
        )
    if message.attachments:
        return reply(message, texts.attachment_only)
    return reply(message, texts.empty_message)


@router.command("start")
async def start(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Greet a new user."""
    return reply(message, texts_for(message.language).welcome)


@router.command("help")
async def help_(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """List what the bot can do."""
    return reply(message, texts_for(message.language).help)


async def unknown(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Fallback for anything no feature accepted: an unknown command or choice."""
    texts = texts_for(message.language)
    if message.command:
        return reply(message, texts.unknown_command.format(command=message.command[:32]))
    return reply(message, texts.bad_request)
