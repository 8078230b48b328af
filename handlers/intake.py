"""Opening a service request: a short conversation, or at once with ``/new text``.

Steps: the kind of matter (Articles 4 and 10), what is needed, an optional phone number, and the
maker space when the bot does not know it yet. The step lives in the database, so a restart in
the middle changes nothing; ``/cancel`` ends it at any step.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.desk.commands import Entrepreneur, Open
from bot.desk.service import execute
from bot.domain import categories
from bot.messages import Button, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.chat import texts_for
from bot.texts.desk import desk_texts_for
from handlers.basics import answer, person_of, reply
from handlers.faq import ASK_COMMISSIONER
from storage import conversations
from storage.conversations import ConversationState
from storage.models import Person

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router("intake")

INTAKE = "intake"
CATEGORY_PREFIX = "intake:cat:"
SKIP = "intake:skip"
SPACE_PREFIX = "space:"
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,18}[0-9]$")
_SKIP_WORDS = frozenset({"跳过", "不用", "不需要", "skip", "no"})


@router.command("new")
async def new(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """``/new`` starts the conversation; ``/new text`` opens the request at once."""
    texts = desk_texts_for(message.language)
    if not context.roster.spaces:
        return reply(message, texts.no_roster)
    person = await person_of(context, message)
    text = message.command_args
    if not text:
        return await _ask_category(message, context)
    data: dict[str, object] = {"category": categories.guess(text).id, "text": text, "phone": None}
    return await _continue(message, context, person, data)


@router.choice(ASK_COMMISSIONER)
async def ask_commissioner(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The "ask a commissioner" button under an answer."""
    if not context.roster.spaces:
        return reply(message, desk_texts_for(message.language).no_roster)
    await person_of(context, message)
    return await _ask_category(message, context)


