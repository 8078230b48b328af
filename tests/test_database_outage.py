"""A database that stalls, refuses or fills up is an outage the bot answers, never a hang.

The PostgreSQL tests put :class:`FaultProxy` between the bot and a PostgreSQL cluster of the
test's own (``own_postgres``), so the network can be made to refuse connections or to swallow
every byte (a blackhole: a dead switch, a frozen host) while the test watches what each channel
answers. The full-disk test runs the bot on SQLite in a small tmpfs that the test fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, text

from bot.app import create_bot
from bot.channels.console.auth import issue_link
from bot.clock import ManualClock, SystemClock
from bot.domain.roster.load import load_roster
from bot.server import build_application
from bot.settings import load_settings
from bot.texts.chat import EN, ZH
from bot.texts.console import CONSOLE_TEXTS
from storage import Database
from storage.database import _MIGRATION_LOCK as MIGRATION_LOCK
from storage.database import SERVING, UNAVAILABLE
from storage.models import InboundKey, OutboxMessage, OutboxStatus
from tests.support.databases import own_postgres, scratch_postgres, tmpfs
from tests.support.desk import MONDAY, ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import run_bot
from tests.support.tcp_proxy import FaultProxy
from tests.support.telegram import ENTREPRENEUR, SECRET, TOKEN, running_bot

CROWD = 20
PATIENCE = 15.0
"""Seconds within which every request in a blackhole must have had its 503."""
GIVE_UP = 45.0
"""Seconds after which the test counts a request as hung."""
SHUTDOWN = 10.0
"""Seconds within which SIGTERM must end the process, database stalled or not."""
QUESTION = "服务专员多久回复"
_NUMBER = re.compile(r"工单已提交：(\d{4}-\d{4})")


def _through(url: str, port: int) -> str:
    """``url`` with its port replaced by ``port`` (the proxy's)."""
    head, _, rest = url.rpartition(":")
    return f"{head}:{port}/{rest.split('/', 1)[1]}"


def _port(url: str) -> int:
    return int(url.rpartition(":")[2].split("/", 1)[0])


def _need_runuser() -> None:
    if shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("runuser is needed to run PostgreSQL as root")


async def _timed(work: Awaitable[Any]) -> tuple[Any, float]:
    """``work``'s result (or the exception it raised) and the seconds it took."""
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(work, GIVE_UP)
    except TimeoutError:
        result = "hung"
    except Exception as error:
        result = error
    return result, time.monotonic() - started


async def _chat(url: str, session: str, words: str, message_id: str) -> tuple[int, Any]:
    headers = {"Cookie": f"md_session={session}", "Accept-Language": "zh-CN,zh;q=0.9"}
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{url}/api/messages", json={"text": words, "id": message_id}, headers=headers
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _get(url: str, path: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as client, client.get(url + path, headers=headers) as r:
        return r.status, r.content_type, await r.text()


async def _console_cookie(bot_url: str, database_url: str, roster: Path) -> str:
    """Sign zhangwei in to the console with a one-time link; the session cookie's header."""
    database = Database(database_url)
    try:
        _, link = await issue_link(
            database,
            load_roster(roster),
            "zhangwei",
            now=SystemClock().now(),
            lifetime=timedelta(hours=1),
        )
    finally:
        await database.close()
    token = link.rsplit("=", 1)[1]
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{bot_url}/console/api/signin", json={"token": token}) as response,
    ):
        assert response.status == 200, await response.text()
        return f"md_console={response.cookies['md_console'].value}"


async def _healthy(url: str, within: float = 60.0) -> str:
    """Wait (on the real process, polling ``/healthz``) until the bot is healthy again."""
    deadline = time.monotonic() + within
    answer = "no answer"
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            status, _, answer = await _get(url, "/healthz")
            if status == 200:
                return answer
        await asyncio.sleep(0.2)  # a real process reconnecting: nothing to await but a poll
    raise AssertionError(f"the bot did not recover: {answer}")


_EN = {"Accept-Language": "en-GB,en;q=0.9"}


def _error(answer: Any) -> tuple[int, str] | Any:
    """A JSON error answer's status and words (or the outcome as it came, to show)."""
    if not isinstance(answer, tuple) or answer[1] != "application/json":
        return answer
    return answer[0], json.loads(answer[2])["error"]


async def _until(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the bot never wrote to the database"
        await asyncio.sleep(0.05)  # the bot process writing to the proxy's socket


async def _stored_for(url: str, key: str) -> tuple[int, list[OutboxMessage]]:
    database = Database(url)
    try:
        async with database.sessions() as session:
            keys = len(
                (await session.scalars(select(InboundKey).where(InboundKey.key == key))).all()
            )
            rows = await session.scalars(
                select(OutboxMessage).where(OutboxMessage.inbound_key == key)
            )
            return keys, list(rows)
    finally:
        await database.close()


# --- what counts as "the database cannot serve now" ----------------------------------------


@pytest.mark.postgres
async def test_the_serving_connections_carry_postgresql_limits(postgres_server: str) -> None:
    async with scratch_postgres(postgres_server) as url:
        database = Database(url)
        try:
            async with database.sessions() as session:
                statement = await session.scalar(text("SHOW statement_timeout"))
                idle = await session.scalar(text("SHOW idle_in_transaction_session_timeout"))
        finally:
            await database.close()
    assert (statement, idle) == ("10s", "1min")


@pytest.mark.postgres
@pytest.mark.parametrize("limit", ["statement_timeout", "lock_timeout"])
async def test_a_lock_held_too_long_is_an_outage_not_a_bug(
    postgres_server: str, limit: str
) -> None:
    """A row another transaction keeps locked: PostgreSQL gives up, and so may the caller."""
    async with scratch_postgres(postgres_server) as url:
        database = Database(url)
        holder = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            await holder.execute("CREATE TABLE spaces (id int PRIMARY KEY, name text)")
            await holder.execute("INSERT INTO spaces VALUES (1, '北大科技园')")
            async with holder.transaction():
                await holder.execute("UPDATE spaces SET name = '节能环保' WHERE id = 1")
                with pytest.raises(UNAVAILABLE):
                    await _rename(database, limit)
        finally:
            await holder.close()
            await database.close()


async def _rename(database: Database, limit: str) -> None:
    async with database.transaction() as session:
        await session.execute(text(f"SET LOCAL {limit} = '200ms'"))
        await session.execute(text("UPDATE spaces SET name = '' WHERE id = 1"))


@pytest.mark.postgres
async def test_a_session_ended_by_the_server_is_an_outage(postgres_server: str) -> None:
    async with scratch_postgres(postgres_server) as url:
        database = Database(url)
        admin = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:

            async def waiting() -> None:
                async with database.sessions() as session:
                    await session.execute(text("SELECT pg_sleep(30)"))

            task = asyncio.ensure_future(waiting())
            ended = (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"
            )
            while not await admin.fetchval(ended):  # noqa: ASYNC110 - another process's state
                await asyncio.sleep(0.05)
            with pytest.raises(UNAVAILABLE):
                await asyncio.wait_for(task, 10)
            async with database.sessions() as session:  # and the next one works
                assert await session.scalar(text("SELECT 1")) == 1
        finally:
            await admin.close()
            await database.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_pool_with_no_connection_free_is_an_outage(postgres_server: str) -> None:
    async with scratch_postgres(postgres_server) as url:
        database = Database(url)
        held = [await database.engine.connect() for _ in range(15)]  # pool_size + max_overflow
        try:
            for connection in held:
                await connection.execute(text("SELECT 1"))
            started = time.monotonic()
            with pytest.raises(UNAVAILABLE):
                async with database.sessions() as session:
                    await asyncio.wait_for(session.execute(text("SELECT 1")), 20)
            assert time.monotonic() - started < 10
        finally:
            for connection in held:
                await connection.close()
            await database.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_the_report_and_migrations_are_not_held_to_the_serving_limit(
    postgres_server: str,
) -> None:
    async with scratch_postgres(postgres_server) as url:
        brief = replace(SERVING, statement=0.2)
        database = Database(url, brief)
        holder = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            # Another process migrating: this one waits for its lock, however long it takes.
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            migrating = asyncio.ensure_future(database.migrate())
            waited = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%pg_advisory_xact_lock%' AND now() - query_start > '0.5 s'"
            )
            # Waiting, by the server's clock, past the serving statement limit.
            while not await holder.fetchval(waited):
                assert not migrating.done(), migrating.exception()
                await asyncio.sleep(0.05)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            await asyncio.wait_for(migrating, 30)
            with pytest.raises(UNAVAILABLE):
                async with database.sessions() as session:
                    await session.execute(text("SELECT pg_sleep(0.5)"))
            async with database.unhurried() as session:
                await session.execute(text("SELECT pg_sleep(0.5)"))
                assert await session.scalar(text("SHOW statement_timeout")) == "10min"
        finally:
            await holder.close()
            await database.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_closing_does_not_wait_for_a_stalled_server(postgres_server: str) -> None:
    async with scratch_postgres(postgres_server) as direct:
        with FaultProxy(_port(direct)) as proxy:
            database = Database(_through(direct, proxy.port))
            async with database.sessions() as session:
                await session.execute(text("SELECT 1"))  # a connection now waits in the pool
            proxy.blackhole()
            started = time.monotonic()
            await asyncio.wait_for(database.close(), GIVE_UP)
            assert time.monotonic() - started < 3
            proxy.forward()


# --- every route answers an outage ---------------------------------------------------------


@pytest.mark.postgres
async def test_every_route_answers_a_refused_database_with_503_and_a_bug_with_500(
    tmp_path: Path, faq_dir: Path, postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    async with scratch_postgres(postgres_server) as direct:
        with FaultProxy(_port(direct)) as proxy:
            settings = load_settings(
                knowledge_dir=faq_dir, roster=roster, database_url=_through(direct, proxy.port)
            )
            bot = await create_bot(settings, ManualClock(MONDAY))
            app = build_application(bot)

            async def broken(_: web.Request) -> web.Response:
                raise RuntimeError("a bug of ours")

            app.router.add_get("/broken", broken)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            url = str(server.make_url("")).rstrip("/")
            try:
                proxy.refuse()
                assert (await _get(url, "/healthz"))[0] == 503
                assert (await _get(url, "/metrics"))[0] == 503
                assert _error(await _get(url, "/api/updates", Cookie="md_session=a")) == (
                    503,
                    ZH.unavailable,
                )
                english = await _get(url, "/api/updates", Cookie="md_session=a", **_EN)
                assert _error(english) == (503, EN.unavailable)
                async with (
                    aiohttp.ClientSession() as client,
                    client.post(f"{url}/console/api/signin", json={"token": "x" * 32}) as r,
                ):
                    assert (r.status, await r.json()) == (503, {"error": CONSOLE_TEXTS.unavailable})
                caplog.clear()
                status, kind, body = await _get(url, "/broken?token=secret-token")
                assert (status, kind) == (500, "text/plain")
                assert "Traceback" not in body
                assert "a bug of ours" not in body
                assert "RuntimeError: a bug of ours" in caplog.text  # the traceback is logged
                assert "secret-token" not in caplog.text
            finally:
                proxy.forward()
                await server.close()
                await bot.close()


# --- the bot process behind a stalling network ---------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_stalled_postgresql_gets_503_on_every_channel_and_the_bot_recovers(
    tmp_path: Path, faq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_runuser()
    with own_postgres() as (direct, _cluster), FaultProxy(_port(direct)) as proxy:
        async with (
            FakeTelegram(token=TOKEN) as fake,
            running_bot(
                tmp_path,
                fake,
                database_url=_through(direct, proxy.port),
                knowledge_dir=str(faq_dir),
                telegram_webhook_url="http://127.0.0.1:1",
                telegram_webhook_secret=SECRET,
            ) as bot,
        ):
            console = await _console_cookie(bot.url, direct, tmp_path / "roster.yaml")
            assert (await _chat(bot.url, "visitor-0", QUESTION, "before"))[0] == 200
            assert (await _get(bot.url, "/console/api/requests", Cookie=console))[0] == 200

            proxy.blackhole()
            update = fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
            webhook = f"{bot.url}/telegram"
            outcomes = await asyncio.gather(
                *(
                    _timed(_chat(bot.url, f"visitor-{n}", QUESTION, f"stalled-{n}"))
                    for n in range(CROWD)
                ),
                _timed(_get(bot.url, "/api/updates?after=0", Cookie="md_session=visitor-0")),
                _timed(_get(bot.url, "/api/updates", Cookie="md_session=x", **_EN)),
                _timed(_get(bot.url, "/console/api/requests", Cookie=console)),
                _timed(_get(bot.url, "/metrics")),
                _timed(fake.deliver(update, url=webhook)),
            )
            chats, rest = outcomes[:CROWD], outcomes[CROWD:]
            assert [answer for answer, _ in chats] == [(503, {"error": ZH.unavailable})] * CROWD
            (updates, _), (english, _), (board, _), (metrics, _), (telegram, _) = rest
            assert _error(updates) == (503, ZH.unavailable)
            assert _error(english) == (503, EN.unavailable)
            assert _error(board) == (503, CONSOLE_TEXTS.unavailable)
            assert metrics[0] == 503
            assert telegram == 503  # not 2xx: Telegram sends the update again later
            times = sorted(seconds for _, seconds in outcomes)
            assert times[-1] < PATIENCE, [round(seconds, 1) for _, seconds in outcomes]
            with capsys.disabled():
                print(
                    f"\nblackhole: {len(times)} requests answered 503 in {times[0]:.1f} s"
                    f" (fastest), {times[len(times) // 2]:.1f} s (median),"
                    f" {times[-1]:.1f} s (slowest)"
                )

            proxy.forward()
            await _healthy(bot.url)
            status, answer = await _chat(bot.url, "visitor-1", QUESTION, "stalled-1")
            assert status == 200
            assert answer["messages"][0]["faq_id"] == "reply-deadline"
            assert (await _get(bot.url, "/api/updates", Cookie="md_session=visitor-1"))[0] == 200
            assert (await _get(bot.url, "/console/api/requests", Cookie=console))[0] == 200
            assert (await _get(bot.url, "/metrics"))[0] == 200
            # Telegram's redelivery of the update the outage refused: answered, and once.
            assert await fake.deliver(update, url=webhook) == 200
            (sent,) = fake.sent(chat_id=ENTREPRENEUR)
            assert "10个工作日" in str(sent.params["text"])
            # Handed back in the response and stored so: the outbox never sends it again.
            key = f"telegram:{update['update_id']}"
            keys, replies = await _stored_for(direct, key)
            assert keys == 1
            assert [(r.status, r.attempts) for r in replies] == [(OutboxStatus.HANDED_BACK, 0)]

            # SIGTERM while the database is stalled and requests are waiting on it.
            proxy.blackhole()
            held = proxy.held
            waiting = [
                asyncio.ensure_future(_timed(_chat(bot.url, f"late-{n}", QUESTION, f"late-{n}")))
                for n in range(3)
            ]
            await _until(lambda: proxy.held > held)
            started = time.monotonic()
            bot.process.send_signal(signal.SIGTERM)
            try:
                await bot.exit_async(GIVE_UP)
            except TimeoutError:
                await bot.kill_async()
                raise AssertionError(f"SIGTERM did not end the bot:\n{bot.output()}") from None
            stopped = time.monotonic() - started
            # Those in flight were told to send again, or lost their connection: no 500.
            for answer, _ in await asyncio.gather(*waiting):
                assert answer == (503, {"error": ZH.unavailable}) or isinstance(
                    answer, aiohttp.ClientError
                ), answer
            assert stopped < SHUTDOWN, bot.output()
            assert bot.process.returncode == 0, bot.output()
            # The outage was said once by each loop, not with a traceback every round.
            log = bot.output()
            assert "round failed" not in log, log
            assert log.count("outbox: the database is unavailable") <= 2, log
            with capsys.disabled():
                print(f"blackhole: SIGTERM to exit {stopped:.1f} s")


# --- SQLite on a full disk -----------------------------------------------------------------

DISK = 128 * 2**20
"""The tmpfs's size: room for jieba's cache (9 MB) and the database, and above the bot's
low-space mark, so that it starts healthy."""


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until the filesystem has no byte left; the file."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):
            while _fits(descriptor, b"\0" * size):
                pass
    finally:
        os.close(descriptor)
    return filler


def _fits(descriptor: int, block: bytes) -> bool:
    """Whether ``block``, or a part of it, could still be written."""
    try:
        return os.write(descriptor, block) > 0
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        return False


async def _act(url: str, cookie: str, number: str, client_id: str) -> tuple[int, Any]:
    body = {"action": "claim", "number": number, "id": client_id}
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{url}/console/api/act", json=body, headers={"Cookie": cookie}) as r,
    ):
        return r.status, await r.json(content_type=None)


@pytest.mark.slow
async def test_a_full_disk_fails_the_health_check_and_is_answered_503(
    tmp_path: Path, faq_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(f"{DISK // 2**20}m") as disk:
        temp = disk / "tmp"
        temp.mkdir()
        monkeypatch.setenv("TMPDIR", str(temp))  # the PDF's and jieba's files go there
        roster = tmp_path / "roster.yaml"
        roster.write_text(ROSTER, encoding="utf-8")
        database_url = f"sqlite+aiosqlite:///{disk / 'bot.db'}"
        with run_bot(
            tmp_path, database_url=database_url, roster=str(roster), knowledge_dir=str(faq_dir)
        ) as bot:
            cookie = await _console_cookie(bot.url, database_url, roster)
            # One visitor, kept by the session cookie the server issues.
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as maker:
                chat = f"{bot.url}/api/messages"
                async with maker.post(chat, json={"text": "/new 想了解场地补贴", "id": "new"}):
                    pass
                async with maker.post(chat, json={"choice": "space:baodi-eco", "id": "space"}) as r:
                    replies = (await r.json())["messages"]
            (number,) = [m for r in replies for m in _NUMBER.findall(r["text"])]
            status, _, health = await _get(bot.url, "/healthz")
            assert status == 200, health

            filler = fill(disk)
            status, _, health = await _get(bot.url, "/healthz")
            assert status == 503
            rooms = json.loads(health)["disk"]
            assert (rooms["database"]["full"], rooms["temp"]["full"]) == (True, True)
            status, _, readiness = await _get(bot.url, "/readyz")
            assert (status, json.loads(readiness)["checks"]["disk"]) == (503, False)
            assert await _chat(bot.url, "visitor", QUESTION, "full") == (
                503,
                {"error": ZH.unavailable},
            )
            assert await _act(bot.url, cookie, number, "claim-on-full-disk") == (
                503,
                {"error": CONSOLE_TEXTS.unavailable},
            )

            filler.unlink()
            assert (await _get(bot.url, "/healthz"))[0] == 200
            # Ready as far as the disk goes (the calendar may be another matter in December).
            assert json.loads((await _get(bot.url, "/readyz"))[2])["checks"]["disk"] is True
            status, answer = await _chat(bot.url, "visitor", QUESTION, "full")
            assert status == 200
            assert answer["messages"][0]["faq_id"] == "reply-deadline"
            status, claimed = await _act(bot.url, cookie, number, "claim-on-full-disk")
            assert status == 200
            assert "认领" in claimed["messages"][0]["text"]


@pytest.mark.slow
async def test_a_poller_waits_out_a_full_disk_and_answers_the_update_once(
    tmp_path: Path, faq_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmpfs(f"{DISK // 2**20}m") as disk:
        temp = disk / "tmp"
        temp.mkdir()
        monkeypatch.setenv("TMPDIR", str(temp))
        async with (
            FakeTelegram(token=TOKEN) as fake,
            running_bot(
                tmp_path,
                fake,
                database_url=f"sqlite+aiosqlite:///{disk / 'bot.db'}",
                knowledge_dir=str(faq_dir),
            ),
        ):
            fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
            await fake.wait_for(lambda c: "10个工作日" in str(c.params.get("text")), timeout=30)

            filler = fill(disk)
            update = fake.private_message(ENTREPRENEUR, "服务小组有几个人？")
            # The poller has taken the update and failed to store it, at least once.
            await fake.wait_until(
                lambda: any(update["update_id"] in p.update_ids for p in fake.polls), timeout=30
            )
            filler.unlink()
            await fake.wait_for(lambda c: "至少2人" in str(c.params.get("text")), timeout=60)
            await fake.wait_until(
                lambda: any(p.offset > update["update_id"] for p in fake.polls), timeout=30
            )
            answers = [c for c in fake.sent(ENTREPRENEUR) if "至少2人" in str(c.params["text"])]
            assert len(answers) == 1
