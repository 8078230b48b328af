"""The roster's model: districts, maker spaces, service groups, the rota, supervisors and admins.

Roles come from the roster only (DESIGN, "The roster"): a person not listed as a member of a
group cannot act on that group's requests. :mod:`bot.domain.roster.load` reads and checks the
file admins edit; this module holds what it builds, and answers who is who.

Channel ids are kept as strings (Telegram ids are integers in the file, WeChat openids and web
sign-in ids are text), so every lookup is keyed by ``(channel, user_id)`` strings, the way
channel adapters report senders.

Roles follow accounts, not names: a listing gives its role to the accounts written in it and to
no others, so a member listed in a second group with Telegram only acts for that group on
Telegram only. That keeps the rule one an admin can check by reading one listing; in return,
one account listed under two different names is a fault, since a mistyped id would otherwise
hand one person's roles to another.

The group on duty for a space on a day is the rota entry covering the day, else the first
group in file order that lists the space under ``onsite``; hence every space must be listed
under some group's ``onsite``, and a space's rota entries must not overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

from bot.messages import Language, Sender

__all__ = [
    "District",
    "Group",
    "Person",
    "Roles",
    "Roster",
    "RotaEntry",
    "Space",
    "Weekday",
]


class Weekday(IntEnum):
    """A day of the week, numbered as :meth:`datetime.date.weekday` numbers them."""

    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6

    @property
    def code(self) -> str:
        """The roster's spelling: ``mon`` … ``sun``."""
        return self.name.lower()

    @property
    def zh(self) -> str:
        """The Chinese name: 周一 … 周日."""
        return "周" + "一二三四五六日"[self.value]

    @classmethod
    def parse(cls, text: str) -> Weekday | None:
        """The weekday spelt ``text`` (``mon`` … ``sun``, any case), or None."""
        return cls.__members__.get(text.strip().upper())


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the roster lists, with their account on each channel.

    Attributes:
        name: How the bot names them to others (a commissioner's name on a reply).
        ids: Channel (``telegram``, ``wechat``, ``wecom``, ``web``) → user id, as text; Telegram ids
            are integers written as text.
    """

    name: str
    ids: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict cannot change a roster that is in service.
        object.__setattr__(self, "ids", MappingProxyType(dict(self.ids)))

    def id_on(self, channel: str) -> str | None:
        """Their user id on ``channel``, if they have one there."""
        return self.ids.get(str(channel))

    @property
    def accounts(self) -> frozenset[tuple[str, str]]:
        """Every ``(channel, user_id)`` that is this person."""
        return frozenset(self.ids.items())


@dataclass(frozen=True, slots=True)
class District:
    """A district (区) that sends commissioners into its maker spaces.

    Attributes:
        id: Stable kebab-case id.
        name: Display name, such as 宝坻区.
        supervisors: District / 市科委 staff who receive escalations and reports.
        supervisors_chat: Channel → chat id of the supervisors' chat.
    """

    id: str
    name: str
    supervisors: tuple[Person, ...] = ()
    supervisors_chat: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "supervisors_chat", MappingProxyType(dict(self.supervisors_chat)))


@dataclass(frozen=True, slots=True)
class Space:
    """A maker space (众创空间) that entrepreneurs work in.

    Attributes:
        id: Stable kebab-case id.
        name: Display name, as entrepreneurs know it.
        district: Id of the district it belongs to.
        name_en: Its English name, for people who use the bot in English.
    """

    id: str
    name: str
    district: str
    name_en: str | None = None

    def label(self, language: Language) -> str:
        """The space's name in ``language`` (the Chinese name where it has no English one)."""
        return self.name_en if language is Language.EN and self.name_en else self.name


@dataclass(frozen=True, slots=True)
class Group:
    """A service group (服务小组) of commissioners.

    Attributes:
        id: Stable kebab-case id.
        name: Display name, such as 宝坻区服务一组.
        district: Id of the district that sends it.
        chat: Channel → chat id of the group's chat, where request cards go.
        members: The commissioners; only they act on the group's requests.
        onsite: Space id → the weekday the group holds office there (Article 6).
    """

    id: str
    name: str
    district: str
    chat: Mapping[str, str] = field(default_factory=dict, hash=False)
    members: tuple[Person, ...] = ()
    onsite: Mapping[str, Weekday] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chat", MappingProxyType(dict(self.chat)))
        object.__setattr__(self, "onsite", MappingProxyType(dict(self.onsite)))


@dataclass(frozen=True, slots=True)
class RotaEntry:
    """A group on duty for a space over a period, instead of the space's on-site group.

    Attributes:
        space: Id of the maker space.
        group: Id of the group on duty.
        first_day: First day of the period (the file's ``from``).
        last_day: Last day of the period, included (the file's ``to``).
    """

    space: str
    group: str
    first_day: date
    last_day: date

    def covers(self, day: date) -> bool:
        """Whether ``day`` (a Shanghai date) falls in the period."""
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True, slots=True)
class Roles:
    """What the roster lets one channel account do.

    Attributes:
        person: Their first listing (supervisors, then group members, then admins), or
            None for someone the roster does not list, such as an entrepreneur.
        is_admin: Listed under ``admins``.
        supervisor_of: Ids of the districts they supervise.
        member_of: Ids of the groups they are a member of.
        unverified: The roster lists the account, but the channel could not vouch that the
            message came from it (WeChat's plain mode), so none of its roles apply: every
            other field is empty.
    """

    person: Person | None = None
    is_admin: bool = False
    supervisor_of: frozenset[str] = frozenset()
    member_of: frozenset[str] = frozenset()
    unverified: bool = False


