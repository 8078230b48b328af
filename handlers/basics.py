"""Greeting, help, and the polite answers to input the bot cannot use."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.desk.commands import Entrepreneur, Member, Outcome
from bot.domain.roster.model import Roles
from bot.messages import MAX_TEXT_LENGTH, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.chat import texts_for
from bot.texts.desk import GROUP_TEXTS, desk_texts_for
from storage import people
from storage.models import Person

__all__ = [
    "answer",
    "as_the_group_reads",
    "entrepreneur_of",
    "guard_router",
    "member_of",
    "person_of",
    "refusal",
    "reply",
    "router",
    "unknown",
    "words_wanted",
]

log = logging.getLogger(__name__)

guard_router = Router("guards")
router = Router("basics")


def reply(message: IncomingMessage, text: str, **extra: object) -> list[OutgoingMessage]:
    """One message back to the conversation ``message`` came from."""
    return [OutgoingMessage(message.chat_id, message.channel, text, **extra)]  # type: ignore[arg-type]


def words_wanted(message: IncomingMessage) -> list[OutgoingMessage]:
    """Ask for text instead of a file, or instead of a voice message whose words are unknown."""
    texts = texts_for(message.language)
    voice = bool(message.attachments) and all(a.kind == "voice" for a in message.attachments)
    return reply(message, texts.voice_only if voice else texts.attachment_only)


def as_the_group_reads(message: IncomingMessage, text: str) -> str:
    """``text`` from ``message`` as the duty group will read it: marked when it was spoken.

    A transcription may have misheard a word: the group, reading the request or the
    follow-up, knows to check with the entrepreneur.
    """
    return GROUP_TEXTS.spoken.format(text=text) if message.spoken else text


def refusal(message: IncomingMessage, roles: Roles, text: str) -> list[OutgoingMessage]:
    """``text``, the refusal for a sender without the role; or why a listed one holds none.

    A commissioner or admin writing through a channel that cannot vouch for them (WeChat's
    plain mode) is told that, and what the admin must change, rather than that they are not
    listed: they are, and would otherwise look for the fault in the roster.
    """
    if roles.unverified:
        log.warning(
            "refused: %s:%s is in the roster, but the channel cannot vouch for the sender",
            message.channel,
            message.sender.user_id,
        )
        return reply(message, texts_for(message.language).unverified)
    return reply(message, text)


def answer(message: IncomingMessage, outcome: Outcome) -> list[OutgoingMessage]:
    """A desk outcome as chat: what the sender is told, then everything else it causes."""
    told = [
        OutgoingMessage(message.chat_id, message.channel, note.text, note.buttons)
        for note in outcome.notes
    ]
    return [*told, *outcome.messages]


def member_of(message: IncomingMessage, context: Context) -> Member:
    """The sender as the desk sees a member: their roles from the roster, for this account."""
    roles = context.roster.roles_for(message.sender)
    name = roles.person.name if roles.person else (message.sender.display_name or "")
    return Member(
        f"{message.channel.value}:{message.sender.user_id}", name, roles, message.language
    )


async def person_of(context: Context, message: IncomingMessage) -> Person:
    """The sender as a person, created on first contact."""
    return await people.identify(
        context.session,
        channel=message.channel.value,
        user_id=message.sender.user_id,
        chat_id=message.chat_id,
        display_name=message.sender.display_name,
        language=message.language.value,
        now=context.now,
    )


async def entrepreneur_of(context: Context, message: IncomingMessage) -> Entrepreneur:
    """The sender as the desk sees an entrepreneur."""
    return Entrepreneur(await person_of(context, message), message.language)


def _unusable(message: IncomingMessage) -> bool:
    if message.choice is not None:
        return False
    # A bare photo or file goes on: it may answer a request (a card reply, a follow-up);
    # the question handler declines it otherwise.
    return len(message.text) > MAX_TEXT_LENGTH or not (message.text or message.attachments)


@guard_router.message(_unusable)
async def unusable(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Empty text, or a message too long to be one question."""
    texts = texts_for(message.language)
    if len(message.text) > MAX_TEXT_LENGTH:
        return reply(
            message, texts.too_long.format(length=len(message.text), limit=MAX_TEXT_LENGTH)
        )
    return reply(message, texts.empty_message)


@router.command("help")
async def help_(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """List what the bot can do, and what the roster lets this person do besides."""
    texts = texts_for(message.language)
    roles = context.roster.roles_for(message.sender)
    lines = [texts.help]
    if roles.member_of:
        lines.append(desk_texts_for(message.language).member_usage)
    if roles.is_admin or roles.supervisor_of:
        lines.append(texts.supervisor_help)
    if roles.is_admin:
        lines.append(texts.admin_help)
    if roles.unverified:
        lines.append(texts.unverified)
    return reply(message, "\n\n".join(lines))


async def unknown(message: IncomingMessage, _: Context) -> Sequence[OutgoingMessage]:
    """Fallback for anything no feature accepted: an unknown command or choice."""
    texts = texts_for(message.language)
    if message.command:
        return reply(message, texts.unknown_command.format(command=message.command[:32]))
    return reply(message, texts.bad_request)
