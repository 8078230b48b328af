"""Synthetic service requests with the event logs the real handlers write, for the report bench.

:func:`simulate` plays each request's life with a seeded :class:`random.Random` the way
``bot/desk/compose.py``, ``handlers/commissioners.py``, ``handlers/my_requests.py`` and the
scheduler do, and yields the ``requests`` row and its ``request_events`` rows:

* ``opened`` (``{"group", "space", "due_date"}``, due date by the real working calendar and the
  category's working days); ``transferred`` (``{"from", "to"}``, status back to open);
* ``claim``, ``reply``, ``ask`` (a wait on the entrepreneur) and ``resolve`` by members of the
  group holding the request; ``follow_up`` from the entrepreneur, which ends a wait;
* ``due_changed`` (``{"from", "to"}``) written by the system right after a wait ends or a
  reopening, when the due date moved (recomputed with the pauses, as ``recompute_due`` does);
* ``reopened``, ``confirmed``, ``closed`` (the system's auto-close), ``rated`` (``{"stars"}``,
  sometimes twice), ``notice`` (``{"notice", "day"}``).

Events of one request at one moment come in the order the handlers add them (a follow-up, then
the due date it moved), so ``(at, id)`` orders every log as the bot would have.

:func:`load` copies them into PostgreSQL with ``COPY`` (asyncpg's binary copy): a million
requests and their 5.3 million events in under two minutes, most of it the simulation itself,
where ORM inserts would take an hour. :func:`insert` writes a small set through SQLAlchemy
instead, on any database.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import categories
from bot.domain.roster.load import load_roster
from bot.domain.roster.model import Roster
from bot.domain.workdays import WorkCalendar
from storage.models import Person, Request, RequestEvent

__all__ = [
    "BENCH_ROSTER",
    "EVENT_COLUMNS",
    "GENERATOR_VERSION",
    "REQUEST_COLUMNS",
    "Simulated",
    "bench_roster",
    "insert",
    "load",
    "simulate",
]

GENERATOR_VERSION = 3
"""Bumped whenever :func:`simulate` changes what it writes, or the schema it is written into
changes (3: migrations renumbered when 0005 became the answers' table): stored data of another
version is generated again."""

BENCH_ROSTER = """\
districts:
{districts}
spaces:
{spaces}
groups:
{groups}
admins:
  - {{name: 管理员, telegram: 9001}}
"""
_DISTRICTS = (
    ("baodi", "宝坻区"),
    ("wuqing", "武清区"),
    ("binhai", "滨海新区"),
    ("nankai", "南开区"),
)
_SPACES_PER_DISTRICT = 3
_GROUPS_PER_DISTRICT = 2
_MEMBERS_PER_GROUP = 3
_NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

REQUEST_COLUMNS = (
    "id",
    "number",
    "person_id",
    "channel",
    "chat_id",
    "category",
    "text",
    "phone",
    "space_id",
    "group_id",
    "assignee",
    "assignee_name",
    "status",
    "opened_at",
    "due_date",
    "deadline",
    "provisional",
    "first_reply_at",
    "resolved_at",
    "closed_at",
    "result",
    "satisfaction",
    "updated_at",
)
EVENT_COLUMNS = ("request_id", "at", "kind", "actor", "text", "data")

_TEXTS = (
    "想咨询公司注册需要哪些材料",
    "申请创业补贴需要什么条件",
    "工位租金可以减免吗",
    "想了解知识产权专利申请的流程",
    "需要对接天使投资和融资渠道",
    "社保和税务登记怎么办理",
    "能不能帮忙联系高校的技术专家",
    "能否协助对接检测认证机构",
)
_REPLIES = ("已收到，正在联系相关部门。", "材料清单已发您，请查收。", "已协调，下周给您答复。")
_QUESTIONS = ("请问公司成立多久了？", "请补充营业执照复印件。", "请提供联系人电话。")
_RESULTS = ("已协助完成办理。", "已对接完成，对方会直接联系您。", "符合条件，已提交申请。")
_FOLLOW_UPS = ("好的，谢谢！", "材料已补充。", "公司成立一年半了。", "请问进展如何？")
_STARS = (1, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5)
_CHANNELS = ("web", "telegram", "wechat")
_HOUR = timedelta(hours=1)


def bench_roster(folder: Path) -> Roster:
    """A roster of four districts, twelve maker spaces, eight groups of three, written and read.

    Args:
        folder: Where the roster file is written.
    """
    districts, spaces, groups = [], [], []
    person = 0
    for d, (district, name) in enumerate(_DISTRICTS):
        districts.append(f"  - {{id: {district}, name: {name}}}")
        own = [f"{district}-s{n + 1}" for n in range(_SPACES_PER_DISTRICT)]
        spaces += [
            f"  - {{id: {s}, name: {name}第{n + 1}众创空间, district: {district}}}"
            for n, s in enumerate(own)
        ]
        for g in range(_GROUPS_PER_DISTRICT):
            members = []
            for _ in range(_MEMBERS_PER_GROUP):
                person += 1
                surname = _NAMES[person % len(_NAMES)]
                members.append(
                    f"      - {{name: {surname}专员{person}, telegram: {3000 + person}}}"
                )
            # The first group is on site at every space of its district, so it is each one's
            # duty group; the second is where transfers go.
            onsite = own if g == 0 else own[:1]
            groups.append(
                "\n".join(
                    [
                        f"  - id: {district}-g{g + 1}",
                        f"    name: {name}服务{'一二'[g]}组",
                        f"    district: {district}",
                        f"    chat: {{telegram: -100{d}{g}00000001}}",
                        "    members:",
                        *members,
                        "    onsite:",
                        *(f"      {s}: {_WEEKDAYS[(d + g + n) % 5]}" for n, s in enumerate(onsite)),
                    ]
                )
            )
    path = folder / "bench-roster.yaml"
    path.write_text(
        BENCH_ROSTER.format(
            districts="\n".join(districts), spaces="\n".join(spaces), groups="\n".join(groups)
        ),
        encoding="utf-8",
    )
    return load_roster(path)


@dataclass
class Simulated:
    """One request as :func:`simulate` left it: its row and its log, both as tuples."""

    request: tuple[Any, ...]
    """The values of :data:`REQUEST_COLUMNS`."""
    events: list[tuple[Any, ...]]
    """The values of :data:`EVENT_COLUMNS`, oldest first; ``data`` as JSON text."""


def simulate(
    count: int,
    opened_from: datetime,
    opened_until: datetime,
    roster: Roster,
    calendar: WorkCalendar,
    *,
    seed: int = 0,
    people: int = 50_000,
) -> Iterator[Simulated]:
    """Requests ``1 … count`` opened between two moments, each with its life played out.

    Args:
        count: How many requests.
        opened_from: 00:00 (Shanghai) of the first day requests open on.
        opened_until: 00:00 (Shanghai) of the day after the last.
        roster: Its spaces, duty groups and members act on the requests.
        calendar: Dates the requests as the bot does.
        seed: The same seed gives the same requests and logs.
        people: Entrepreneurs ``1 … people`` open them (their ``people`` rows are the
            caller's to write: :func:`load` and :func:`insert` do).
    """
    rng = random.Random(seed)
    spaces = [s.id for s in roster.spaces]
    duty = {s: roster.duty_group(s, opened_from.date()).id for s in spaces}
    district_of = {g.id: g.district for g in roster.groups}
    groups_of: dict[str, list[str]] = {}
    for g in roster.groups:
        groups_of.setdefault(g.district, []).append(g.id)
    all_groups = [g.id for g in roster.groups]
    members = {
        g.id: [(f"telegram:{p.ids['telegram']}", p.name) for p in g.members] for g in roster.groups
    }
    kinds = list(categories.CATEGORIES)
    days = (opened_until - opened_from).days
    numbers: dict[int, int] = {}
    for rid in range(1, count + 1):
        # Entrepreneurs write in the day: from 08:00 to 20:00, Shanghai time.
        at = timedelta(days=int(rng.random() * days), seconds=int((8 + 12 * rng.random()) * 3600))
        yield _one(
            rid,
            rng,
            opened_from + at,
            spaces,
            duty,
            district_of,
            groups_of,
            all_groups,
            members,
            kinds,
            calendar,
            numbers,
            people,
        )


def _one(
    rid: int,
    rng: random.Random,
    opened: datetime,
    spaces: Sequence[str],
    duty: dict[str, str],
    district_of: dict[str, str],
    groups_of: dict[str, list[str]],
    all_groups: Sequence[str],
    members: dict[str, list[tuple[str, str]]],
    kinds: Sequence[categories.Category],
    calendar: WorkCalendar,
    numbers: dict[int, int],
    people: int,
) -> Simulated:
    r = rng.random
    space = spaces[int(r() * len(spaces))]
    group = duty[space]
    category = kinds[int(r() * len(kinds))]
    text = _TEXTS[int(r() * len(_TEXTS))]
    due = calendar.due(opened, category.workdays)
    due_date, deadline, provisional = due.due_date, due.deadline, due.provisional
    events: list[tuple[Any, ...]] = []
    t = opened

    def add(kind: str, actor: str, body: str | None = None, data: Any = None) -> None:
        # json.dumps(None) is "null": what SQLAlchemy stores for an event without data.
        events.append((rid, t, kind, actor, body, json.dumps(data)))

    def later(low: float, high: float) -> datetime:
        return t + (low + r() * (high - low)) * _HOUR

    add("opened", "entrepreneur", text, {"group": group, "space": space, "due_date": str(due_date)})
    status, assignee, assignee_name = "open", None, None
    first_reply_at = resolved_at = closed_at = None
    result: str | None = None
    satisfaction: int | None = None
    pauses: list[tuple[datetime, datetime | None]] = []

    def redate(now: datetime) -> None:
        nonlocal due_date, deadline, provisional
        again = calendar.due(opened, category.workdays, pauses, now=now)
        if again.due_date != due_date:
            add("due_changed", "system", data={"from": str(due_date), "to": str(again.due_date)})
        due_date, deadline, provisional = again.due_date, again.deadline, again.provisional

    def act(kind: str, body: str, who: tuple[str, str] | None = None) -> None:
        nonlocal status, assignee, assignee_name, first_reply_at, resolved_at, result
        who = who or (
            (assignee, assignee_name) if assignee and assignee_name else rng.choice(members[group])
        )
        if assignee is None or kind == "claim":
            assignee, assignee_name = who
        if kind != "claim" and first_reply_at is None:
            first_reply_at = t
        if status == "waiting" and kind != "ask":
            # The commissioner went on without the information: the wait ends here.
            pauses[-1] = (pauses[-1][0], t)
            redate(t)
        if kind == "ask":
            pauses.append((t, None))
        if kind == "resolve":
            resolved_at, result = t, body
        status = {"claim": "claimed", "reply": "claimed", "ask": "waiting"}.get(kind, "resolved")
        add(kind, who[0], body)

    def notice() -> None:
        day = str(due_date)
        add(
            "notice",
            "system",
            data={"notice": rng.choice(("remind-before", "remind-due")), "day": day},
        )

    if r() < 0.08:  # sent to the wrong group: passed on before anyone claims it
        t = later(0.3, 30)
        district = district_of[group]
        choices = [g for g in groups_of[district] if g != group] if r() < 0.8 else all_groups
        target = rng.choice([g for g in choices if g != group] or all_groups)
        add("transferred", rng.choice(members[group])[0], data={"from": group, "to": target})
        group = target
    if r() < 0.03:  # nobody ever takes it up
        pass
    else:
        t = later(0.2, 48)
        if r() < 0.6:
            act("claim", "")
        if r() < 0.12:
            t = later(0.1, 24)
            add("follow_up", "entrepreneur", rng.choice(_FOLLOW_UPS))
        if r() < 0.55:
            t = later(0.5, 72)
            act("reply", rng.choice(_REPLIES))
        if r() < 0.1:
            t = later(1, 120)
            notice()
        stuck = False
        if r() < 0.2:
            t = later(0.5, 48)
            act("ask", rng.choice(_QUESTIONS))
            if r() < 0.85:
                t = later(0.5, 96)
                add("follow_up", "entrepreneur", rng.choice(_FOLLOW_UPS))
                pauses[-1] = (pauses[-1][0], t)
                status = "claimed"
                redate(t)
            else:
                stuck = r() < 0.5  # never answered; the other half is resolved all the same
        if not stuck and r() < 0.93:
            t = later(1, 260)
            act("resolve", rng.choice(_RESULTS))
            if r() < 0.06:  # the entrepreneur is not satisfied
                t = later(1, 60)
                assert resolved_at is not None
                pauses.append((resolved_at, t))
                status, resolved_at = "claimed", None
                add("reopened", "entrepreneur")
                redate(t)
                t = later(1, 100)
                act("resolve", rng.choice(_RESULTS), rng.choice(members[group]))
            rated = r() < 0.55
            if rated:
                t = later(0.05, 30)
                satisfaction = _STARS[int(r() * len(_STARS))]
                add("rated", "entrepreneur", data={"stars": satisfaction})
            if r() < 0.45:
                t = later(0.1, 48)
                status, closed_at = "closed", t
                add("confirmed", "entrepreneur")
            else:  # the scheduler closes it once it can no longer be reopened
                assert resolved_at is not None
                t = max(t, resolved_at + timedelta(days=8)) + _HOUR
                status, closed_at = "closed", t
                add("closed", "system")
            if rated and r() < 0.05:  # changed their mind
                t = later(0.5, 24)
                satisfaction = _STARS[int(r() * len(_STARS))]
                add("rated", "entrepreneur", data={"stars": satisfaction})
    year = opened.year
    numbers[year] = numbers.get(year, 0) + 1
    person = 1 + int(r() * people)
    row = (
        rid,
        f"{year}-{numbers[year]:04d}",
        person,
        _CHANNELS[person % 3],
        f"chat-{person}",
        category.id,
        text,
        None,
        space,
        group,
        assignee,
        assignee_name,
        status,
        opened,
        due_date,
        deadline,
        provisional,
        first_reply_at,
        resolved_at,
        closed_at,
        result,
        satisfaction,
        t,
    )
    return Simulated(row, events)


def _people_rows(count: int, spaces: Sequence[str], at: datetime) -> Iterator[tuple[Any, ...]]:
    for n in range(1, count + 1):
        yield (n, f"创业者{n}", "zh", spaces[n % len(spaces)], at)


async def load(
    connection: Any,
    requests: Iterator[Simulated],
    people: int,
    roster: Roster,
    *,
    chunk: int = 50_000,
) -> tuple[int, int]:
    """Copy the people and ``requests`` into the migrated, empty database of ``connection``.

    Args:
        connection: A raw ``asyncpg`` connection.
        requests: From :func:`simulate`.
        people: How many entrepreneurs :func:`simulate` was told of.
        roster: Names the people's maker spaces.
        chunk: Requests per ``COPY``: bounds the memory the events take.

    Returns:
        How many requests and events were written.
    """
    at = datetime(2020, 1, 1, tzinfo=UTC)
    await connection.copy_records_to_table(
        "people",
        records=list(_people_rows(people, [s.id for s in roster.spaces], at)),
        columns=["id", "display_name", "language", "space_id", "created_at"],
    )
    written = events = 0
    while True:
        batch = [s for _, s in zip(range(chunk), requests, strict=False)]
        if not batch:
            break
        await connection.copy_records_to_table(
            "requests", records=[s.request for s in batch], columns=list(REQUEST_COLUMNS)
        )
        rows = [e for s in batch for e in s.events]
        await connection.copy_records_to_table(
            "request_events", records=rows, columns=list(EVENT_COLUMNS)
        )
        written += len(batch)
        events += len(rows)
    # COPY with explicit ids leaves the sequences behind; the bot's next insert must not clash.
    for table in ("people", "requests", "request_events"):
        await connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    # As autovacuum would have left a table this old: visibility map and hint bits set.
    await connection.execute("VACUUM ANALYZE people, requests, request_events")
    return written, events


async def insert(session: AsyncSession, requests: Iterator[Simulated], people: int) -> None:
    """Write the people and ``requests`` through SQLAlchemy: slow, but any database (tests)."""
    at = datetime(2020, 1, 1, tzinfo=UTC)
    await session.execute(
        sql_insert(Person),
        [
            {"id": n, "display_name": f"创业者{n}", "language": "zh", "created_at": at}
            for n in range(1, people + 1)
        ],
    )
    found = list(requests)
    await session.execute(
        sql_insert(Request), [dict(zip(REQUEST_COLUMNS, s.request, strict=True)) for s in found]
    )
    await session.execute(
        sql_insert(RequestEvent),
        [
            {**dict(zip(EVENT_COLUMNS, e, strict=True)), "data": _data(e[5])}
            for s in found
            for e in s.events
        ],
    )


def _data(text: str) -> dict[str, object] | None:
    found = json.loads(text)
    return None if found is None else dict(found)
