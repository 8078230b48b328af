"""The roster file as admins write it: a pydantic model for each kind of item.

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
          - {name: 张伟, telegram: 2001, wechat: o-zhangwei, wecom: ZhangWei, web: zhangwei}
          - {name: 李娜, telegram: 2002}
        onsite: {baodi-eco: mon}     # at least one on-site day a week (Article 6)
    rota:                            # who is on duty for a space from..to (inclusive)
      - {space: baodi-eco, group: baodi-g1, from: 2026-12-01, to: 2026-12-31}
    admins:
      - {name: 管理员, telegram: 9001, web: admin}

Each kind of value is checked by one function, which raises a fault of a kind of its own
(``bad_id``, ``not_integer``…); :mod:`.load` turns each into the admin's message, with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, TypeAdapter

from bot.domain.roster.model import Weekday
from knowledge.yaml_lines import FileEntry, Listing, fault, identifier, required_text

__all__ = [
    "CHANNELS",
    "CHAT_CHANNELS",
    "DAY",
    "DISTRICT",
    "GROUP",
    "INTEGER_EXAMPLES",
    "PEOPLE",
    "PERSON",
    "ROTA",
    "SECTIONS",
    "SECTION_LISTS",
    "SPACE",
    "TEXT",
    "ChatIds",
    "DistrictItem",
    "GroupItem",
    "PersonItem",
    "RotaItem",
    "Sections",
    "Shape",
    "SpaceItem",
    "account_ids",
]

SECTIONS = ("districts", "spaces", "groups", "rota", "admins")
CHANNELS = ("telegram", "wechat", "wecom", "web")
"""The channels a person can be reached on (bot.messages.Channel), in display order."""
CHAT_CHANNELS = ("telegram", "wechat", "web")
"""The channels a group's or the supervisors' chat can be on: WeCom reaches people one by one
(its app messages each member), so it has no chat of its own."""
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _day(value: object) -> date:
    text = required_text(value)
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise fault("bad_date") from None


def _account(value: object) -> str:
    """A user or chat id on WeChat or the web, as text."""
    if not isinstance(value, str) or not value.strip():
        raise fault("empty_account")
    return value.strip()


def _telegram(value: object) -> str:
    """A Telegram user or chat id: an integer, kept as text."""
    text = _account(value)
    if not _INTEGER.match(text):
        raise fault("not_integer")
    return str(int(text))  # "+2001" and "02001" are the same account as 2001


def _weekday(value: object) -> Weekday:
    weekday = Weekday.parse(value) if isinstance(value, str) else None
    if weekday is None:
        raise fault("bad_weekday")
    return weekday


def _some_onsite(onsite: dict[str, Weekday]) -> dict[str, Weekday]:
    if not onsite:
        raise fault("no_onsite")
    return onsite


def _nothing_if_blank(value: object) -> object:
    return None if value == "" else value


# ``key: ''`` where a list or a mapping belongs is as good as ``key:``, nothing written yet.
Blank = BeforeValidator(_nothing_if_blank)
Text = Annotated[str, PlainValidator(required_text)]
Ident = Annotated[str, PlainValidator(identifier)]
Day = Annotated[date, PlainValidator(_day)]
# An account left out is None; one written with nothing after it is a fault.
Account = Annotated[str | None, PlainValidator(_account)]
TelegramId = Annotated[str | None, PlainValidator(_telegram)]
Onsite = Annotated[
    dict[str, Annotated[Weekday, PlainValidator(_weekday)]],
    BeforeValidator(lambda value: {} if value is None else value),
    AfterValidator(_some_onsite),
    Blank,
]
Items = Annotated[Listing, Blank]
"""A list whose items are checked one by one, each with its own model."""


class ChatIds(FileEntry):
    """A group's or the supervisors' chat: channel → chat id."""

    telegram: TelegramId = None
    wechat: Account = None
    web: Account = None


Chats = Annotated[ChatIds | None, Blank]


class PersonItem(FileEntry):
    """Someone listed: a supervisor, a member of a group, an admin."""

    name: Text
    telegram: TelegramId = None
    wechat: Account = None
    wecom: Account = None
    """The WeCom UserID (通讯录 → the member → 账号), as the app's messages name the sender."""
    web: Account = None


class DistrictItem(FileEntry):
    """An item of ``districts``; its supervisors are checked as :class:`PersonItem` each."""

    id: Ident
    name: Text
    supervisors: Items = ()
    supervisors_chat: Chats = None


class SpaceItem(FileEntry):
    """An item of ``spaces``."""

    id: Ident
    name: Text
    district: Text


class GroupItem(FileEntry):
    """An item of ``groups``; its members are checked as :class:`PersonItem` each."""

    id: Ident
    name: Text
    district: Text
    chat: Chats = None
    members: Items
    onsite: Onsite


class RotaItem(FileEntry):
    """An item of ``rota``."""

    space: Text
    group: Text
    first: Day = Field(alias="from")
    last: Day = Field(alias="to")


class Sections(FileEntry):
    """The top level: each section a list, its items checked one by one."""

    districts: Items = ()
    spaces: Items = ()
    groups: Items = ()
    rota: Items = ()
    admins: Items = ()


# For the checks across items, which read one field of an item that may be faulty elsewhere.
TEXT: TypeAdapter[str] = TypeAdapter(Text)
DAY: TypeAdapter[date] = TypeAdapter(Day)


@dataclass(frozen=True, slots=True)
class Shape:
    """One kind of item: its model, and how messages name it."""

    label: str
    model: type[FileEntry]
    example: str
    named_by: str | None = "id"

    @property
    def known(self) -> tuple[str, ...]:
        """The fields an item may have, as the file spells them, in the model's order."""
        return tuple(info.alias or name for name, info in self.model.model_fields.items())


DISTRICT = Shape("区", DistrictItem, "{id: baodi, name: 宝坻区}")
SPACE = Shape(
    "众创空间", SpaceItem, "{id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}"
)
GROUP = Shape(
    "服务小组", GroupItem, "“- id: baodi-g1”，下面再写 name、district、chat、members、onsite"
)
ROTA = Shape(
    "轮值安排",
    RotaItem,
    "{space: baodi-eco, group: baodi-g2, from: 2026-12-01, to: 2026-12-31}",
    named_by=None,
)
PERSON = Shape("人员", PersonItem, "{name: 张伟, telegram: 2001, web: zhangwei}", named_by="name")
SECTION_LISTS = {  # how a message names each section as a list, and an example item
    "districts": ("districts ", DISTRICT.example),
    "spaces": ("spaces ", SPACE.example),
    "groups": ("groups ", "- id: baodi-g1"),
    "rota": ("rota ", ROTA.example),
    "admins": ("管理员名单", PERSON.example),
}
PEOPLE = {"supervisors": "督导", "members": "成员"}  # the lists of people inside items
INTEGER_EXAMPLES = {"用户 id": "2001", "群聊 id": "-1002000000001"}


def account_ids(accounts: ChatIds | PersonItem | None) -> dict[str, str]:
    """Channel → id of the accounts written, for a person or a chat."""
    if accounts is None:
        return {}
    return {channel: id_ for channel in CHANNELS if (id_ := getattr(accounts, channel, None))}