@router.command("cancel")
async def cancel(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Stop whatever conversation is going on."""
    texts = desk_texts_for(message.language)
    state = await _state(message, context)
    if state is None:
        return reply(message, texts.nothing_to_cancel)
    await conversations.clear(context.session, message.channel.value, message.sender.user_id)
    return reply(message, texts.intake_cancelled)


@router.command("start")
async def start(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Greet a new user and, where there is a roster, ask for their maker space right away.

    Not on the web chat, whose page says ``/start`` on every load: there the space is asked
    when a request needs it. Nor in a group, nor of someone who already chose.
    """
    welcome = reply(message, texts_for(message.language).welcome)
    private = message.chat_id == message.sender.user_id
    if not (context.roster.spaces and private and message.channel.pushed):
        return welcome
    person = await person_of(context, message)
    if person.space_id is not None:
        return welcome
    return [*welcome, _space_question(message, context)]


@router.command("space")
async def space(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Offer the maker spaces to choose from."""
    texts = desk_texts_for(message.language)
    if not context.roster.spaces:
        return reply(message, texts.no_roster)
    return [_space_question(message, context)]


@router.choice(SPACE_PREFIX)
async def space_chosen(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Remember the chosen space; an intake waiting for it goes on."""
    assert message.choice is not None
    return await _set_space(message, context, message.choice.removeprefix(SPACE_PREFIX))


@router.choice("intake:")
async def intake_choice(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """A button of the intake conversation."""
    assert message.choice is not None
    state = await _state(message, context)
    if state is None:  # an old button after the conversation ended: start again
        return await _ask_category(message, context)
    if message.choice.startswith(CATEGORY_PREFIX):
        return await _answer(message, context, state, message.choice.removeprefix(CATEGORY_PREFIX))
    if message.choice == SKIP:
        return await _answer(message, context, state, "")
    return await _ask_again(message, context, state)


@router.message()
async def intake_text(
    message: IncomingMessage, context: Context
) -> Sequence[OutgoingMessage] | None:
    """Typed text during the conversation answers the current step; otherwise not ours."""
    state = await _state(message, context)
    if state is None:
        return None
    if not message.text:  # a photo where the step wants words: ask for them again
        return reply(message, texts_for(message.language).attachment_only)
    return await _answer(message, context, state, message.text)


async def _state(message: IncomingMessage, context: Context) -> ConversationState | None:
    state = await conversations.load(context.session, message.channel.value, message.sender.user_id)
    return state if state is not None and state.kind == INTAKE else None


async def _save(
    message: IncomingMessage, context: Context, step: str, data: dict[str, object]
) -> None:
    await conversations.save(
        context.session,
        message.channel.value,
        message.sender.user_id,
        ConversationState(INTAKE, step, data),
        context.now,
    )


async def _ask_category(message: IncomingMessage, context: Context) -> list[OutgoingMessage]:
    await _save(message, context, "category", {})
    texts = desk_texts_for(message.language)
    buttons = tuple(
        Button(f"{n}. {c.label(message.language)}", CATEGORY_PREFIX + c.id)
        for n, c in enumerate(categories.CATEGORIES, 1)
    )
    return [OutgoingMessage(message.chat_id, message.channel, texts.intake_category, buttons)]


async def _ask_again(
    message: IncomingMessage, context: Context, state: ConversationState
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    if state.step == "category":
        return await _ask_category(message, context)
    if state.step == "text":
        return reply(message, texts.intake_text)
    if state.step == "phone":
        return [_phone_question(message)]
    return [_space_question(message, context)]


def _phone_question(message: IncomingMessage) -> OutgoingMessage:
    texts = desk_texts_for(message.language)
    return OutgoingMessage(
        message.chat_id, message.channel, texts.intake_phone, (Button(texts.skip_button, SKIP),)
    )


def _space_question(message: IncomingMessage, context: Context) -> OutgoingMessage:
    texts = desk_texts_for(message.language)
    buttons = tuple(Button(s.name, SPACE_PREFIX + s.id) for s in context.roster.spaces)
    return OutgoingMessage(message.chat_id, message.channel, texts.choose_space, buttons)


async def _answer(
    message: IncomingMessage, context: Context, state: ConversationState, answer: str
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    data = dict(state.data)
    answer = answer.strip()
    if state.step == "category":
        category = _category_from(answer)
        if category is None:
            return await _ask_category(message, context)
        data["category"] = category.id
        await _save(message, context, "text", data)
        return reply(message, texts.intake_text)
    if state.step == "text":
        if not answer:
            return reply(message, texts.intake_text)
        data["text"] = answer
        await _save(message, context, "phone", data)
        return [_phone_question(message)]
    if state.step == "phone":
        if answer and answer.lower() not in _SKIP_WORDS:
            if not _PHONE.match(answer):
                return [
                    OutgoingMessage(
                        message.chat_id,
                        message.channel,
                        texts.bad_phone,
                        (Button(texts.skip_button, SKIP),),
                    )
                ]
            data["phone"] = answer
        person = await person_of(context, message)
        return await _continue(message, context, person, data)
    # step "space": a typed name or id of a space
    found = _space_from(context, answer)
    if found is None:
        # What was typed is the entrepreneur's own words: the log gets its length only.
        log.info(
            "unknown maker space (%d characters typed) from %s", len(answer), message.sender.user_id
        )
        return [
            *reply(message, texts.unknown_space),
            _space_question(message, context),
        ]
    return await _set_space(message, context, found)


def _category_from(answer: str) -> categories.Category | None:
    if answer.isdigit() and 1 <= int(answer) <= len(categories.CATEGORIES):
        return categories.CATEGORIES[int(answer) - 1]
    for category in categories.CATEGORIES:
        if answer in (category.id, category.zh, category.en):
            return category
    return None


def _space_from(context: Context, answer: str) -> str | None:
    for candidate in context.roster.spaces:
        if answer in (candidate.id, candidate.name):
            return candidate.id
    return None


async def _set_space(
    message: IncomingMessage, context: Context, space_id: str
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    if space_id not in {s.id for s in context.roster.spaces}:
        log.warning("unknown maker space %r chosen by %s", space_id[:40], message.sender.user_id)
        return [*reply(message, texts.unknown_space), _space_question(message, context)]
    person = await person_of(context, message)
    person.space_id = space_id
    confirmation = reply(message, texts.space_set.format(space=context.roster.space(space_id).name))
    state = await _state(message, context)
    if state is not None and state.step == "space":
        return [*confirmation, *await _continue(message, context, person, dict(state.data))]
    return list(confirmation)


async def _continue(
    message: IncomingMessage, context: Context, person: Person, data: dict[str, object]
) -> list[OutgoingMessage]:
    """Open the request if nothing is missing, else ask for the maker space."""
    known = {s.id for s in context.roster.spaces}
    if person.space_id not in known:
        await _save(message, context, "space", data)
        return [_space_question(message, context)]
    await conversations.clear(context.session, message.channel.value, message.sender.user_id)
    phone = data.get("phone")
    command = Open(
        message.channel,
        message.chat_id,
        category_id=str(data["category"]),
        text=str(data["text"]),
        phone=str(phone) if phone else None,
        space_id=str(person.space_id),
    )
    outcome = await execute(context, Entrepreneur(person, message.language), command)
    return answer(message, outcome)
