"""What the desk says, and to whom: the group's cards, the entrepreneur's messages, files.

The desk's moves decide *what* happens; this module knows *how* it is told, so a request is
addressed the same way whichever channel each side uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from bot.desk.queries import moves_allowed
from bot.desk.turn import Turn
from bot.domain import categories
from bot.domain.roster.model import Person as RosterPerson
from bot.messages import Attachment, Button, Channel, Intake, Language, OutgoingMessage
from bot.texts.desk import GROUP_TEXTS, DeskTexts, desk_texts_for
from storage.models import Person, Request

__all__ = [
    "GROUP_TEXTS",
    "card_buttons",
    "card_text",
    "card_update",
    "carry",
    "due_text",
    "group_name",
    "language_of",
    "post_card",
    "resolution_buttons",
    "space_name",
    "to_entrepreneur",
    "to_group",
    "to_person",
    "wecom_ids",
]

log = logging.getLogger(__name__)

ComposeText = Callable[[DeskTexts], str]
"""Builds a message from the phrases of the reader's language."""


def language_of(person: Person) -> Language:
    """The language a person reads."""
    return Language(person.language)


def space_name(turn: Turn, space_id: str) -> str:
    """The maker space's name; its stored id once it has left the roster (its requests stay)."""
    return turn.roster.space_name(space_id)


def group_name(turn: Turn, group_id: str) -> str:
    """The duty group's name; its stored id once it has left the roster (its requests stay)."""
    return turn.roster.group_name(group_id)


def due_text(texts: DeskTexts, request: Request) -> tuple[str, str]:
    """The due date as shown, and the "estimated" note when it is provisional."""
    return request.due_date.isoformat(), texts.provisional if request.provisional else ""


def card_text(turn: Turn, request: Request, person: Person | None) -> str:
    """The request as its duty group sees it on the card."""
    texts = GROUP_TEXTS
    shown, note = due_text(texts, request)
    return texts.card.format(
        number=request.number,
        category=categories.by_id(request.category).zh,
        space=space_name(turn, request.space_id),
        who=(person.display_name if person else None) or "创业者",
        phone=f"，电话 {request.phone}" if request.phone else "",
        via=texts.card_via.get(request.channel, request.channel),
        english=texts.card_english if person and person.language == Language.EN else "",
        text=request.text,
        due=shown,
        provisional=note,
        status=texts.status[request.status],
        assignee=(
            texts.card_assignee.format(name=request.assignee_name) if request.assignee_name else ""
        ),
    )


_CARD_BUTTONS = {
    "claim": "claim_button",
    "ask": "ask_button",
    "resolve": "resolve_button",
    "transfer": "transfer_button",
}
"""The moves a card offers as buttons (a reply is written under the card, not pressed)."""


def card_buttons(request: Request) -> tuple[Button, ...]:
    """The moves a member can make on the request now, as buttons under its card."""
    return tuple(
        Button(getattr(GROUP_TEXTS, _CARD_BUTTONS[move]), f"act:{move}:{request.number}")
        for move in moves_allowed(request)
        if move in _CARD_BUTTONS
    )


def _with_reply(request: Request, buttons: tuple[Button, ...]) -> tuple[Button, ...]:
    """A card's buttons with "reply" too, where a reply cannot be written under the card.

    Only on a card that offers moves: a card redrawn to say the request left the group has
    nothing to press.
    """
    if not buttons or "reply" not in moves_allowed(request):
        return buttons
    return (*buttons, Button(GROUP_TEXTS.reply_button, f"act:reply:{request.number}"))


def wecom_ids(people: Iterable[RosterPerson]) -> list[str]:
    """The WeCom UserIDs of the roster's ``people`` who have one, each once, in order."""
    found = (person.id_on(Channel.WECOM.value) for person in people)
    return list(dict.fromkeys(userid for userid in found if userid))


def post_card(
    turn: Turn, request: Request, person: Person | None, *, edit: bool = False
) -> list[OutgoingMessage]:
    """The request's card, with the moves it allows, for its duty group's chats.

    ``edit``: replace the cards already posted instead of posting new ones.
    """
    return to_group(
        turn,
        request,
        card_text(turn, request, person),
        card=not edit,
        edit_card=edit,
        buttons=card_buttons(request),
    )


async def card_update(turn: Turn, request: Request) -> list[OutgoingMessage]:
    """Bring the request's cards in its duty group's chats up to date (status, due date)."""
    person = await turn.session.get(Person, request.person_id)
    return post_card(turn, request, person, edit=True)


