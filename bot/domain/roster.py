"""The roster: districts, maker spaces, service groups, the rota, supervisors and admins.

Roles come from the roster only (DESIGN, "The roster"): a person not listed as a member of a
group cannot act on that group's requests. The roster is read from a YAML file that admins
edit; :meth:`Roster.load` checks the whole file and raises :class:`RosterError` listing every
fault as ``file:line: 说明`` in Chinese, so one round of fixes is enough.

The file (see ``bot/data/demo_roster.yaml`` for a commented one)::

    districts:                       # 区：id, name, supervisors (people), supervisors_chat
      - {id: baodi, name: 宝坻区, supervisors: [{name: 区科委值班, telegram: 9101}],
         supervisors_chat: {telegram: -1009100000001}}
    spaces:                          # 众创空间：id, name, district
      - {id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}
    groups:                          # 服务小组：id, name, district, chat, members, onsite
      - id: baodi-g1
        name: 宝坻区服务一组
        district: baodi
        chat: {telegram: -1002000000001}
        members:                     # at least 2 (Article 5)
          - {name: 张伟, telegram: 2001, wechat: o-zhangwei, web: zhangwei}
          - {name: 李娜, telegram: 2002}
        onsite: {baodi-eco: mon}     # at least one on-site day a week (Article 6)
    rota:                            # who is on duty for a space from..to (inclusive)
      - {space: baodi-eco, group: baodi-g1, from: 2026-12-01, to: 2026-12-31}
    admins:
      - {name: 管理员, telegram: 9001, web: admin}

Every top-level key is optional, but a file that lists nobody at all is a fault ("名册为空"):
an empty file is far more often a mistake than a wish. A bot without a roster file uses
:meth:`Roster.empty` instead.

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

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

import yaml

from bot.messages import Channel, Sender

__all__ = [
    "DEMO_ROSTER",
    "MIN_GROUP_MEMBERS",
    "District",
    "Group",
    "Person",
    "Roles",
    "Roster",
    "RosterError",
    "RosterFault",
    "RotaEntry",
    "Space",
    "Weekday",
    "load_admins",
]

DEMO_ROSTER = Path(__file__).resolve().parents[1] / "data" / "demo_roster.yaml"
"""The demo roster, shipped inside the package (so an installed bot finds it from any folder);
the bot serves it when ``BOT_ROSTER`` is unset and the demo is safe (:mod:`bot.app`). Commented
field by field: the starting point for a real roster."""

MIN_GROUP_MEMBERS = 2
"""Article 5: commissioners go into the maker spaces in service groups of at least 2."""

# libyaml's parser is much faster and keeps the line marks the fault messages need.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SECTIONS = ("districts", "spaces", "groups", "rota", "admins")
_CHANNELS = ("telegram", "wechat", "web")
"""The channels a person or chat can be reached on (bot.messages.Channel), in display order."""
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_NULL_TAG = "tag:yaml.org,2002:null"

# Messages to the admin, in one place. Each says what is wrong and how to put it right.
_UNREADABLE = "无法读取名册文件：{problem}"
_YAML_ERROR = "YAML 格式错误：{problem}"
_EMPTY = (
    "名册为空：请至少列出管理员（admins），"
    "或区（districts）、众创空间（spaces）和服务小组（groups）"
)
_NOT_A_MAPPING = "名册顶层应是“键: 值”的映射（可用的键：{known}）"
_UNKNOWN_KEY = "未知的键“{key}”{hint}（可用的键：{known}）"
_DUPLICATE_KEY = "键“{key}”出现了两次，请合并为一处"
_NOT_A_LIST = "{what}应是列表（每项以“- ”开头），例如 {example}"
_NOT_AN_ITEM = "{what}应是“字段: 值”的映射，例如 {example}"
_UNKNOWN_FIELD = "{what}中有未知字段“{field}”{hint}（可用字段：{known}）"
_HINT = "，是不是“{name}”？"
_DUPLICATE_FIELD = "{what}中字段“{field}”出现了两次"
_MISSING_FIELD = "{what}缺少必填字段“{field}”"
_EMPTY_FIELD = "{what}的字段“{field}”不能为空"
_NOT_TEXT = "{what}的字段“{field}”应是一段文字"
_BAD_ID = "{what}的 id“{id}”应由小写字母、数字和连字符组成（例如 baodi-g1）"
_DUPLICATE_ID = "{kind} id“{id}”重复，第一次出现在第 {line} 行"
_UNKNOWN_DISTRICT = "{what}所属的区“{district}”不在 districts 中（已有：{known}）"
_NO_ACCOUNT = "{what}没有任何渠道账号：请至少写 telegram、wechat 或 web 中的一个"
_NOT_INTEGER = "{what}的 telegram {kind}“{value}”应是整数，例如 {example}"
_EMPTY_ACCOUNT = "{what}的 {channel} 账号不能为空"
_DUPLICATE_PERSON = "{channel} 账号 {id} 在{where}中列了两次（第 {line} 行已列出）"
_OTHER_PERSON = (
    "{channel} 账号 {id} 在第 {line} 行属于“{other}”，这里却写作“{name}”："
    "同一账号只能是同一个人，请核对账号或统一姓名"
)
_NOT_A_CHAT_MAPPING = (
    "{what}的 {field} 应是“渠道: 群聊 id”的映射，例如 {{telegram: -1002000000001}}"
)
_UNKNOWN_CHANNEL = "{what}的 {field} 中有未知的渠道“{channel}”（可用：{known}）"
_CHAT_TAKEN = "群聊 {channel} {id} 已是{owner}的群（第 {line} 行），每个服务小组需要自己的群"
_TOO_FEW_MEMBERS = "{what}只有 {count} 名成员，第五条要求每组至少 {minimum} 人"
_NO_ONSITE = (
    "{what}没有安排现场办公日（onsite），"
    "第六条要求每周至少 1 个工作日到众创空间现场办公，例如 onsite: {{baodi-eco: mon}}"
)
_NOT_ONSITE_MAPPING = "{what}的 onsite 应是“众创空间 id: 星期几”的映射，例如 {{baodi-eco: mon}}"
_UNKNOWN_SPACE = "{what}中的众创空间“{space}”不在 spaces 中（已有：{known}）"
_BAD_WEEKDAY = (
    "{what}中 {space} 的现场办公日“{value}”无效：请写 mon、tue、wed、thu、fri、sat 或 sun"
)
_UNSERVED = "众创空间 {space} 没有服务小组负责：请在某个服务小组的 onsite 中加上“{space}: 星期几”"
_UNKNOWN_GROUP = "{what}中的服务小组“{group}”不在 groups 中（已有：{known}）"
_BAD_DATE = "{what}的 {field} 日期“{value}”无效：应写成 YYYY-MM-DD，如 2026-12-01"
_REVERSED = "{what}的开始日期 {first} 晚于结束日期 {last}"
_OVERLAP = (
    "众创空间 {space} 的轮值安排 {first} 至 {last} 与第 {line} 行的安排"
    "（{other_first} 至 {other_last}）重叠，同一天只能由一个服务小组值班"
)
_NONE = "无"


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
        ids: Channel (``telegram``, ``wechat``, ``web``) → user id, as text; Telegram ids
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
    """

    id: str
    name: str
    district: str


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


