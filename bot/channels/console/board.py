"""The console's board as the page reads it: each request as a card, with its story and moves.

The desk decides what is on the board and in which section (:func:`bot.desk.queries.board`);
this module only says it in the console's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.channels.console.auth import Commissioner
from bot.channels.console.hotline import caller_card, caller_event
from bot.clock import SHANGHAI
from bot.desk.queries import Board, BoardItem, moves_allowed
from bot.domain import categories
from bot.domain.events import EventKind
from bot.domain.lifecycle import Status
from bot.domain.roster.model import Roles, Roster
from bot.files import FileLinks
from bot.messages import Attachment, Channel, Language
from bot.texts.console import CONSOLE_TEXTS
from storage.models import RequestEvent

__all__ = ["card", "demo_people", "listing"]

_SETTLED = (Status.RESOLVED, Status.CLOSED)
"""The statuses in which a request's result is in force."""


def listing(
    roster: Roster,
    who: Commissioner,
    board: Board,
    reports: dict[str, Any] | None,
    links: FileLinks | None = None,
) -> dict[str, Any]:
    """What ``GET /console/api/requests`` answers: who is signed in, and their groups' board.

    ``reports``: the quarterly reports they may download, for the page's picker. ``links``:
    signs the links to the files in the requests' stories.
    """
    groups = sorted(who.roles.member_of)
    district_view = bool(who.roles.supervisor_of)
    return {
        "person": {
            "name": who.person.name,
            "web_id": who.web_id,
            "roles": _role_labels(roster, who.roles),
        },
        "groups": [{"id": g, "name": roster.group_name(g)} for g in groups],
        "reports": reports,
        "district_view": district_view,
        "all_groups": [{"id": g.id, "name": g.name} for g in roster.groups],
        "notice": "" if groups or district_view else CONSOLE_TEXTS.no_groups,
        "sections": {
            section.value: [card(roster, item, links=links) for item in items]
            for section, items in board.sections.items()
        },
        "soon_until": board.soon_until.isoformat(),
    }


def card(
    roster: Roster, item: BoardItem, *, read_only: bool = False, links: FileLinks | None = None
) -> dict[str, Any]:
    """One request as the page draws its card; ``read_only``: offering no moves (supervisors).

    ``links`` signs the links to the files in its story; without it, none are shown.
    """
    texts = CONSOLE_TEXTS
    request, entrepreneur = item.request, item.entrepreneur
    language = entrepreneur.language if entrepreneur else Language.ZH.value
    return {
        "number": request.number,
        "group_id": request.group_id,
        "group": roster.group_name(request.group_id),
        "category": categories.by_id(request.category).zh,
        "space": roster.space_name(request.space_id),
        "entrepreneur": (entrepreneur.display_name if entrepreneur else None) or texts.anonymous,
        "phone": request.phone,
        **caller_card(request),
        "channel": request.channel,
        "channel_label": texts.channels.get(request.channel, request.channel),
        "language": language,
        "language_label": texts.languages.get(language, language),
        "text": request.text,
        "status": request.status,
        "status_label": texts.status.get(request.status, request.status),
        "due_date": request.due_date.isoformat(),
        "provisional": request.provisional,
        "overdue": item.overdue,
        "assignee": request.assignee_name,
        "opened_at": _local(request.opened_at),
        # A reopened request's old result is history (in the timeline), not its result; rows
        # reopened before the desk cleared it still hold it.
        "result": request.result if request.status in _SETTLED else None,
        "events": [_event(roster, event, links) for event in item.events],
        "actions": [] if read_only else moves_allowed(request),
    }


def _event(roster: Roster, event: RequestEvent, links: FileLinks | None) -> dict[str, Any]:
    texts = CONSOLE_TEXTS
    data = event.data or {}
    detail = event.text or ""
    if event.kind == EventKind.OPENED:
        detail = ""  # the request's own text, shown above the timeline
    elif event.kind == EventKind.TRANSFERRED:
        detail = texts.moved.format(
            old=roster.group_name(str(data.get("from", ""))),
            new=roster.group_name(str(data.get("to", ""))),
        )
        if event.text:  # the reason given
            detail = texts.moved_because.format(moved=detail, reason=event.text)
    elif event.kind == EventKind.DUE_CHANGED:
        detail = texts.moved.format(old=data.get("from", ""), new=data.get("to", ""))
    elif event.kind == EventKind.RATED:
        detail = texts.stars.format(stars=data.get("stars", ""))
    what = texts.event.get(event.kind, event.kind)
    if event.kind == EventKind.NOTICE:
        what = texts.notices.get(str(data.get("notice")), what)
    what, detail = caller_event(event.kind, data, what, detail)  # a call's, or a visit's
    return {
        "at": _local(event.at),
        "kind": event.kind,
        "what": what,
        "who": _actor(roster, event.actor),
        "text": detail,
        "files": _files(data, links),
    }


def _files(data: dict[str, Any], links: FileLinks | None) -> list[dict[str, Any]]:
    """The files an event names (an entrepreneur's photo), each with a signed link."""
    files = []
    named = data.get("files")
    for payload in named if isinstance(named, list) and links is not None else ():
        if not isinstance(payload, dict):
            continue
        attachment = Attachment.from_payload(payload)
        url = links.path(attachment) if links is not None else None
        if url is not None:
            files.append({"kind": attachment.kind, "name": attachment.name, "url": url})
    return files


def _actor(roster: Roster, actor: str) -> str:
    if actor == "entrepreneur":
        return CONSOLE_TEXTS.actor_entrepreneur
    if actor == "system":
        return CONSOLE_TEXTS.actor_system
    channel, _, user_id = actor.partition(":")
    person = roster.roles_of(channel, user_id).person
    return person.name if person else actor


def demo_people(roster: Roster) -> list[dict[str, Any]]:
    """Everyone on the demo roster who has a console account, to sign in as."""
    people = []
    for person in roster.people:
        web_id = person.id_on(Channel.WEB.value)
        if web_id:
            roles = roster.roles_of(Channel.WEB.value, web_id)
            people.append(
                {"web_id": web_id, "name": person.name, "roles": _role_labels(roster, roles)}
            )
    return people


def _role_labels(roster: Roster, roles: Roles) -> list[str]:
    texts = CONSOLE_TEXTS
    labels = [
        texts.role_member.format(group=g.name) for g in roster.groups if g.id in roles.member_of
    ]
    labels += [
        texts.role_supervisor.format(district=d.name)
        for d in roster.districts
        if d.id in roles.supervisor_of
    ]
    if roles.is_admin:
        labels.append(texts.role_admin)
    return labels


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
