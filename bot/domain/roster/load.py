"""Reading the roster file: each item checked by its model, then the checks across items.

:func:`load_roster` checks the whole file (its shape: :mod:`.shape`) and raises
:class:`~bot.domain.roster.faults.RosterError` listing every fault as ``file:line: 说明``, so
that one round of fixes is enough. Each item (a district, a space, a group, a rota entry, a
person) is checked on its own; the checks across items (unique ids, references, accounts,
chats, the rota) then read what holds of each item, so a fault is reported once and causes no
others: a group with a misspelt field is still a group the rota may name.

Every top-level key is optional, but a file that lists nobody at all is a fault ("名册为空"):
an empty file is far more often a mistake than a wish. A bot without a roster file uses
:meth:`Roster.empty` instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from bot.domain.roster import faults as say
from bot.domain.roster.faults import RosterError, RosterFault
from bot.domain.roster.model import District, Group, Person, Roster, RotaEntry, Space
from bot.domain.roster.shape import (
    CHANNELS,
    CHAT_CHANNELS,
    DAY,
    DISTRICT,
    GROUP,
    INTEGER_EXAMPLES,
    PEOPLE,
    PERSON,
    ROTA,
    SECTION_LISTS,
    SECTIONS,
    SPACE,
    TEXT,
    ChatIds,
    DistrictItem,
    GroupItem,
    PersonItem,
    Sections,
    Shape,
    SpaceItem,
    account_ids,
)
from knowledge.yaml_lines import (
    Checked,
    FileEntry,
    Issue,
    Lined,
    Loc,
    Malformed,
    Unreadable,
    read_lined,
)

__all__ = ["DEMO_ROSTER", "MIN_GROUP_MEMBERS", "load_roster"]

DEMO_ROSTER = Path(__file__).resolve().parents[2] / "data" / "demo_roster.yaml"
"""The demo roster, shipped inside the package (so an installed bot finds it from any folder);
the bot serves it when ``BOT_ROSTER`` is unset and the demo is safe (:mod:`bot.app`). Commented
field by field: the starting point for a real roster."""

MIN_GROUP_MEMBERS = 2
"""Article 5: commissioners go into the maker spaces in service groups of at least 2."""

_CHATS = ("chat", "supervisors_chat")


def load_roster(path: Path) -> Roster:
    """Read and check the roster file at ``path``.

    Raises:
        RosterError: The file cannot be read, is empty, or has faults; every fault is
            listed with its line.
    """
    path = Path(path)
    try:
        document = read_lined(path)
    except Unreadable as error:
        raise RosterError([RosterFault(path, 0, say.UNREADABLE.format(problem=error))]) from None
    except Malformed as error:
        message = say.YAML_ERROR.format(problem=error.problem)
        raise RosterError([RosterFault(path, error.line, message)]) from None
    return _Reader(path, document).read()


def _guess(typed: str, candidates: Iterable[str]) -> str | None:
    """The candidate an admin most likely meant by ``typed``, if one is close enough."""
    close = difflib.get_close_matches(typed.strip().lower(), list(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


def _known(ids: Iterable[str]) -> str:
    return "、".join(ids) or say.NONE


def _shown(value: object) -> str:
    """A value as a message quotes it: text as written, nothing for null, … for a list."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else "…"


