"""Shared fixtures: FAQ folders, databases (SQLite and PostgreSQL), and a running bot."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import aiohttp
import asyncpg
import pytest

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.settings import load_settings
from storage import Database

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "BOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI") == "true"
START_UP = 60.0
"""Seconds a bot process may take to answer ``/healthz`` (a loaded CI machine is slow)."""

ENTRY = """\
- id: {id}
  question: {question}
  variants:
    - {variant}
  answer: |
    {answer}
  source: 津科创〔2015〕51号 第七条
  category: commissioners
"""


def clean_env(**variables: str) -> dict[str, str]:
    """The environment of a process a test starts: the machine's, without its ``BOT_*``
    variables and reading no ``.env`` file (a developer's, in the folder it runs in), plus
    ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return env | {"BOT_ENV_FILE": ""} | variables


@pytest.fixture(autouse=True, scope="session")
def no_env_file() -> Iterator[None]:
    """Settings loaded in the tests' own process read no ``.env`` either."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOT_ENV_FILE", "")
        yield


def write_faq(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def faq_dir(tmp_path: Path) -> Path:
    """A small valid knowledge base of two entries."""
    directory = tmp_path / "faq"
    write_faq(
        directory,
        "a.yaml",
        ENTRY.format(
            id="reply-deadline",
            question="服务专员多久给我反馈结果？",
            variant="提交的问题多长时间有答复",
            answer="服务专员一般在10个工作日内反馈。",
        )
        + ENTRY.format(
            id="group-size",
            question="服务小组有几个人？",
            variant="一个服务小组几个人",
            answer="服务小组至少2人。",
        ),
    )
    return directory


def free_port() -> int:
    """A loopback port nothing listens on now, for a server that cannot report its own (a
    PostgreSQL cluster) or an address nothing should answer at; the bot is given port 0."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LISTENING = re.compile(r"^listening on (http://\S+)$", re.MULTILINE)
"""The line ``python -m bot run`` prints once it listens (it is given port 0)."""


def listening_url(log: Path) -> str | None:
    """The address a bot process logging to ``log`` said it listens at, once it has."""
    found = LISTENING.search(log.read_text(encoding="utf-8", errors="replace"))
    return found[1] if found else None


def _postgres_available() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    # Probed on a thread of its own: session fixtures may be set up inside a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not _postgres_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    return POSTGRES_URL


@contextlib.asynccontextmanager
async def scratch_postgres(server_url: str) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards."""
    name = f"makerdesk_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url.replace("+asyncpg", ""))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on SQLite and on PostgreSQL, as its URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    async with scratch_postgres(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on SQLite and on PostgreSQL."""
    db = Database(database_url)
    await db.migrate()
    yield db
    await db.close()


@dataclass
class RunningBot:
    """A ``python -m bot run`` process serving on a free loopback port."""

    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def bot_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        BOT_HTTP_PORT="0",
        BOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"BOT_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.contextmanager
def serving(env: dict[str, str], cwd: Path, log: Path) -> Iterator[RunningBot]:
    """``python -m bot run`` in ``cwd`` with ``env``; waits until ``/healthz`` answers."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    running = RunningBot(process, "", env, log)
    try:
        deadline = time.monotonic() + START_UP
        while True:
            if process.poll() is not None:
                raise AssertionError(f"bot exited early:\n{running.output()}")
            running.url = running.url or listening_url(log) or ""
            try:
                if running.url:
                    with urlopen(f"{running.url}/healthz", timeout=2):
                        break
            except (URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"bot did not start:\n{running.output()}") from None
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def run_bot(tmp_path: Path, **settings: str) -> Iterator[RunningBot]:
    """Start the real bot process and wait until ``/healthz`` answers."""
    log = tmp_path / f"bot-{uuid.uuid4().hex[:6]}.log"
    with serving(bot_env(tmp_path, **settings), tmp_path, log) as running:
        yield running


@dataclass
class BotProcess:
    """A ``python -m bot run`` process started from a test's event loop."""

    process: asyncio.subprocess.Process
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.asynccontextmanager
async def serving_async(tmp_path: Path, **settings: str) -> AsyncIterator[BotProcess]:
    """:func:`run_bot` without blocking the loop (the test's fakes run on it)."""
    env = bot_env(tmp_path, **settings)
    log = tmp_path / f"bot-{uuid.uuid4().hex[:6]}.log"
    with log.open("w") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env, stdout=sink, stderr=sink, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    running = BotProcess(process, "", log)
    try:
        async with aiohttp.ClientSession() as client:
            deadline = time.monotonic() + START_UP
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"bot exited:\n{running.output()}")
                running.url = running.url or listening_url(log) or ""
                with contextlib.suppress(aiohttp.ClientError):
                    if running.url:
                        async with client.get(f"{running.url}/healthz") as response:
                            if response.status == 200:
                                break
                if time.monotonic() > deadline:
                    raise AssertionError(f"bot did not start:\n{running.output()}")
                await asyncio.sleep(0.1)  # the process is starting; nothing to wait on
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.contextmanager
def tmpfs(size: str, *, inodes: int | None = None) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"128m"``, ``"64k"``), mounted for the test, unmounted after it.

    It needs root, as CI has: elsewhere the test is skipped, in CI it fails.
    """
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("mounting a tmpfs needs root; CI runs as root")
        pytest.skip("mounting a tmpfs needs root (the full-disk tests run as root, as in CI)")
    folder = Path(tempfile.mkdtemp(prefix="makerdesk-disk-"))
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
        folder.rmdir()


@pytest.fixture(scope="module")
def shipped_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The bot with the knowledge base that ships, on SQLite, shared by a module's tests."""
    with run_bot(tmp_path_factory.mktemp("bot")) as running:
        yield running