@dataclass(frozen=True, slots=True)
class RosterFault:
    """A problem in the roster file that an admin must fix.

    Attributes:
        file: The roster file.
        line: 1-based line of the fault; 0 when it concerns the whole file.
        message: What is wrong and how to fix it, in Chinese.
    """

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}: {self.message}"
        return f"{self.file}: {self.message}"


class RosterError(Exception):
    """The roster file cannot be used; the message lists every fault, one a line."""

    def __init__(self, faults: Iterable[RosterFault]) -> None:
        """Keep the faults (in line order); the message is one ``file:line: 说明`` a line."""
        self.faults = tuple(faults)
        super().__init__("\n".join(str(fault) for fault in self.faults))


class Roster:
    """Who is who: districts, spaces, groups, the rota, supervisors and admins.

    Immutable once built and safe to share; a reload builds a new one. Build one with
    :meth:`load`, which validates the file; the constructor trusts its arguments.
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

    @classmethod
    def load(cls, path: Path) -> Roster:
        """Read and check the roster file at ``path``.

        Raises:
            RosterError: The file cannot be read, is empty, or has faults; every fault is
                listed with its line.
        """
        return _Reader(Path(path)).read()

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

    def onsite_day(self, space_id: str, group_id: str) -> Weekday | None:
        """The weekday the group holds office at the space, if it does."""
        group = self._groups.get(group_id)
        return group.onsite.get(space_id) if group else None

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

    def members_of(self, group_id: str) -> tuple[Person, ...]:
        """The members of a group; none for an unknown group."""
        group = self._groups.get(group_id)
        return group.members if group else ()

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


def load_admins(path: Path) -> frozenset[tuple[str, str]]:
    """The ``(channel, user_id)`` accounts of the admins of the roster at ``path``.

    Kept for callers written before :class:`Roster`; the whole file is checked.

    Raises:
        RosterError: The roster file has faults.
    """
    return Roster.load(path).admin_accounts


# --- reading the file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """The fields an item of one kind may have."""

    label: str
    known: tuple[str, ...]
    required: tuple[str, ...]
    example: str
    named_by: str | None = "id"


_DISTRICT = _Shape(
    "区",
    ("id", "name", "supervisors", "supervisors_chat"),
    ("id", "name"),
    "{id: baodi, name: 宝坻区}",
)
_SPACE = _Shape(
    "众创空间",
    ("id", "name", "district"),
    ("id", "name", "district"),
    "{id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}",
)
_GROUP = _Shape(
    "服务小组",
    ("id", "name", "district", "chat", "members", "onsite"),
    ("id", "name", "district", "members", "onsite"),
    "“- id: baodi-g1”，下面再写 name、district、chat、members、onsite",
)
_ROTA = _Shape(
    "轮值安排",
    ("space", "group", "from", "to"),
    ("space", "group", "from", "to"),
    "{space: baodi-eco, group: baodi-g2, from: 2026-12-01, to: 2026-12-31}",
    named_by=None,
)
_PERSON = _Shape(
    "人员",
    ("name", *_CHANNELS),
    ("name",),
    "{name: 张伟, telegram: 2001, web: zhangwei}",
    named_by="name",
)
_SECTION_EXAMPLES = {
    "districts": _DISTRICT.example,
    "spaces": _SPACE.example,
    "groups": "- id: baodi-g1",
    "rota": _ROTA.example,
    "admins": _PERSON.example,
}
_INTEGER_EXAMPLES = {"用户 id": "2001", "群聊 id": "-1002000000001"}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and (node.tag == _NULL_TAG or not node.value)


def _key_of(item: yaml.Node, value: yaml.Node) -> yaml.Node:
    """The key node of ``value`` in the mapping ``item``, for a fault on the key's line."""
    key: yaml.Node = next(key for key, candidate in item.value if candidate is value)
    return key