class _Reader:
    """Checks one roster file, collecting every fault instead of stopping at the first."""

    def __init__(self, path: Path, document: Lined) -> None:
        self.path = path
        self.doc = document
        self.faults: list[RosterFault] = []
        # Spaces some group names under onsite, faulty weekday or not (no cascade).
        self.served: set[str] = set()
        # Who each account belongs to, by the first listing that names it, and its line.
        self.owners: dict[tuple[str, str], tuple[str, int]] = {}

    def add(self, line: int, message: str) -> None:
        self.faults.append(RosterFault(self.path, line, message))

    def fail(self) -> RosterError:
        # Stable sort: faults on one line keep the order they were found in.
        return RosterError(sorted(self.faults, key=lambda fault: fault.line))

    def read(self) -> Roster:
        root = self.doc.data
        if root is None or root == "":
            self.add(0, say.EMPTY)
            raise self.fail()
        if not isinstance(root, dict):
            self.add(self.doc.line(()), say.NOT_A_MAPPING.format(known=_known(SECTIONS)))
            raise self.fail()
        section_lines = self.sections()
        districts = self.districts()
        spaces = self.spaces(districts)
        groups = self.groups(districts, spaces)
        if root.get("groups") in (None, "") or isinstance(root["groups"], list):
            # A groups section that is not even a list is reported once, not once per space.
            for space_id, (_, where) in spaces.items():
                if space_id not in self.served:
                    self.add(self.doc.line(where), say.UNSERVED.format(space=space_id))
        rota = self.rota(spaces, groups)
        admins = self.people(("admins",), "管理员", "管理员名单")
        if self.faults:
            raise self.fail()
        roster = Roster(
            districts=(d for d, _ in districts.values() if d is not None),
            spaces=(s for s, _ in spaces.values() if s is not None),
            groups=(g for g, _ in groups.values() if g is not None),
            rota=rota,
            admins=admins,
            source=self.path,
            section_lines=section_lines,
        )
        if not (roster.districts or roster.spaces or roster.groups or roster.admins):
            self.add(0, say.EMPTY)
            raise self.fail()
        return roster

    # --- items, and the words for what is wrong with them ------------------------------------

    def sections(self) -> dict[str, int]:
        """Check the top level; the line of each section's key."""
        keys = self.doc.keys(())
        for issue in self.doc.check(Sections).issues:
            key = str(issue.loc[0])
            if issue.kind == "tuple_type":
                what, example = SECTION_LISTS[key]
                self.add(issue.line, say.NOT_A_LIST.format(what=what, example=example))
            elif issue.kind == "duplicate_key" and key in SECTIONS:
                self.add(issue.line, say.DUPLICATE_KEY.format(key=key))
            elif issue.kind in ("extra_forbidden", "duplicate_key"):
                earlier = keys[: keys.index(key)]
                guess = _guess(key, (s for s in SECTIONS if s not in earlier))
                hint = say.HINT.format(name=guess) if guess else ""
                self.add(
                    issue.line, say.UNKNOWN_KEY.format(key=key, hint=hint, known=_known(SECTIONS))
                )
            else:
                self.add(issue.line, say.UNEXPECTED.format(what="名册", problem=issue.message))
        return {key: self.doc.key_line((key,)) for key in keys if key in SECTIONS}

    def item(
        self, loc: Loc, shape: Shape, label: str | None = None
    ) -> tuple[Checked[FileEntry], str]:
        """Check one item with its model and report its faults; how messages name it."""
        label = label or shape.label
        checked = self.doc.check(shape.model, loc)
        what = self.what(loc, shape, label)
        known = shape.known
        present = {key for key in self.doc.keys(loc) if key in known}
        unknown, rest = [], []
        for issue in checked.issues:
            field = issue.loc[len(loc) :]
            if len(field) != 1 or issue.kind not in ("extra_forbidden", "duplicate_key"):
                rest.append(issue)
            elif issue.kind == "duplicate_key" and field[0] in known:
                self.add(issue.line, say.DUPLICATE_FIELD.format(what=what, field=field[0]))
            else:
                unknown.append(issue)
        # A misspelt field is one fault ("memebers: is it members?"), not also a missing one.
        suggested = set()
        for issue in unknown:
            key = str(issue.loc[-1])
            guess = _guess(key, (f for f in known if f not in present and f not in suggested))
            suggested.add(guess)
            hint = say.HINT.format(name=guess) if guess else ""
            message = say.UNKNOWN_FIELD.format(what=what, field=key, hint=hint, known=_known(known))
            self.add(issue.line, message)
        for issue in rest:
            field = issue.loc[len(loc) :]
            if issue.kind == "missing" and field[0] not in suggested:
                self.add(issue.line, say.MISSING_FIELD.format(what=what, field=field[0]))
        for issue in rest:
            field = issue.loc[len(loc) :]
            if issue.kind == "missing":
                continue
            if not field and issue.kind == "model_type":
                self.add(issue.line, say.NOT_AN_ITEM.format(what=label, example=shape.example))
            elif issue.kind == "no_onsite":
                self.add(self.doc.key_line(issue.loc), say.NO_ONSITE.format(what=what))
            else:
                self.add(issue.line, self.word(issue, field, what))
        return checked, what

    def what(self, loc: Loc, shape: Shape, label: str) -> str:
        """How messages name an item: 服务小组 g1 (ids spaced off), 成员“张伟” (names quoted)."""
        name = self.doc.value(TEXT, (*loc, shape.named_by)) if shape.named_by else None
        if not name:
            return label
        return f"{label}“{name}”" if shape.named_by == "name" else f"{label} {name} "

    def word(self, issue: Issue, field: Loc, what: str) -> str:
        """The message for a fault inside an item's field."""
        name, kind, value = str(field[0]), issue.kind, _shown(issue.input)
        channel = str(field[-1])
        simple = {
            "empty": say.EMPTY_FIELD,
            "not_text": say.NOT_TEXT,
            "empty_account": say.EMPTY_ACCOUNT,
            "dict_type": say.NOT_ONSITE_MAPPING,
        }
        if kind in simple:
            return simple[kind].format(what=what, field=name, channel=channel)
        if kind == "bad_id":
            return say.BAD_ID.format(what=what, id=value)
        if kind == "bad_date":
            return say.BAD_DATE.format(what=what, field=name, value=value)
        if kind == "not_integer":
            account = "群聊 id" if name in _CHATS else "用户 id"
            example = INTEGER_EXAMPLES[account]
            return say.NOT_INTEGER.format(what=what, kind=account, value=value, example=example)
        if kind == "model_type" and name in _CHATS:
            return say.NOT_A_CHAT_MAPPING.format(what=what, field=name)
        if kind == "extra_forbidden" and name in _CHATS:
            known = _known(CHAT_CHANNELS)
            return say.UNKNOWN_CHANNEL.format(what=what, field=name, channel=channel, known=known)
        if kind == "duplicate_key" and len(field) == 2:
            return say.DUPLICATE_FIELD.format(what=f"{what}的 {name} ", field=channel)
        if kind == "tuple_type" and name in PEOPLE:
            listing = f"{what}的{PEOPLE[name]}名单"
            return say.NOT_A_LIST.format(what=listing, example=PERSON.example)
        if kind == "bad_weekday":
            value = "…" if isinstance(issue.input, list | dict) else str(issue.input or "")
            return say.BAD_WEEKDAY.format(what=f"{what}的 onsite ", space=channel, value=value)
        return say.UNEXPECTED.format(what=what, problem=issue.message)

    # --- people -------------------------------------------------------------------------------

    def person(self, loc: Loc, label: str) -> Person | None:
        checked, what = self.item(loc, PERSON, label)
        # A misspelt or repeated field ("telegarm:") was reported already; it may be the account.
        misspelt = any(
            issue.kind in ("extra_forbidden", "duplicate_key") and len(issue.loc) == len(loc) + 1
            for issue in checked.issues
        )
        listing = self.doc.at(loc)
        if isinstance(listing, dict) and not misspelt and not listing.keys() & set(CHANNELS):
            self.add(self.doc.line(loc), say.NO_ACCOUNT.format(what=what))
            return None
        if not isinstance(checked.value, PersonItem) or checked.issues:
            return None
        return Person(checked.value.name, account_ids(checked.value))

    def people(self, loc: Loc, label: str, where: str) -> tuple[Person, ...]:
        """A list of people; the same account twice in one list is a fault."""
        people = []
        seen: dict[tuple[str, str], Loc] = {}
        for item in self.doc.items(loc):
            person = self.person(item, label)
            if person is None:
                continue
            people.append(person)
            line = self.doc.line(item)
            for account in person.ids.items():
                channel, user_id = account
                first = seen.setdefault(account, item)
                if first != item:
                    message = say.DUPLICATE_PERSON.format(
                        channel=channel, id=user_id, where=where, line=self.doc.line(first)
                    )
                    self.add(line, message)
                    continue
                # Roles follow accounts: an account typed into the wrong person's listing
                # would hand that person's roles to someone else.
                other, other_line = self.owners.setdefault(account, (person.name, line))
                if other != person.name:
                    message = say.OTHER_PERSON.format(
                        channel=channel, id=user_id, line=other_line, other=other, name=person.name
                    )
                    self.add(line, message)
        return tuple(people)

    # --- sections -----------------------------------------------------------------------------

    def unique(self, kind: str, item_id: str, loc: Loc, seen: dict[str, Loc]) -> bool:
        first = seen.setdefault(item_id, loc)
        if first != loc:
            line = self.doc.line(first)
            self.add(self.doc.line(loc), say.DUPLICATE_ID.format(kind=kind, id=item_id, line=line))
            return False
        return True

    def district_of(self, loc: Loc, what: str, districts: Mapping[str, object]) -> None:
        district = self.doc.value(TEXT, (*loc, "district"))
        if district is not None and district not in districts:
            known = _known(districts)
            message = say.UNKNOWN_DISTRICT.format(what=what, district=district, known=known)
            self.add(self.doc.line((*loc, "district")), message)

    def districts(self) -> dict[str, tuple[District | None, Loc]]:
        found: dict[str, tuple[District | None, Loc]] = {}
        seen: dict[str, Loc] = {}
        for loc in self.doc.items(("districts",)):
            checked, what = self.item(loc, DISTRICT)
            # An id in the wrong form is reported, and still names its item for the other checks.
            # An item without an id is still read through, so that its other faults are
            # reported in the same round; it just does not join the roster.
            district_id = self.doc.value(TEXT, (*loc, "id"))
            keep = district_id is not None and self.unique("区", district_id, (*loc, "id"), seen)
            supervisors = self.people((*loc, "supervisors"), f"{what}的督导", f"{what}的督导名单")
            if keep and district_id is not None:
                model = checked.value
                district = None
                if isinstance(model, DistrictItem):
                    chats = account_ids(model.supervisors_chat)
                    district = District(model.id, model.name, supervisors, chats)
                found[district_id] = (district, loc)
        return found

    def spaces(self, districts: Mapping[str, object]) -> dict[str, tuple[Space | None, Loc]]:
        found: dict[str, tuple[Space | None, Loc]] = {}
        seen: dict[str, Loc] = {}
        for loc in self.doc.items(("spaces",)):
            checked, what = self.item(loc, SPACE)
            space_id = self.doc.value(TEXT, (*loc, "id"))
            keep = space_id is not None and self.unique("众创空间", space_id, (*loc, "id"), seen)
            self.district_of(loc, what, districts)
            if keep and space_id is not None:
                model = checked.value
                space = None
                if isinstance(model, SpaceItem):
                    space = Space(model.id, model.name, model.district)
                found[space_id] = (space, loc)
        return found

    def groups(
        self, districts: Mapping[str, object], spaces: Mapping[str, object]
    ) -> dict[str, tuple[Group | None, Loc]]:
        found: dict[str, tuple[Group | None, Loc]] = {}
        seen: dict[str, Loc] = {}
        chats_taken: dict[tuple[str, str], tuple[str, Loc]] = {}
        for loc in self.doc.items(("groups",)):
            checked, what = self.item(loc, GROUP)
            group_id = self.doc.value(TEXT, (*loc, "id"))
            keep = group_id is not None and self.unique("服务小组", group_id, (*loc, "id"), seen)
            self.district_of(loc, what, districts)
            chats = account_ids(self.doc.value(ChatIds, (*loc, "chat")))
            for channel, chat_id in chats.items():
                where = (*loc, "chat", channel)
                owner, first = chats_taken.setdefault((channel, chat_id), (what, where))
                if first != where:
                    line = self.doc.line(first)
                    message = say.CHAT_TAKEN.format(
                        channel=channel, id=chat_id, owner=owner, line=line
                    )
                    self.add(self.doc.line(where), message)
            members = self.members(loc, what)
            self.onsite(loc, what, spaces)
            if keep and group_id is not None:
                model = checked.value
                group = None
                if isinstance(model, GroupItem):
                    onsite = dict(model.onsite)
                    group = Group(model.id, model.name, model.district, chats, members, onsite)
                found[group_id] = (group, loc)
        return found

    def members(self, loc: Loc, what: str) -> tuple[Person, ...]:
        where = (*loc, "members")
        members = self.people(where, f"{what}的成员", f"{what}的成员名单")
        if not self.doc.has(where):
            return members  # reported as a missing field
        # Members that are not a list at all were reported as such. Count what is listed,
        # faulty entries included: one typo in a member is one fault, not two.
        listed = self.doc.at(where)
        if isinstance(listed, list) or listed in (None, ""):
            count = len(listed) if isinstance(listed, list) else 0
            if count < MIN_GROUP_MEMBERS:
                message = say.TOO_FEW_MEMBERS.format(
                    what=what, count=count, minimum=MIN_GROUP_MEMBERS
                )
                self.add(self.doc.key_line(where), message)
        return members

    def onsite(self, loc: Loc, what: str, spaces: Mapping[str, object]) -> None:
        """Note the spaces a group serves; each must be in the roster."""
        for space_id in self.doc.keys((*loc, "onsite")):
            self.served.add(space_id)
            if space_id not in spaces:
                message = say.UNKNOWN_SPACE.format(
                    what=f"{what}的 onsite ", space=space_id, known=_known(spaces)
                )
                self.add(self.doc.key_line((*loc, "onsite", space_id)), message)

    def rota(self, spaces: Mapping[str, object], groups: Mapping[str, object]) -> list[RotaEntry]:
        entries: list[tuple[RotaEntry, Loc]] = []
        for loc in self.doc.items(("rota",)):
            _, what = self.item(loc, ROTA)
            space = self.doc.value(TEXT, (*loc, "space"))
            group = self.doc.value(TEXT, (*loc, "group"))
            first = self.doc.value(DAY, (*loc, "from"))
            last = self.doc.value(DAY, (*loc, "to"))
            faulty = None in (space, group, first, last)
            if space is not None and space not in spaces:
                message = say.UNKNOWN_SPACE.format(what=what, space=space, known=_known(spaces))
                self.add(self.doc.line((*loc, "space")), message)
                faulty = True
            if group is not None and group not in groups:
                message = say.UNKNOWN_GROUP.format(what=what, group=group, known=_known(groups))
                self.add(self.doc.line((*loc, "group")), message)
                faulty = True
            if first is not None and last is not None and first > last:
                message = say.REVERSED.format(what=what, first=first, last=last)
                self.add(self.doc.line((*loc, "from")), message)
                faulty = True
            if faulty or space is None or group is None or first is None or last is None:
                continue
            for other, other_loc in entries:
                if other.space == space and first <= other.last_day and other.first_day <= last:
                    message = say.OVERLAP.format(
                        space=space,
                        first=first,
                        last=last,
                        line=self.doc.line(other_loc),
                        other_first=other.first_day,
                        other_last=other.last_day,
                    )
                    self.add(self.doc.line(loc), message)
                    break
            entries.append((RotaEntry(space, group, first, last), loc))
        return [entry for entry, _ in entries]
