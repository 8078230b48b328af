"""Opening a service request: a short conversation, or at once with ``/new text``.

Steps: the kind of matter (Articles 4 and 10), what is needed, an optional phone number, the
maker space when the bot does not know it yet, and a summary to confirm: only 确认提交 opens the
request, and 修改 goes back to any step. A question that led here (the [提交给服务专员] button
under a reply, or a new question held while a request is open) is offered as the text. The step
lives in the database, so a restart in the middle changes nothing; ``/cancel`` ends it at any
step, and a button of a conversation that has ended changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.desk.commands import Entrepreneur, Open, Outcome
from bot.desk.service import execute
from bot.domain import categories
from bot.domain.roster.model import Roster
from bot.messages import Button, IncomingMessage, OutgoingMessage
from bot.routing import Context, Router
from bot.texts.chat import texts_for
from bot.texts.desk import desk_texts_for
from handlers.basics import answer, as_the_group_reads, person_of, reply, words_wanted
from handlers.faq import ASK_COMMISSIONER, carried_question
from storage import conversations
from storage.conversations import ConversationState
from storage.models import Person
from storage.questions import asked_in

__all__ = [
    "BUTTON_PREFIX",
    "HELD",
    "INTAKE",
    "SPACE_PREFIX",
    "IntakeStore",
    "begin",
    "begin_with",
    "end_with",
    "pressed_with",
    "router",
    "space_chosen_with",
    "typed_with",
]

log = logging.getLogger(__name__)

router = Router("intake")

INTAKE = "intake"
BUTTON_PREFIX = "intake:"
"""What the intake's buttons' payloads start with."""
CATEGORY_PREFIX = "intake:cat:"
SKIP = "intake:skip"
KEEP = "intake:keep"
SUBMIT = "intake:submit"
EDIT = "intake:edit"
EDIT_PREFIX = "intake:edit:"
CANCEL = "intake:cancel"
HELD = "held"
"""The conversation of a new question held for the entrepreneur's choice
(:mod:`handlers.my_requests`); ``/cancel`` ends it too."""
_STEPS = ("category", "text", "phone", "space")
SPACE_PREFIX = "space:"
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,18}[0-9]$")
_SKIP_WORDS = frozenset({"跳过", "不用", "不需要", "skip", "no"})


class IntakeStore(Protocol):
    """What an intake step reads and keeps for the sender's account.

    The full path keeps it through the message's ORM session (:class:`_InSession`); the quick
    lane in plain SQL, in a unit of SQLite's writer (:mod:`handlers.quick_intake`). The steps
    themselves are the same code for both, so the replies and the rows are too.
    """

    @property
    def roster(self) -> Roster:
        """The roster in service."""

    async def conversation(self) -> ConversationState | None:
        """The account's conversation in progress, of whatever kind."""

    async def keep(self, state: ConversationState) -> None:
        """Start or advance the account's conversation."""

    async def end(self) -> None:
        """End the account's conversation."""

    async def person(self) -> Person:
        """The sender as a person (:func:`handlers.basics.person_of`), created on first contact."""

    async def settle(self, person: Person, space_id: str) -> None:
        """Remember ``space_id`` as ``person``'s maker space."""

    async def open(self, who: Entrepreneur, command: Open) -> Outcome:
        """Open the request (the desk's :func:`~bot.desk.service.execute`)."""


@dataclass(frozen=True, slots=True)
class _InSession:
    """The full path's :class:`IntakeStore`: the message's ORM session."""

    message: IncomingMessage
    context: Context

    @property
    def roster(self) -> Roster:
        return self.context.roster

    async def conversation(self) -> ConversationState | None:
        sender = self.message.sender
        return await conversations.load(self.context.session, sender.channel.value, sender.user_id)

    async def keep(self, state: ConversationState) -> None:
        sender = self.message.sender
        await conversations.save(
            self.context.session, sender.channel.value, sender.user_id, state, self.context.now
        )

    async def end(self) -> None:
        sender = self.message.sender
        await conversations.clear(self.context.session, sender.channel.value, sender.user_id)

    async def person(self) -> Person:
        return await person_of(self.context, self.message)

    async def settle(self, person: Person, space_id: str) -> None:
        person.space_id = space_id

    async def open(self, who: Entrepreneur, command: Open) -> Outcome:
        return await execute(self.context, who, command)