class Roster:
    """Who is who: districts, spaces, groups, the rota, supervisors and admins.

    Immutable once built and safe to share; a reload builds a new one. Build one from a file
    with :func:`bot.domain.roster.load.load_roster`, which validates it; the constructor trusts
    its arguments.
    """

    __slots__ = (
        "_accounts",
        "_admin_accounts",
        "_admins",
        "_by_chat",
        "_districts",
        "_groups",
        "_members",
        "_onsite_group",
        "_rota",
        "_rota_by_space",
        "_section_lines",
        "_spaces",
        "_supervisor_of",
        "source",
    )

    def __init__(
        self,
        *,
        districts: Iterable[District] = (),
        spaces: Iterable[Space] = (),
        groups: Iterable[Group] = (),
        rota: Iterable[RotaEntry] = (),
        admins: Iterable[Person] = (),
        source: Path | None = None,
        section_lines: Mapping[str, int] | None = None,
    ) -> None:
        """Index the parts for lookups.

        Args:
            districts: The districts, in file order.
            spaces: The maker spaces, in file order (the order entrepreneurs choose from).
            groups: The service groups, in file order (the first to list a space on site
                is its duty group outside the rota).
            rota: The rota entries.
            admins: The admins.
            source: The file it was read from, for messages.
            section_lines: Section (``spaces``…) → the line of its key in ``source``.
        """
        self.source = source
        self._section_lines = MappingProxyType(dict(section_lines or {}))
        self._districts = {d.id: d for d in districts}
        self._spaces = {s.id: s for s in spaces}
        self._groups = {g.id: g for g in groups}
        self._rota = tuple(rota)
        self._admins = tuple(admins)
        self._rota_by_space: dict[str, list[RotaEntry]] = {}
        for entry in self._rota:
            self._rota_by_space.setdefault(entry.space, []).append(entry)
        self._onsite_group: dict[str, Group] = {}
        self._by_chat: dict[tuple[str, str], Group] = {}
        for group in self._groups.values():
            for space_id in group.onsite:
                self._onsite_group.setdefault(space_id, group)
            for chat in group.chat.items():
                self._by_chat.setdefault(chat, group)
        self._accounts: dict[tuple[str, str], Person] = {}
        self._supervisor_of: dict[tuple[str, str], set[str]] = {}
        self._members: dict[tuple[str, str], set[str]] = {}
        # The first listing names the person: supervisors, then members, then admins.
        for district in self._districts.values():
            for person in district.supervisors:
                self._index(person, self._supervisor_of, district.id)
        for group in self._groups.values():
            for person in group.members:
                self._index(person, self._members, group.id)
        self._admin_accounts = frozenset(a for person in self._admins for a in person.accounts)
        for person in self._admins:
            for account in person.accounts:
                self._accounts.setdefault(account, person)

    def _index(self, person: Person, table: dict[tuple[str, str], set[str]], owner: str) -> None:
        for account in person.accounts:
            self._accounts.setdefault(account, person)
            table.setdefault(account, set()).add(owner)

    @classmethod
    def empty(cls) -> Roster:
        """A roster that lists nobody: no spaces (so no requests), no admins."""
        return cls()

    def __repr__(self) -> str:
        return (
            f"<Roster {self.source or '(in memory)'}: {len(self._districts)} districts, "
            f"{len(self._spaces)} spaces, {len(self._groups)} groups, "
            f"{len(self._rota)} rota entries, {len(self._admins)} admins>"
        )

    @property
    def districts(self) -> tuple[District, ...]:
        """The districts, in file order."""
        return tuple(self._districts.values())

    @property
    def spaces(self) -> tuple[Space, ...]:
        """The maker spaces, in file order."""
        return tuple(self._spaces.values())

    @property
    def groups(self) -> tuple[Group, ...]:
        """The service groups, in file order."""
        return tuple(self._groups.values())

    @property
    def rota(self) -> tuple[RotaEntry, ...]:
        """The rota entries, in file order."""
        return self._rota

    @property
    def admins(self) -> tuple[Person, ...]:
        """The admins, in file order."""
        return self._admins

    @property
    def admin_accounts(self) -> frozenset[tuple[str, str]]:
        """Every ``(channel, user_id)`` of an admin."""
        return self._admin_accounts

    @property
    def people(self) -> tuple[Person, ...]:
        """Every listing (supervisors, members, admins, in that order); identical ones once."""
        listings = [
            *(person for district in self._districts.values() for person in district.supervisors),
            *(person for group in self._groups.values() for person in group.members),
            *self._admins,
        ]
        return tuple(dict.fromkeys(listings))

    def section_line(self, section: str) -> int:
        """The line of ``section`` (``spaces``, ``groups``…) in the file; 0 if it has none."""
        return self._section_lines.get(section, 0)

    def district(self, district_id: str) -> District:
        """The district with id ``district_id``.

        Raises:
            KeyError: No such district.
        """
        return self._districts[district_id]

    def space(self, space_id: str) -> Space:
        """The maker space with id ``space_id``.

        Raises:
            KeyError: No such space (it may have left the roster on a reload).
        """
        return self._spaces[space_id]

    def group(self, group_id: str) -> Group:
        """The service group with id ``group_id``.

        Raises:
            KeyError: No such group (it may have left the roster on a reload).
        """
        return self._groups[group_id]

    def space_name(self, space_id: str, language: Language = Language.ZH) -> str:
        """The maker space's name in ``language``; its id once it has left the roster.

        A request keeps the ids it was opened with, and is still shown after a reload
        removed its space or group.
        """
        found = self._spaces.get(space_id)
        return found.label(language) if found else space_id

    def group_name(self, group_id: str) -> str:
        """The service group's name; its id once it has left the roster (see :meth:`space_name`)."""
        found = self._groups.get(group_id)
        return found.name if found else group_id

    def duty_group(self, space_id: str, day: date) -> Group:
        """The group on duty for a maker space on ``day`` (a Shanghai date).

        The rota entry covering ``day`` wins; otherwise the first group, in file order, that
        holds office on site at the space.

        Raises:
            KeyError: The space is unknown, or (only in a roster built in code) no group
                serves it.
        """
        for entry in self._rota_by_space.get(space_id, ()):
            if entry.covers(day):
                return self._groups[entry.group]
        if space_id not in self._spaces:
            raise KeyError(space_id)
        return self._onsite_group[space_id]

    def roles_of(self, channel: str, user_id: str) -> Roles:
        """What the account ``user_id`` on ``channel`` may do; nothing for a stranger."""
        account = (str(channel), str(user_id))
        return Roles(
            person=self._accounts.get(account),
            is_admin=account in self._admin_accounts,
            supervisor_of=frozenset(self._supervisor_of.get(account, ())),
            member_of=frozenset(self._members.get(account, ())),
        )

    def roles_for(self, sender: Sender) -> Roles:
        """What the sender of a message may do: their account's roles, if the channel vouched.

        The one place handlers learn roles from. A channel that cannot tell who really sent a
        message (WeChat's plain mode signs no body) grants none, however the roster lists the
        account; :attr:`Roles.unverified` then says there were some to withhold.
        """
        roles = self.roles_of(sender.channel.value, sender.user_id)
        if sender.verified or roles.person is None:
            return roles
        return Roles(unverified=True)

    def is_member(self, group_id: str, channel: str, user_id: str) -> bool:
        """Whether the account ``user_id`` on ``channel`` is a member of the group."""
        return group_id in self._members.get((str(channel), str(user_id)), ())

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        """The service group whose chat ``chat_id`` on ``channel`` is, if any."""
        return self._by_chat.get((str(channel), str(chat_id)))

    def supervisors_chat(self, district_id: str) -> Mapping[str, str]:
        """Channel → chat id of a district's supervisors' chat; empty when it has none."""
        district = self._districts.get(district_id)
        return district.supervisors_chat if district else MappingProxyType({})
