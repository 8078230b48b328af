"""One process at a time polls Telegram, however many share the database.

Telegram serves one ``getUpdates`` at a time and ends the older with 409 Conflict, so bot
processes sharing a PostgreSQL database elect a poller with an advisory lock
(:meth:`storage.Database.leadership`). The lock is tested on its own, then two real
``python -m bot run`` processes against one fake Bot API: one polls, the other stands by and
takes over when the first is killed or loses its lock's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from telegram import Bot
from telegram.error import Conflict

from storage import Database
from storage.database import Lease
from tests.support.databases import scratch_postgres
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import BotProcess
from tests.support.telegram import TOKEN, running_bot, texts_to

POLLS = "telegram: this process polls"
STANDS_BY = "telegram: another process polls; standing by"
LOST = "telegram: lost the poller lock"
QUESTION = "服务专员多久给我回复？"
ANSWER = "来源："
FIRST_USER = 6001
SETTLER = 6999
TAKEOVER = 30.0
"""Seconds another process may take to poll after the poller died (it retries every 2 s)."""


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """Wait until ``condition()`` holds (a process's log, the database), checking often."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)  # another process's doing: nothing here to wait on


# ---------------------------------------------------------------- the fake, as the tests need it


async def test_the_fake_ends_a_superseded_poll_with_409_but_not_an_abandoned_one() -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        root = f"{fake.root}/bot"
        async with Bot(TOKEN, root) as first, Bot(TOKEN, root) as rival, Bot(TOKEN, root) as late:
            pending = asyncio.create_task(first.get_updates(timeout=30))
            await fake.wait_until(lambda: fake.polls_waiting == 1)
            answered = asyncio.create_task(rival.get_updates(timeout=30))
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await pending
            assert fake.conflicts == 1
            await fake.wait_until(lambda: fake.polls_waiting == 1)

            # A client that gives up its poll (a process killed, a poll cut short) is gone:
            # the next poll is no conflict.
            answered.cancel()
            await fake.wait_until(lambda: fake.polls[-1].outcome == "gone")
            fake.private_message(FIRST_USER, "在吗")
            (update,) = await late.get_updates(timeout=30)
            assert [p.outcome for p in fake.polls] == ["conflict", "gone", "updates"]
            assert fake.polls[-1].update_ids == (update.update_id,)
            assert fake.conflicts == 1


# ---------------------------------------------------------------- the lock


@contextlib.asynccontextmanager
async def databases(url: str, count: int) -> AsyncIterator[list[Database]]:
    """``count`` engines on one database, as separate processes would have."""
    opened = [Database(url) for _ in range(count)]
    try:
        yield opened
    finally:
        for database in opened:
            await database.close()


async def lock_holders(url: str) -> list[int]:
    """The server processes holding an advisory lock in the database at ``url``."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


class Contender:
    """A task that waits for the lock, then holds it until told to let go."""

    def __init__(self, database: Database, name: str = "test lock") -> None:
        self.refused = asyncio.Event()
        self.got = asyncio.Event()
        self.release = asyncio.Event()
        self.lease: Lease | None = None
        self.task = asyncio.create_task(self._run(database, name))

    async def _run(self, database: Database, name: str) -> None:
        async with database.leadership(name, retry=0.05, on_wait=self.refused.set) as lease:
            self.lease = lease
            self.got.set()
            await self.release.wait()

    async def stop(self) -> None:
        self.release.set()
        await asyncio.wait_for(self.task, 10)


@pytest.mark.postgres
async def test_a_second_holder_waits_until_the_first_lets_go(postgres_server: str) -> None:
    async with scratch_postgres(postgres_server) as url, databases(url, 3) as (one, two, three):
        first = Contender(one)
        await asyncio.wait_for(first.got.wait(), 10)
        assert first.lease is not None
        assert await first.lease.held()
        assert len(await lock_holders(url)) == 1

        second, third = Contender(two), Contender(three)
        await asyncio.wait_for(second.refused.wait(), 10)
        await asyncio.wait_for(third.refused.wait(), 10)
        # A waiter that gives up leaves nothing behind: it never held the lock.
        third.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await third.task
        assert not second.got.is_set()

        await first.stop()
        await asyncio.wait_for(second.got.wait(), 10)
        assert second.lease is not None
        assert await second.lease.held()
        assert len(await lock_holders(url)) == 1
        await second.stop()
        assert await lock_holders(url) == []

        # Free again: the next holder gets it at the first try.
        fourth = Contender(one)
        await asyncio.wait_for(fourth.got.wait(), 10)
        assert not fourth.refused.is_set()
        await fourth.stop()


@pytest.mark.postgres
async def test_a_holder_whose_connection_ends_loses_the_lock_and_learns_it(
    postgres_server: str,
) -> None:
    async with scratch_postgres(postgres_server) as url, databases(url, 2) as (one, two):
        first = Contender(one)
        await asyncio.wait_for(first.got.wait(), 10)
        second = Contender(two)
        await asyncio.wait_for(second.refused.wait(), 10)
        assert first.lease is not None

        # What a database restart does to the holder's session.
        (holder,) = await lock_holders(url)
        admin = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", holder)
        finally:
            await admin.close()

        await asyncio.wait_for(first.lease.lost(), 10)
        assert not await first.lease.held()
        await asyncio.wait_for(second.got.wait(), 10)
        assert second.lease is not None
        assert await second.lease.held()
        await first.stop()  # letting go of a lost lock is no error
        assert await second.lease.held()
        await second.stop()


async def test_on_sqlite_the_lock_is_granted_at_once(tmp_path: Path) -> None:
    async with databases(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", 2) as (one, two):
        refused: list[str] = []
        async with (
            one.leadership("test lock", on_wait=lambda: refused.append("one")) as first,
            two.leadership("test lock", on_wait=lambda: refused.append("two")) as second,
        ):
            assert await first.held()
            assert await second.held()
        assert refused == []


# ---------------------------------------------------------------- two bot processes


@contextlib.asynccontextmanager
async def two_bots(
    tmp_path: Path, fake: FakeTelegram, url: str
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Two polling bot processes on the PostgreSQL database at ``url``, one elected."""
    async with (
        running_bot(tmp_path, fake, database_url=url) as one,
        running_bot(tmp_path, fake, database_url=url) as two,
    ):
        await until(lambda: bool(pollers((one, two))), timeout=TAKEOVER)
        yield one, two


def pollers(bots: tuple[BotProcess, ...]) -> list[BotProcess]:
    """The processes whose log says they poll (or polled: a killed one's log stays)."""
    return [bot for bot in bots if POLLS in bot.output()]


async def answered_once(fake: FakeTelegram, users: range) -> None:
    """Wait until every user in ``users`` has an answer, then check it is the only one.

    One process polls and handles updates in order, so once the answer to a later ``/help``
    is out, any second answer to the questions before it would be out too.
    """
    await fake.wait_until(
        lambda: all(texts_to(fake, user) for user in users), timeout=TAKEOVER + 20
    )
    helped = len(texts_to(fake, SETTLER))
    fake.private_message(SETTLER, "/help")
    await fake.wait_until(lambda: len(texts_to(fake, SETTLER)) > helped, timeout=20)
    for user in users:
        assert len(texts_to(fake, user)) == 1, texts_to(fake, user)
        assert ANSWER in texts_to(fake, user)[0]


@pytest.mark.slow
@pytest.mark.postgres
async def test_of_two_processes_one_polls_and_each_update_is_answered_once(
    postgres_server: str, tmp_path: Path
) -> None:
    async with (
        scratch_postgres(postgres_server) as url,
        FakeTelegram(token=TOKEN) as fake,
        two_bots(tmp_path, fake, url) as bots,
    ):
        users = range(FIRST_USER, FIRST_USER + 8)
        for user in users:
            fake.private_message(user, QUESTION)
        await answered_once(fake, users)

        assert fake.conflicts == 0, fake.polls
        (poller,) = pollers(bots)
        (standby,) = [bot for bot in bots if bot is not poller]
        assert standby.output().count(STANDS_BY) == 1


@pytest.mark.slow
@pytest.mark.postgres
async def test_when_the_poller_is_killed_the_other_process_takes_over(
    postgres_server: str, tmp_path: Path
) -> None:
    async with (
        scratch_postgres(postgres_server) as url,
        FakeTelegram(token=TOKEN) as fake,
        two_bots(tmp_path, fake, url) as bots,
    ):
        fake.private_message(FIRST_USER, QUESTION)
        await answered_once(fake, range(FIRST_USER, FIRST_USER + 1))
        (poller,) = pollers(bots)
        (standby,) = [bot for bot in bots if bot is not poller]

        await poller.kill_async()
        users = range(FIRST_USER + 1, FIRST_USER + 4)
        for user in users:
            fake.private_message(user, QUESTION)
        await until(lambda: POLLS in standby.output(), timeout=TAKEOVER)
        await answered_once(fake, users)

        assert len(texts_to(fake, FIRST_USER)) == 1
        assert fake.conflicts == 0, fake.polls


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_poller_that_loses_its_lock_stops_polling_and_one_process_polls_on(
    postgres_server: str, tmp_path: Path
) -> None:
    async with (
        scratch_postgres(postgres_server) as url,
        FakeTelegram(token=TOKEN) as fake,
        two_bots(tmp_path, fake, url) as bots,
    ):
        fake.private_message(FIRST_USER, QUESTION)
        await answered_once(fake, range(FIRST_USER, FIRST_USER + 1))
        (poller,) = pollers(bots)
        await fake.wait_until(lambda: fake.polls_waiting == 1)
        (pending,) = [p for p in fake.polls if p.outcome == "waiting"]

        # A database restart, as the poller's lock connection sees it.
        (holder,) = await lock_holders(url)
        admin = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", holder)
        finally:
            await admin.close()
        await until(lambda: LOST in poller.output())
        # The long poll in flight was cut short at once, not left to run beside a new poller.
        await fake.wait_until(lambda: pending.outcome != "waiting")
        assert pending.outcome == "gone", fake.polls
        # Someone holds the lock again (the same process or the other) …
        await until(lambda: sum(b.output().count(POLLS) for b in bots) == 2)
        assert len(await lock_holders(url)) == 1

        # … and polls alone from then on.
        conflicts = fake.conflicts
        users = range(FIRST_USER + 1, FIRST_USER + 4)
        for user in users:
            fake.private_message(user, QUESTION)
        await answered_once(fake, users)
        assert fake.conflicts == conflicts, fake.polls
        assert conflicts <= 1  # at most the one poll cut short during the handover
