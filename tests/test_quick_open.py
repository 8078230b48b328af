"""``/new text`` through the writer: the request opened exactly as the full path opens it.

Two bots on two databases (SQLite, and PostgreSQL) get the same messages, one with the quick
lane and one whose dispatcher has none; every reply and every row (requests with their numbers
and due dates, events, outbox rows to the entrepreneur and the duty group, people, accounts,
counters, conversations, inbound keys) must be the same. Each message is also checked to have
taken the path it should: the lane (the writer alone), or the full path after the writer found
it not quick, or the full path at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import pytest
import sqlalchemy
from sqlalchemy import Row

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.messages import Channel, IncomingMessage, Language, Sender
from bot.routing import Dispatcher, InlinePolicy
from bot.settings import load_settings
from handlers import ROUTERS
from handlers.basics import unknown
from storage.pg_writer import PgWriter
from storage.writer import Writer
from tests.support.databases import scratch_postgres
from tests.support.desk import ENTREPRENEUR, MONDAY, OTHER, PLATFORMS, ROSTER
from tests.support.twins import Twins, stored, twin_bots

SAM = Sender(Channel.TELEGRAM, "5001", "Sam", Language.EN)
NEWCOMER = Sender(Channel.WECHAT, "oNEWCOMER", None)
RENAMED = Sender(Channel.WEB, ENTREPRENEUR.user_id, "陈总")
UNNAMED = Sender(Channel.WEB, ENTREPRENEUR.user_id, None)
IN_ENGLISH = Sender(Channel.WEB, ENTREPRENEUR.user_id, "陈总", Language.EN)

LANE = "lane"
"""Handled in its writer unit alone: no ORM statement."""
FELL_BACK = "fell back"
"""Its unit found it not quick: the full path handled it."""
FULL = "full"
"""Never offered to the lane."""

OPENINGS: list[tuple[Sender, str, str | None, str]] = [
    (ENTREPRENEUR, "", "space:baodi-eco", FELL_BACK),  # never wrote: the full path meets them
    (ENTREPRENEUR, "/new 想咨询公司注册需要哪些材料", None, LANE),
    (ENTREPRENEUR, "提交工单 工位租金可以减免吗", None, LANE),  # WeChat's command word
    (RENAMED, "/new 需要对接天使投资和融资渠道", None, LANE),  # the card names 陈总 now
    (UNNAMED, "/new 社保和税务登记怎么办理", None, LANE),  # no name given: 陈总 stays
    (SAM, "", "space:baodi-pku", FELL_BACK),
    (SAM, "/new I need help with a patent application", None, LANE),  # English, group g2
    (NEWCOMER, "/new 想参加创业培训和路演活动", None, FELL_BACK),  # never wrote: space asked
    (NEWCOMER, "/new 能不能帮忙联系高校的技术专家", None, FELL_BACK),  # space still unknown
    (NEWCOMER, "", "space:baodi-eco", LANE),  # the intake waiting for it opens the request
    (OTHER, "", "space:baodi-pku", FELL_BACK),
    (OTHER, "/new", None, LANE),  # an intake begins (handlers.quick_intake)
    (OTHER, "/new 想咨询场地补贴", None, FELL_BACK),  # mid-intake: the full path ends it first
    (OTHER, "/new 想了解知识产权专利申请的流程", None, LANE),
    (OTHER, "/new 想了解知识产权专利申请的流程", None, LANE),  # the same words: a second request
    (IN_ENGLISH, "/new I would like to register a company", None, LANE),  # now reads English
]

WITHOUT_PKU = ROSTER.replace(
    "  - {id: baodi-pku, name: 北大科技园众创空间, district: baodi}\n", ""
).replace("onsite: {baodi-pku: thu}", "onsite: {baodi-eco: thu}")
"""The test roster once the second maker space has left it."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def twins(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> AsyncIterator[Twins]:
    """A bot with the quick lane, and a bot on its own database whose dispatcher has none."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    async with twin_bots(tmp_path, faq_dir, ROSTER, server) as both:
        yield both


def _writer(bot: Bot) -> Writer | PgWriter:
    writer = bot.services.writer or bot.services.pg_writer
    assert writer is not None
    return writer


async def _path_taken(twins: Twins, sender: Sender, text: str, key: str, choice: str | None) -> str:
    units, statements = twins.lane_units, len(twins.orm_statements)
    await twins.both(sender, text, key, choice=choice)
    if twins.lane_units == units:
        return FULL
    assert twins.lane_units == units + 1
    return LANE if len(twins.orm_statements) == statements else FELL_BACK


def _on(twins: Twins, path: str, text: str, choice: str | None) -> str:
    """The path a step of :data:`OPENINGS` takes on this database.

    The intake's steps (a maker space chosen, a bare ``/new``) are units on SQLite only.
    """
    intake_step = text == "/new" or (choice or "").startswith("space:")
    return FULL if intake_step and twins.quick.services.writer is None else path


async def _same_rows(twins: Twins) -> dict[str, list[Row[Any]]]:
    quick, full = await stored(twins.quick), await stored(twins.full)
    for table, rows in quick.items():
        assert rows == full[table], table
    return quick


async def test_each_opening_gets_the_same_replies_and_rows_with_or_without_the_lane(
    twins: Twins,
) -> None:
    for number, (sender, text, choice, path) in enumerate(OPENINGS):
        taken = await _path_taken(twins, sender, text, f"m{number}", choice)
        assert taken == _on(twins, path, text, choice), text
    rows = await _same_rows(twins)
    requests = rows["requests"]
    assert [(r.number, r.chat_id, r.category, r.group_id) for r in requests] == [
        ("2026-0001", "e1", "registration", "g1"),
        ("2026-0002", "e1", "other", "g1"),
        ("2026-0003", "e1", "finance", "g1"),
        ("2026-0004", "e1", "departments", "g1"),
        ("2026-0005", "5001", "other", "g2"),
        ("2026-0006", "oNEWCOMER", "other", "g1"),  # the later words
        ("2026-0007", "e2", "policy", "g2"),
        ("2026-0008", "e2", "ip", "g2"),
        ("2026-0009", "e2", "ip", "g2"),
        ("2026-0010", "e1", "other", "g1"),
    ]
    assert len(rows["request_events"]) == 10
    # Each request: the confirmation to its entrepreneur, the card to its group's chat.
    opened = [row for row in rows["outbox"] if row.request_id is not None]
    assert len(opened) == 20
    assert [row.channel for row in opened] == ["web", "telegram"] * 4 + ["telegram"] * 2 + [
        "wechat",
        "telegram",
    ] + ["web", "telegram"] * 4
    assert "Request 2026-0010 opened" in str(opened[-2].payload)
    cards = [str(row.payload) for row in opened if row.chat_id.startswith("-100")]
    assert "小陈" in cards[1]
    assert "陈总" in cards[2]
    assert "陈总" in cards[3]
    assert [(row.display_name, row.language) for row in rows["people"]] == [
        ("陈总", "en"),
        ("Sam", "en"),
        (None, "zh"),
        ("小王", "zh"),
    ]


async def test_a_maker_space_that_left_the_roster_is_asked_for_again(
    twins: Twins, tmp_path: Path
) -> None:
    for number, (sender, text, choice, _) in enumerate(OPENINGS[:7]):
        await twins.both(sender, text, f"m{number}", choice=choice)
    (tmp_path / "roster.yaml").write_text(WITHOUT_PKU, encoding="utf-8")
    for bot in (twins.quick, twins.full):
        await bot.services.roster.reload()
    path = await _path_taken(twins, SAM, "/new Another patent question", "gone", None)
    assert path == FELL_BACK
    rows = await _same_rows(twins)
    assert len(rows["requests"]) == 5  # none more
    assert [(row.kind, row.step) for row in rows["conversations"]] == [("intake", "space")]


async def test_a_redelivered_opening_is_answered_as_before_and_opens_once(twins: Twins) -> None:
    quick = twins.quick
    await twins.both(ENTREPRENEUR, "", "space", choice="space:baodi-eco")
    message = IncomingMessage(
        ENTREPRENEUR, "e1", "/new 想咨询公司注册需要哪些材料", "again", quick.clock.now()
    )
    first = await quick.dispatcher.handle(message, inline=InlinePolicy())
    again = await quick.dispatcher.handle(message, inline=InlinePolicy())
    assert [r.to_payload() for r in again] == [r.to_payload() for r in first]
    assert "2026-0001" in first[0].text
    rows = await stored(quick)
    assert len(rows["requests"]) == len(rows["request_events"]) == 1
    assert len(rows["outbox"]) == 3  # the space set, the confirmation, the group's card
    # The opening and its redelivery; on SQLite the space chosen too (offered to the intake's
    # lane, which leaves a newcomer to the full path).
    assert twins.lane_units == (3 if quick.services.writer is not None else 2)
    # Pushed later rather than handed back: a redelivery to an adapter that hands back
    # nothing gets the replies to push, as on the full path.
    pushed = await quick.dispatcher.handle(message)
    assert [r.to_payload() for r in pushed] == [r.to_payload() for r in first]


async def _spaces_known(twins: Twins, count: int) -> list[Sender]:
    senders = [Sender(Channel.WEB, f"u{n}", f"创业者{n}") for n in range(count)]
    for sender in senders:
        await twins.both(sender, "", f"space-{sender.user_id}", choice="space:baodi-eco")
    return senders


async def test_openings_at_once_get_distinct_numbers_in_one_batch(twins: Twins) -> None:
    quick = twins.quick
    first, *senders = await _spaces_known(twins, 17)
    await twins.both(first, "/new 先开的一件", "first")  # the year's counter counts on from 1
    writer = _writer(quick)
    batches, units = writer.batches, twins.lane_units
    replies = await asyncio.gather(
        *(
            quick.dispatcher.handle(
                IncomingMessage(s, s.user_id, f"/new 第{n}件事", f"new-{n}", quick.clock.now()),
                inline=InlinePolicy(),
            )
            for n, s in enumerate(senders)
        )
    )
    assert twins.lane_units == units + 16
    assert writer.batches - batches < 4  # they were written together
    rows = await stored(quick)
    numbers = {row.chat_id: row.number for row in rows["requests"]}
    assert sorted(numbers.values()) == [f"2026-{n:04d}" for n in range(1, 18)]
    for sender, told in zip(senders, replies, strict=True):
        assert numbers[sender.user_id] in told[0].text


_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON requests WHEN NEW.text = '失败'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN IF NEW.text = '失败' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON requests FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
_ALLOW = {"sqlite": ["DROP TRIGGER refuse"], "postgresql": ["DROP TRIGGER refuse ON requests"]}


async def _run(bot: Bot, statements: dict[str, list[str]]) -> None:
    async with bot.database.transaction() as session:
        for statement in statements[bot.database.engine.dialect.name]:
            await session.execute(sqlalchemy.text(statement))


async def test_an_opening_that_fails_costs_only_itself(twins: Twins) -> None:
    quick = twins.quick
    senders = await _spaces_known(twins, 4)
    await _run(quick, _REFUSE)
    texts = ["第一件", "失败", "第三件", "第四件"]
    messages = [
        IncomingMessage(s, s.user_id, f"/new {text}", f"new-{s.user_id}", quick.clock.now())
        for s, text in zip(senders, texts, strict=True)
    ]
    outcomes = await asyncio.gather(
        *(quick.dispatcher.handle(m, inline=InlinePolicy()) for m in messages),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], sqlite3.IntegrityError | asyncpg.RaiseError), outcomes[1]
    rows = await stored(quick)
    # The others opened, numbered with no gap: the failed one's number went back with it.
    assert [(row.number, row.chat_id) for row in rows["requests"]] == [
        ("2026-0001", "u0"),
        ("2026-0002", "u2"),
        ("2026-0003", "u3"),
    ]
    assert "new-u1" not in {row.key for row in rows["inbound_keys"]}
    assert not [row for row in rows["outbox"] if row.inbound_key == "new-u1"]
    await _run(quick, _ALLOW)
    # Nothing of it was kept: delivered again, it opens.
    again = await quick.dispatcher.handle(messages[1], inline=InlinePolicy())
    assert "2026-0004" in again[0].text


@pytest.mark.postgres
async def test_two_processes_opening_at_once_never_share_a_number(
    postgres_server: str, tmp_path: Path, faq_dir: Path
) -> None:
    """Two bots on one database, as two processes: each its own writer's connection."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_postgres(postgres_server, migrated=True))
        settings = load_settings(
            knowledge_dir=faq_dir, roster=roster, database_url=url, **PLATFORMS
        )
        one, two = [await create_bot(settings, ManualClock(MONDAY)) for _ in range(2)]
        stack.push_async_callback(one.close)
        stack.push_async_callback(two.close)
        full = Dispatcher(two.services, fallback=unknown)  # the second's full path, at once
        full.include(*ROUTERS)
        senders = [Sender(Channel.WEB, f"u{n}", f"创业者{n}") for n in range(30)]
        for sender in senders:
            space = IncomingMessage(
                sender,
                sender.user_id,
                "",
                f"space-{sender.user_id}",
                MONDAY,
                choice="space:baodi-eco",
            )
            await one.dispatcher.handle(space)
        messages = [
            IncomingMessage(s, s.user_id, f"/new 第{n}件事", f"new-{n}", MONDAY)
            for n, s in enumerate(senders)
        ]
        takers = [one.dispatcher, two.dispatcher, full]
        # The first message is also delivered again, to the other process, at the same time.
        told = await asyncio.gather(
            *(takers[n % 3].handle(m, inline=InlinePolicy()) for n, m in enumerate(messages)),
            two.dispatcher.handle(messages[0], inline=InlinePolicy()),
        )
        assert _writer(one).units >= 10
        assert _writer(two).units >= 10
        rows = await stored(one)
        numbers = {row.chat_id: row.number for row in rows["requests"]}
        assert sorted(numbers.values()) == [f"2026-{n:04d}" for n in range(1, 31)]
        for sender, replies in zip(senders, told, strict=False):
            assert numbers[sender.user_id] in replies[0].text
        assert [r.to_payload() for r in told[-1]] == [r.to_payload() for r in told[0]]
        assert rows["counters"][0].value == 30
        assert len(rows["request_events"]) == 30
        assert len([row for row in rows["outbox"] if row.request_id is not None]) == 60