def to_group(
    turn: Turn,
    request: Request,
    text: str,
    *,
    card: bool = False,
    edit_card: bool = False,
    buttons: tuple[Button, ...] = (),
    group_id: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> list[OutgoingMessage]:
    """A message to every chat of the request's duty group (the web console reads the log).

    Unless it is the card itself (or replaces it), the message answers under the card, so a
    request's story stays together in a busy group.

    Args:
        turn: This operation.
        request: The request the message is about.
        text: What to say.
        card: The message is the request's card.
        edit_card: The message replaces the request's card.
        buttons: Buttons under the message.
        group_id: Another group than the request's own (the one it was transferred from).
        attachments: Files the entrepreneur sent, passed on where the channel can.
    """
    wanted = group_id or request.group_id
    try:
        group = turn.roster.group(wanted)
    except KeyError:
        # Left the roster (at a start-up, or in a race with a reload): it has no chats any more.
        # The request still shows in the console, to supervisors and admins.
        log.warning(
            "request %s: group %s is not in the roster; nothing posted to its chats",
            request.number,
            wanted,
        )
        return []
    # WeCom has no group chat: each member with a WeCom account gets the message, the card a
    # copy of their own; with no thread to answer under, a message names its request.
    chats = [(Channel(name), chat_id) for name, chat_id in group.chat.items()]
    chats += [(Channel.WECOM, userid) for userid in wecom_ids(group.members)]
    messages = []
    for channel, chat_id in chats:
        if not channel.pushed:
            continue
        said, shown_buttons = text, buttons
        if channel is Channel.WECOM:
            said = (
                text
                if request.number in text
                else GROUP_TEXTS.named.format(number=request.number, text=text)
            )
            shown_buttons = _with_reply(request, buttons) if card or edit_card else buttons
        shown, carried = carry(
            GROUP_TEXTS, said, attachments, channel, note=GROUP_TEXTS.group_attachments_note
        )
        messages.append(
            OutgoingMessage(
                chat_id,
                channel,
                shown,
                buttons=shown_buttons,
                request_id=request.id,
                card=card,
                edit_card=edit_card,
                thread=not (card or edit_card),
                attachments=carried,
            )
        )
    return messages


async def to_entrepreneur(
    turn: Turn,
    request: Request,
    compose: ComposeText,
    buttons: Callable[[DeskTexts], Sequence[Button]] | None = None,
    *,
    attachments: Sequence[Attachment] = (),
) -> list[OutgoingMessage]:
    """A message to the entrepreneur on the channel the request came from, in their language.

    None for a request taken by phone or at the desk: there is no chat to send to, and the
    member tells the caller themselves (the move's event records that they did).

    Args:
        turn: This operation.
        request: The request the message is about.
        compose: Builds the text from the entrepreneur's phrases.
        buttons: Builds the buttons under it, labelled in the same language.
        attachments: Files the commissioner sent, passed on where the channel can.
    """
    if Intake(request.channel).chat is None:
        return []  # no chat: the person need not be read
    person = await turn.session.get(Person, request.person_id)
    return to_person(request, person, compose, buttons, attachments=attachments)


def to_person(
    request: Request,
    person: Person | None,
    compose: ComposeText,
    buttons: Callable[[DeskTexts], Sequence[Button]] | None = None,
    *,
    attachments: Sequence[Attachment] = (),
) -> list[OutgoingMessage]:
    """:func:`to_entrepreneur` with the request's person already read (``None``: gone).

    The writer's units (:mod:`bot.desk.quick_moves`) read the person in plain SQL.
    """
    channel = Intake(request.channel).chat
    if channel is None:
        return []
    language = language_of(person) if person else Language.ZH
    texts = desk_texts_for(language)
    text, carried = carry(texts, compose(texts), attachments, channel)
    return [
        OutgoingMessage(
            request.chat_id,
            channel,
            text,
            buttons=tuple(buttons(texts)) if buttons else (),
            request_id=request.id,
            attachments=carried,
            language=language,
        )
    ]


def carry(
    texts: DeskTexts,
    text: str,
    attachments: Sequence[Attachment],
    channel: Channel,
    *,
    note: str | None = None,
) -> tuple[str, tuple[Attachment, ...]]:
    """The files that can follow the message to ``channel``, and a note in ``text`` for the others.

    A file its platform gave a reference to goes along whatever the channel: a Telegram photo is
    sent on by its ``file_id`` to Telegram, and fetched, stored and uploaded (or linked to) for
    any other channel by the outbox sender just before delivery (:mod:`bot.files`). A file the
    bot cannot fetch (WeChat names a file it does not hand out) is only told of.

    Args:
        texts: The reader's texts.
        text: The message.
        attachments: The files that came with it.
        channel: Where it goes.
        note: The note for files left behind; by default, "ask the commissioner".
    """
    carried = tuple(a for a in attachments if a.channel is not None and a.ref)
    left = [a for a in attachments if a not in carried]
    if left:
        kinds = "、".join(texts.attachment_kinds.get(a.kind, a.kind) for a in left)
        text = f"{text}\n{(note or texts.attachments_note).format(kinds=kinds)}"
    return text, carried


def resolution_buttons(texts: DeskTexts, request: Request) -> tuple[Button, ...]:
    """Confirm, reopen and the five stars, under a resolution."""
    stars = tuple(Button("⭐" * n, f"req:rate:{request.number}:{n}") for n in range(1, 6))
    return (
        Button(texts.confirm_button, f"req:confirm:{request.number}"),
        Button(texts.reopen_button, f"req:reopen:{request.number}"),
        *stars,
    )