def _guess(typed: str, candidates: Iterable[str]) -> str | None:
    """The candidate an admin most likely meant by ``typed``, if one is close enough."""
    close = difflib.get_close_matches(typed.strip().lower(), list(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


def _known(ids: Iterable[str]) -> str:
    return "、".join(ids) or _NONE


class _Reader:
    """Reads one roster file, collecting every fault instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.faults: list[RosterFault] = []
        # Spaces some group names under onsite, faulty weekday or not (no cascade).
        self.served: set[str] = set()
        # Who each account belongs to, by the first listing that names it.
        self.owners: dict[tuple[str, str], tuple[str, yaml.Node]] = {}
        # Where each section's key is, for faults found later about a section as a whole.
        self.section_lines: dict[str, int] = {}

    def add(self, node: yaml.Node | int, message: str) -> None:
        line = node if isinstance(node, int) else _line(node)
        self.faults.append(RosterFault(self.path, line, message))

    def fail(self) -> RosterError:
        # Stable sort: faults on one line keep the order they were found in.
        return RosterError(sorted(self.faults, key=lambda fault: fault.line))

    def read(self) -> Roster:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.add(0, _UNREADABLE.format(problem=error))
            raise self.fail() from None
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            problem = " ".join(filter(None, [error.context, error.problem]))
            self.add(mark.line + 1 if mark else 0, _YAML_ERROR.format(problem=problem))
            raise self.fail() from None
        except yaml.YAMLError as error:
            self.add(0, _YAML_ERROR.format(problem=error))
            raise self.fail() from None
        if root is None or _is_null(root):
            self.add(0, _EMPTY)
            raise self.fail()
        if not isinstance(root, yaml.MappingNode):
            self.add(root, _NOT_A_MAPPING.format(known=_known(_SECTIONS)))
            raise self.fail()
        sections = self.sections(root)
        districts = self.districts(sections.get("districts"))
        spaces = self.spaces(sections.get("spaces"), districts)
        groups = self.groups(sections.get("groups"), districts, spaces)
        groups_node = sections.get("groups")
        if (
            groups_node is None
            or _is_null(groups_node)
            or isinstance(groups_node, yaml.SequenceNode)
        ):
            # A groups section that is not even a list is reported once, not once per space.
            self.unserved(spaces)
        rota = self.rota(sections.get("rota"), spaces, groups)
        admins = self.people(sections.get("admins"), "管理员", "管理员名单")
        if self.faults:
            raise self.fail()
        roster = Roster(
            districts=(d for d, _ in districts.values()),
            spaces=(s for s, _ in spaces.values()),
            groups=(g for g, _ in groups.values()),
            rota=rota,
            admins=admins,
            source=self.path,
            section_lines=self.section_lines,
        )
        if not (roster.districts or roster.spaces or roster.groups or roster.admins):
            self.add(0, _EMPTY)
            raise self.fail()
        return roster

    # --- structure --------------------------------------------------------------------------

    def sections(self, root: yaml.MappingNode) -> dict[str, yaml.Node]:
        sections: dict[str, yaml.Node] = {}
        for key_node, value_node in root.value:
            key = str(key_node.value)
            if key not in _SECTIONS:
                guess = _guess(key, (s for s in _SECTIONS if s not in sections))
                hint = _HINT.format(name=guess) if guess else ""
                self.add(key_node, _UNKNOWN_KEY.format(key=key, hint=hint, known=_known(_SECTIONS)))
            elif key in sections:
                self.add(key_node, _DUPLICATE_KEY.format(key=key))
            else:
                sections[key] = value_node
                self.section_lines[key] = _line(key_node)
        return sections

    def items(self, node: yaml.Node | None, what: str, example: str) -> list[yaml.Node]:
        """The items of a list; an absent or empty list has none."""
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.add(node, _NOT_A_LIST.format(what=what, example=example))
            return []
        return list(node.value)

    def pairs(self, node: yaml.Node | None) -> list[tuple[yaml.Node, yaml.Node]] | None:
        """The key/value nodes of a mapping; None when ``node`` is not a mapping."""
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            return None
        return list(node.value)

    def fields(
        self, node: yaml.Node, shape: _Shape, label: str | None = None
    ) -> tuple[dict[str, yaml.Node], str] | None:
        """The fields of one item and how to name it in messages; None if not a mapping."""
        label = label or shape.label
        if not isinstance(node, yaml.MappingNode):
            self.add(node, _NOT_AN_ITEM.format(what=label, example=shape.example))
            return None
        name = next(
            (
                str(v.value).strip()
                for k, v in node.value
                if k.value == shape.named_by and isinstance(v, yaml.ScalarNode)
            ),
            "",
        )
        # Names read best quoted (成员“张伟”), ids spaced off the Chinese (服务小组 g1 的成员).
        if not name:
            what = label
        elif shape.named_by == "name":
            what = f"{label}“{name}”"
        else:
            what = f"{label} {name} "
        fields: dict[str, yaml.Node] = {}
        unknown: list[yaml.Node] = []
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in shape.known:
                unknown.append(key_node)
            elif key in fields:
                self.add(key_node, _DUPLICATE_FIELD.format(what=what, field=key))
            else:
                fields[key] = value_node
        # A misspelt field is one fault ("memebers: is it members?"), not also a missing one.
        suggested = set()
        for key_node in unknown:
            key = str(key_node.value)
            guess = _guess(key, (f for f in shape.known if f not in fields and f not in suggested))
            suggested.add(guess)
            hint = _HINT.format(name=guess) if guess else ""
            known = _known(shape.known)
            self.add(key_node, _UNKNOWN_FIELD.format(what=what, field=key, hint=hint, known=known))
        for required in shape.required:
            if required not in fields and required not in suggested:
                self.add(node, _MISSING_FIELD.format(what=what, field=required))
        return fields, what

    def text(self, fields: dict[str, yaml.Node], name: str, what: str) -> str | None:
        """A text field; None when absent (already reported as missing) or faulty."""
        node = fields.get(name)
        if node is None:
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.add(node, _NOT_TEXT.format(what=what, field=name))
            return None
        if _is_null(node) or not str(node.value).strip():
            self.add(node, _EMPTY_FIELD.format(what=what, field=name))
            return None
        return str(node.value).strip()

    def ident(self, fields: dict[str, yaml.Node], what: str) -> str | None:
        value = self.text(fields, "id", what)
        if value is not None and not _ID.match(value):
            self.add(fields["id"], _BAD_ID.format(what=what, id=value))
        return value

    def account(self, channel: str, node: yaml.Node, what: str, kind: str) -> str | None:
        """A user or chat id on ``channel``, as text; Telegram's must be integers."""
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.add(node, _EMPTY_ACCOUNT.format(what=what, channel=channel))
            return None
        value = str(node.value).strip()
        if channel == Channel.TELEGRAM.value:
            if not _INTEGER.match(value):
                example = _INTEGER_EXAMPLES[kind]
                self.add(
                    node, _NOT_INTEGER.format(what=what, kind=kind, value=value, example=example)
                )
                return None
            return str(int(value))  # "+2001" and "02001" are the same account as 2001
        if not value:
            self.add(node, _EMPTY_ACCOUNT.format(what=what, channel=channel))
            return None
        return value

    def chats(
        self, node: yaml.Node | None, what: str, name: str
    ) -> list[tuple[str, str, yaml.Node]]:
        """``(channel, chat id, node)`` of a ``channel: chat id`` mapping."""
        pairs = self.pairs(node)
        if pairs is None:
            assert node is not None
            self.add(node, _NOT_A_CHAT_MAPPING.format(what=what, field=name))
            return []
        found = []
        for key_node, value_node in pairs:
            channel = str(key_node.value)
            if channel not in _CHANNELS:
                known = _known(_CHANNELS)
                self.add(
                    key_node,
                    _UNKNOWN_CHANNEL.format(what=what, field=name, channel=channel, known=known),
                )
                continue
            chat_id = self.account(channel, value_node, what, "群聊 id")
            if chat_id is not None:
                found.append((channel, chat_id, value_node))
        return found

    # --- people -----------------------------------------------------------------------------

    def person(self, node: yaml.Node, label: str) -> Person | None:
        read = self.fields(node, _PERSON, label)
        if read is None:
            return None
        fields, what = read
        before = len(self.faults)
        name = self.text(fields, "name", what)
        ids = {}
        for channel in _CHANNELS:
            if channel in fields:
                user_id = self.account(channel, fields[channel], what, "用户 id")
                if user_id is not None:
                    ids[channel] = user_id
        misspelt = len(fields) < len(node.value)  # e.g. "telegarm:", reported already
        if not misspelt and not any(channel in fields for channel in _CHANNELS):
            self.add(node, _NO_ACCOUNT.format(what=what))
        if len(self.faults) > before or name is None:
            return None
        return Person(name, ids)

    def people(self, node: yaml.Node | None, label: str, where: str) -> tuple[Person, ...]:
        """A list of people; the same account twice in one list is a fault."""
        people = []
        seen: dict[tuple[str, str], yaml.Node] = {}
        for item in self.items(node, where, _PERSON.example):
            person = self.person(item, label)
            if person is None:
                continue
            people.append(person)
            for channel, user_id in person.ids.items():
                account = (channel, user_id)
                first = seen.setdefault(account, item)
                if first is not item:
                    self.add(
                        item,
                        _DUPLICATE_PERSON.format(
                            channel=channel, id=user_id, where=where, line=_line(first)
                        ),
                    )
                    continue
                # Roles follow accounts: an account typed into the wrong person's listing
                # would hand that person's roles to someone else.
                other, other_node = self.owners.setdefault(account, (person.name, item))
                if other != person.name:
                    self.add(
                        item,
                        _OTHER_PERSON.format(
                            channel=channel,
                            id=user_id,
                            line=_line(other_node),
                            other=other,
                            name=person.name,
                        ),
                    )
        return tuple(people)

    # --- sections ---------------------------------------------------------------------------

    def unique(self, kind: str, item_id: str, node: yaml.Node, seen: dict[str, yaml.Node]) -> bool:
        first = seen.setdefault(item_id, node)
        if first is not node:
            self.add(node, _DUPLICATE_ID.format(kind=kind, id=item_id, line=_line(first)))
            return False
        return True

    def district_of(
        self,
        fields: dict[str, yaml.Node],
        what: str,
        districts: Mapping[str, object],
    ) -> str | None:
        district = self.text(fields, "district", what)
        if district is not None and district not in districts:
            self.add(
                fields["district"],
                _UNKNOWN_DISTRICT.format(what=what, district=district, known=_known(districts)),
            )
        return district

    def districts(self, node: yaml.Node | None) -> dict[str, tuple[District, yaml.Node]]:
        found: dict[str, tuple[District, yaml.Node]] = {}
        seen: dict[str, yaml.Node] = {}
        for item in self.items(node, "districts ", _SECTION_EXAMPLES["districts"]):
            read = self.fields(item, _DISTRICT)
            if read is None:
                continue
            fields, what = read
            # An item without a usable id is still read through, so that its other faults are
            # reported in the same round; it just does not join the roster.
            district_id = self.ident(fields, what)
            keep = district_id is not None and self.unique("区", district_id, fields["id"], seen)
            name = self.text(fields, "name", what)
            supervisors = self.people(
                fields.get("supervisors"), f"{what}的督导", f"{what}的督导名单"
            )
            chat = self.chats(fields.get("supervisors_chat"), what, "supervisors_chat")
            if keep and district_id is not None:
                chats = {channel: chat_id for channel, chat_id, _ in chat}
                district = District(district_id, name or district_id, supervisors, chats)
                found[district_id] = (district, item)
        return found

    def spaces(
        self, node: yaml.Node | None, districts: Mapping[str, object]
    ) -> dict[str, tuple[Space, yaml.Node]]:
        found: dict[str, tuple[Space, yaml.Node]] = {}
        seen: dict[str, yaml.Node] = {}
        for item in self.items(node, "spaces ", _SECTION_EXAMPLES["spaces"]):
            read = self.fields(item, _SPACE)
            if read is None:
                continue
            fields, what = read
            space_id = self.ident(fields, what)
            keep = space_id is not None and self.unique("众创空间", space_id, fields["id"], seen)
            name = self.text(fields, "name", what)
            district = self.district_of(fields, what, districts)
            if keep and space_id is not None:
                found[space_id] = (Space(space_id, name or space_id, district or ""), item)
        return found

    def groups(
        self,
        node: yaml.Node | None,
        districts: Mapping[str, object],
        spaces: Mapping[str, object],
    ) -> dict[str, tuple[Group, yaml.Node]]:
        found: dict[str, tuple[Group, yaml.Node]] = {}
        seen: dict[str, yaml.Node] = {}
        chats_taken: dict[tuple[str, str], tuple[str, yaml.Node]] = {}
        for item in self.items(node, "groups ", _SECTION_EXAMPLES["groups"]):
            read = self.fields(item, _GROUP)
            if read is None:
                continue
            fields, what = read
            group_id = self.ident(fields, what)
            keep = group_id is not None and self.unique("服务小组", group_id, fields["id"], seen)
            name = self.text(fields, "name", what)
            district = self.district_of(fields, what, districts)
            chat = self.chats(fields.get("chat"), what, "chat")
            for channel, chat_id, chat_node in chat:
                owner, first = chats_taken.setdefault((channel, chat_id), (what, chat_node))
                if first is not chat_node:
                    self.add(
                        chat_node,
                        _CHAT_TAKEN.format(
                            channel=channel, id=chat_id, owner=owner, line=_line(first)
                        ),
                    )
            members = self.members(item, fields.get("members"), what)
            onsite = self.onsite(item, fields.get("onsite"), what, spaces)
            if keep and group_id is not None:
                chats = {channel: chat_id for channel, chat_id, _ in chat}
                group = Group(group_id, name or group_id, district or "", chats, members, onsite)
                found[group_id] = (group, item)
        return found

    def members(self, item: yaml.Node, node: yaml.Node | None, what: str) -> tuple[Person, ...]:
        members = self.people(node, f"{what}的成员", f"{what}的成员名单")
        # Members that are not a list at all were reported as such. Count what is listed,
        # faulty entries included: one typo in a member is one fault, not two.
        if node is None or not (isinstance(node, yaml.SequenceNode) or _is_null(node)):
            return members
        listed = len(node.value) if isinstance(node, yaml.SequenceNode) else 0
        if listed < MIN_GROUP_MEMBERS:
            self.add(
                _key_of(item, node),
                _TOO_FEW_MEMBERS.format(what=what, count=listed, minimum=MIN_GROUP_MEMBERS),
            )
        return members

    def onsite(
        self,
        item: yaml.Node,
        node: yaml.Node | None,
        what: str,
        spaces: Mapping[str, object],
    ) -> dict[str, Weekday]:
        if node is None:
            return {}  # reported as a missing field
        pairs = self.pairs(node)
        if pairs is None:
            self.add(node, _NOT_ONSITE_MAPPING.format(what=what))
            return {}
        if not pairs:
            key = _key_of(item, node)
            self.add(key, _NO_ONSITE.format(what=what))
            return {}
        onsite: dict[str, Weekday] = {}
        for key_node, value_node in pairs:
            space_id = str(key_node.value).strip()
            self.served.add(space_id)
            if space_id in onsite:
                self.add(
                    key_node, _DUPLICATE_FIELD.format(what=f"{what}的 onsite ", field=space_id)
                )
                continue
            if space_id not in spaces:
                self.add(
                    key_node,
                    _UNKNOWN_SPACE.format(
                        what=f"{what}的 onsite ", space=space_id, known=_known(spaces)
                    ),
                )
            value = str(value_node.value) if isinstance(value_node, yaml.ScalarNode) else "…"
            weekday = Weekday.parse(value)
            if weekday is None:
                self.add(
                    value_node,
                    _BAD_WEEKDAY.format(what=f"{what}的 onsite ", space=space_id, value=value),
                )
                continue
            onsite[space_id] = weekday
        return onsite

    def unserved(self, spaces: Mapping[str, tuple[Space, yaml.Node]]) -> None:
        for space_id, (_, node) in spaces.items():
            if space_id not in self.served:
                self.add(node, _UNSERVED.format(space=space_id))

    def rota(
        self,
        node: yaml.Node | None,
        spaces: Mapping[str, object],
        groups: Mapping[str, object],
    ) -> list[RotaEntry]:
        entries: list[tuple[RotaEntry, yaml.Node]] = []
        for item in self.items(node, "rota ", _SECTION_EXAMPLES["rota"]):
            read = self.fields(item, _ROTA)
            if read is None:
                continue
            fields, what = read
            before = len(self.faults)
            space = self.text(fields, "space", what)
            if space is not None and space not in spaces:
                self.add(
                    fields["space"],
                    _UNKNOWN_SPACE.format(what=what, space=space, known=_known(spaces)),
                )
            group = self.text(fields, "group", what)
            if group is not None and group not in groups:
                self.add(
                    fields["group"],
                    _UNKNOWN_GROUP.format(what=what, group=group, known=_known(groups)),
                )
            first = self.day(fields, "from", what)
            last = self.day(fields, "to", what)
            if first is not None and last is not None and first > last:
                self.add(fields["from"], _REVERSED.format(what=what, first=first, last=last))
            if len(self.faults) > before:
                continue
            if space is None or group is None or first is None or last is None:
                continue
            entry = RotaEntry(space, group, first, last)
            for other, other_node in entries:
                if other.space == space and first <= other.last_day and other.first_day <= last:
                    self.add(
                        item,
                        _OVERLAP.format(
                            space=space,
                            first=first,
                            last=last,
                            line=_line(other_node),
                            other_first=other.first_day,
                            other_last=other.last_day,
                        ),
                    )
                    break
            entries.append((entry, item))
        return [entry for entry, _ in entries]

    def day(self, fields: dict[str, yaml.Node], name: str, what: str) -> date | None:
        value = self.text(fields, name, what)
        if value is None:
            return None
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.add(fields[name], _BAD_DATE.format(what=what, field=name, value=value))
            return None