@router.command("new")
async def new(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """``/new`` starts the conversation; ``/new text`` opens the request at once."""
    texts = desk_texts_for(message.language)
    if not context.roster.spaces:
        return reply(message, texts.no_roster)
    text = message.command_args
    store = _InSession(message, context)
    if not text:
        return await begin_with(message, store)
    person = await store.person()
    data: dict[str, object] = {
        "category": categories.guess(text).id,
        "text": as_the_group_reads(message, text),
        "phone": None,
    }
    return await _continue(message, store, person, data)


@router.choice(ASK_COMMISSIONER)
async def ask_commissioner(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """The "ask a commissioner" button under a reply, carrying the question when it names one."""
    assert message.choice is not None
    question_id = carried_question(message.choice)
    draft = None
    if question_id is not None:
        draft = await asked_in(context.session, question_id, message.channel.value, message.chat_id)
        if draft is None:  # another chat's question, or one pruned since: start afresh
            log.info("question %d not carried for %s", question_id, message.sender.user_id)
    return await begin(message, context, draft)


async def begin(
    message: IncomingMessage, context: Context, draft: str | None = None
) -> list[OutgoingMessage]:
    """Start the guided intake, offering ``draft`` (the question that led here) as the text."""
    return await begin_with(message, _InSession(message, context), draft)


async def begin_with(
    message: IncomingMessage, store: IntakeStore, draft: str | None = None
) -> list[OutgoingMessage]:
    """:func:`begin`, keeping what it keeps in ``store``."""
    if not store.roster.spaces:
        return reply(message, desk_texts_for(message.language).no_roster)
    await store.person()
    data: dict[str, object] = {"guided": True}
    if draft:
        data["draft"] = draft
    return await _ask(message, store, "category", data)


@router.command("cancel")
async def cancel(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Stop whatever conversation is going on."""
    return await end_with(message, _InSession(message, context))


async def end_with(message: IncomingMessage, store: IntakeStore) -> list[OutgoingMessage]:
    """End an intake or a held question's choice; nothing is opened."""
    texts = desk_texts_for(message.language)
    state = await store.conversation()
    if state is None or state.kind not in (INTAKE, HELD):
        return reply(message, texts.nothing_to_cancel)
    await store.end()
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
    return [*welcome, _space_question(message, context.roster)]


@router.command("space")
async def space(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Offer the maker spaces to choose from."""
    texts = desk_texts_for(message.language)
    if not context.roster.spaces:
        return reply(message, texts.no_roster)
    return [_space_question(message, context.roster)]


@router.choice(SPACE_PREFIX)
async def space_chosen(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """Remember the chosen space; an intake waiting for it goes on."""
    return await space_chosen_with(message, _InSession(message, context))


async def space_chosen_with(message: IncomingMessage, store: IntakeStore) -> list[OutgoingMessage]:
    """:func:`space_chosen`, keeping what it keeps in ``store``."""
    assert message.choice is not None
    return await _set_space(message, store, message.choice.removeprefix(SPACE_PREFIX))


@router.choice(BUTTON_PREFIX)
async def intake_choice(message: IncomingMessage, context: Context) -> Sequence[OutgoingMessage]:
    """A button of the intake conversation; one its step no longer offers changes nothing."""
    return await pressed_with(message, _InSession(message, context))


async def pressed_with(message: IncomingMessage, store: IntakeStore) -> list[OutgoingMessage]:
    """:func:`intake_choice`, keeping what it keeps in ``store``."""
    assert message.choice is not None
    choice = message.choice
    state = await _state(store)
    if state is None:  # the conversation ended (submitted, cancelled): an old button
        return reply(message, desk_texts_for(message.language).intake_stale)
    step = state.step
    if choice == CANCEL:
        return await end_with(message, store)
    if choice.startswith(CATEGORY_PREFIX) and step == "category":
        return await _answer(message, store, state, choice.removeprefix(CATEGORY_PREFIX))
    if choice == SKIP and step == "phone":
        return await _answer(message, store, state, "")
    if choice == KEEP and step == "text" and state.data.get("draft"):
        return await _answer(message, store, state, str(state.data["draft"]))
    if choice == SUBMIT and step == "confirm":
        person = await store.person()
        return await _continue(message, store, person, state.data, confirmed=True)
    if choice == EDIT and step == "confirm":
        return await _ask(message, store, "edit", state.data)
    picked = choice.removeprefix(EDIT_PREFIX)
    if choice.startswith(EDIT_PREFIX) and step == "edit" and picked in _STEPS:
        data = {**state.data, "review": True}
        if picked == "text":  # the text as it stands, to keep or to rewrite
            data["draft"] = data.get("text")
        return await _ask(message, store, picked, data)
    return [
        *reply(message, desk_texts_for(message.language).intake_stale),
        *await _again(message, store, step, state.data),
    ]


@router.message()
async def intake_text(
    message: IncomingMessage, context: Context
) -> Sequence[OutgoingMessage] | None:
    """Typed text during the conversation answers the current step; otherwise not ours."""
    return await typed_with(message, _InSession(message, context))


async def typed_with(message: IncomingMessage, store: IntakeStore) -> list[OutgoingMessage] | None:
    """:func:`intake_text`, keeping what it keeps in ``store``; ``None``: no intake going on."""
    state = await _state(store)
    if state is None:
        return None
    if not message.text:  # a photo or a voice where the step wants words: ask for them again
        return words_wanted(message)
    return await _answer(message, store, state, message.text)


async def _state(store: IntakeStore) -> ConversationState | None:
    state = await store.conversation()
    return state if state is not None and state.kind == INTAKE else None


async def _ask(
    message: IncomingMessage, store: IntakeStore, step: str, data: dict[str, object]
) -> list[OutgoingMessage]:
    """Move the conversation to ``step`` and ask what it asks."""
    await store.keep(ConversationState(INTAKE, step, data))
    texts = desk_texts_for(message.language)
    language = message.language
    if step == "category":
        buttons = tuple(
            Button(f"{n}. {c.label(language)}", CATEGORY_PREFIX + c.id)
            for n, c in enumerate(categories.CATEGORIES, 1)
        )
        return [_with_buttons(message, texts.intake_category, buttons)]
    if step == "text":
        draft = data.get("draft")
        if not draft:
            return reply(message, texts.intake_text)
        keep = (Button(texts.keep_draft_button, KEEP),)
        return [_with_buttons(message, texts.intake_draft.format(draft=draft), keep)]
    if step == "phone":
        return [_phone_question(message)]
    if step == "confirm":
        return [await _summary(message, store, data)]
    if step == "edit":
        steps = tuple(Button(texts.edit_steps[s], EDIT_PREFIX + s) for s in _STEPS)
        return [_with_buttons(message, texts.intake_edit, steps)]
    return [_space_question(message, store.roster)]


def _with_buttons(
    message: IncomingMessage, text: str, buttons: tuple[Button, ...]
) -> OutgoingMessage:
    return OutgoingMessage(message.chat_id, message.channel, text, buttons)


async def _summary(
    message: IncomingMessage, store: IntakeStore, data: dict[str, object]
) -> OutgoingMessage:
    """What the request will say, with 确认提交 / 修改 / 取消."""
    texts = desk_texts_for(message.language)
    person = await store.person()
    text = texts.intake_summary.format(
        category=categories.by_id(str(data["category"])).label(message.language),
        text=data["text"],
        phone=data.get("phone") or texts.no_phone,
        space=store.roster.space(str(person.space_id)).label(message.language),
    )
    buttons = (
        Button(texts.submit_button, SUBMIT),
        Button(texts.edit_button, EDIT),
        Button(texts.cancel_button, CANCEL),
    )
    return _with_buttons(message, text, buttons)


def _phone_question(message: IncomingMessage) -> OutgoingMessage:
    texts = desk_texts_for(message.language)
    return OutgoingMessage(
        message.chat_id, message.channel, texts.intake_phone, (Button(texts.skip_button, SKIP),)
    )


def _space_question(message: IncomingMessage, roster: Roster) -> OutgoingMessage:
    texts = desk_texts_for(message.language)
    buttons = tuple(Button(s.label(message.language), SPACE_PREFIX + s.id) for s in roster.spaces)
    return OutgoingMessage(message.chat_id, message.channel, texts.choose_space, buttons)


async def _answer(
    message: IncomingMessage, store: IntakeStore, state: ConversationState, answer: str
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    data = dict(state.data)
    answer = answer.strip()
    if state.step == "category":
        category = _category_from(answer)
        if category is None:
            return await _ask(message, store, "category", data)
        data["category"] = category.id
        return await _after(message, store, "category", data)
    if state.step == "text":
        if not answer:
            return await _ask(message, store, "text", data)
        data["text"] = as_the_group_reads(message, answer)
        data.pop("draft", None)
        return await _after(message, store, "text", data)
    if state.step == "phone":
        if answer and answer.lower() not in _SKIP_WORDS:
            if not _PHONE.match(answer):
                return [_with_buttons(message, texts.bad_phone, (Button(texts.skip_button, SKIP),))]
            data["phone"] = answer
        else:
            data["phone"] = None
        return await _after(message, store, "phone", data)
    if state.step != "space":  # the summary or the step picker wants a button: show it again
        return await _again(message, store, state.step, data)
    # step "space": a typed name or id of a space
    found = _space_from(store.roster, answer)
    if found is None:
        # What was typed is the entrepreneur's own words: the log gets its length only.
        log.info(
            "unknown maker space (%d characters typed) from %s", len(answer), message.sender.user_id
        )
        return [
            *reply(message, texts.unknown_space),
            _space_question(message, store.roster),
        ]
    return await _set_space(message, store, found)


async def _after(
    message: IncomingMessage, store: IntakeStore, step: str, data: dict[str, object]
) -> list[OutgoingMessage]:
    """The step after ``step``: the next one, or the summary when a change was asked from it."""
    if step == "phone" or data.get("review"):
        return await _continue(message, store, await store.person(), data)
    return await _ask(message, store, _STEPS[_STEPS.index(step) + 1], data)


def _category_from(answer: str) -> categories.Category | None:
    if answer.isdigit() and 1 <= int(answer) <= len(categories.CATEGORIES):
        return categories.CATEGORIES[int(answer) - 1]
    for category in categories.CATEGORIES:
        if answer in (category.id, category.zh, category.en):
            return category
    return None


def _space_from(roster: Roster, answer: str) -> str | None:
    for candidate in roster.spaces:
        if answer in (candidate.id, candidate.name, candidate.name_en):
            return candidate.id
    return None


async def _set_space(
    message: IncomingMessage, store: IntakeStore, space_id: str
) -> list[OutgoingMessage]:
    texts = desk_texts_for(message.language)
    roster = store.roster
    if space_id not in {s.id for s in roster.spaces}:
        log.warning("unknown maker space %r chosen by %s", space_id[:40], message.sender.user_id)
        return [*reply(message, texts.unknown_space), _space_question(message, roster)]
    person = await store.person()
    await store.settle(person, space_id)
    space = roster.space(space_id).label(message.language)
    confirmation = reply(message, texts.space_set.format(space=space))
    state = await _state(store)
    if state is not None and state.step == "space":
        return [*confirmation, *await _continue(message, store, person, dict(state.data))]
    return list(confirmation)


async def _again(
    message: IncomingMessage, store: IntakeStore, step: str, data: dict[str, object]
) -> list[OutgoingMessage]:
    """Ask the current step again; the summary only while its maker space is still listed."""
    if step == "confirm":
        return await _continue(message, store, await store.person(), data)
    return await _ask(message, store, step, data)


async def _continue(
    message: IncomingMessage,
    store: IntakeStore,
    person: Person,
    data: dict[str, object],
    *,
    confirmed: bool = False,
) -> list[OutgoingMessage]:
    """The maker space if missing; else a guided intake's summary, or the request opens.

    The space is asked again when it left the roster since (a reload); the request opens for
    ``/new text`` at once, and for a guided intake once the summary is confirmed.
    """
    known = {s.id for s in store.roster.spaces}
    if person.space_id not in known:
        return await _ask(message, store, "space", data)
    if data.get("guided") and not confirmed:
        return await _ask(message, store, "confirm", data)
    return await _open(message, store, person, data)


async def _open(
    message: IncomingMessage, store: IntakeStore, person: Person, data: dict[str, object]
) -> list[OutgoingMessage]:
    """End the conversation and open the request, in the same transaction."""
    await store.end()
    phone = data.get("phone")
    command = Open(
        message.channel,
        message.chat_id,
        category_id=str(data["category"]),
        text=str(data["text"]),
        phone=str(phone) if phone else None,
        space_id=str(person.space_id),
    )
    outcome = await store.open(Entrepreneur(person, message.language), command)
    return answer(message, outcome)