ROSTER = """\
districts:
  - id: baodi
    name: 宝坻区
    supervisors:
      - {name: 区科委值班, telegram: 9101}
    supervisors_chat: {telegram: -1009100000001}
spaces:
  - {id: baodi-eco, name: 节能环保工业园区众创空间, district: baodi}
  - {id: baodi-pku, name: 北大科技园众创空间, district: baodi}
groups:
  - id: g1
    name: 服务一组
    district: baodi
    chat: {telegram: -1002000000001}
    members:
      - {name: 张伟, telegram: 2001, web: zhangwei}
      - {name: 李娜, telegram: 2002}
    onsite: {baodi-eco: mon}
  - id: g2
    name: 服务二组
    district: baodi
    chat: {telegram: -1002000000002}
    members:
      - {name: 王芳, telegram: 2003}
      - {name: 刘洋, telegram: 2004}
    onsite: {baodi-pku: thu}
admins:
  - {name: 管理员, telegram: 9001}
"""
"""A roster of two duty groups in one district, for the service-desk tests."""

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def bot(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> AsyncIterator[tuple[Bot, ManualClock]]:
    async with bot_for(request, tmp_path, faq_dir, ROSTER, ManualClock(MONDAY)) as running:
        yield running


@contextlib.asynccontextmanager
async def bot_for(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    faq_dir: Path,
    roster_text: str,
    clock: ManualClock,
    database: str | None = None,
) -> AsyncIterator[tuple[Bot, ManualClock]]:
    """The bot in-process on ``roster_text``, on ``database`` (default: ``request.param``)."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(roster_text, encoding="utf-8")

    async def start(url: str) -> Bot:
        settings = load_settings(knowledge_dir=faq_dir, roster=roster, database_url=url)
        return await create_bot(settings, clock)

    if (database or request.param) == "sqlite":
        running = await start(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        try:
            yield running, clock
        finally:
            await running.close()
        return
    async with scratch_postgres(request.getfixturevalue("postgres_server")) as url:
        running = await start(url)
        try:
            yield running, clock
        finally:
            await running.close()
