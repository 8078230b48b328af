"""Shared fixtures: FAQ folders, databases (SQLite and PostgreSQL), and a running bot.

Plain helpers are in :mod:`tests.support`; only fixtures live here.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import Bot
from bot.clock import ManualClock
from storage import Database
from tests.support import IN_CI
from tests.support.cli import Cli
from tests.support.databases import (
    POSTGRES_URL,
    drop_templates,
    postgres_available,
    scratch_postgres,
)
from tests.support.desk import MONDAY, ROSTER, bot_for
from tests.support.knowledge import ENTRY, write_faq
from tests.support.processes import BotProcess, run_bot


@pytest.fixture(autouse=True, scope="session")
def no_env_file() -> Iterator[None]:
    """Settings loaded in the tests' own process read no ``.env`` (a developer's) either."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOT_ENV_FILE", "")
        yield


@pytest.fixture(autouse=True)
def only_slow_tests_start_processes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test not marked ``slow`` that starts a process fails, naming the process.

    Keeps ``make test-fast`` (``-m "not slow"``) fast as tests are added: starting the bot, a
    CLI command or Chromium costs seconds. Every way of starting one (``subprocess``,
    ``asyncio``'s subprocesses) goes through :class:`subprocess.Popen`.
    """
    if request.node.get_closest_marker("slow"):
        return

    def refuse(self: subprocess.Popen[bytes], args: object, *_: object, **__: object) -> None:
        pytest.fail(f"starts a process ({args!r}): mark the test slow", pytrace=False)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """``python -m bot COMMAND`` run in this process, in ``tmp_path``: see :class:`Cli`."""
    return Cli(monkeypatch, capsys, tmp_path)


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The server's URL; the migrated template the run made on it is dropped at the end."""
    if not postgres_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    try:
        yield POSTGRES_URL
    finally:
        drop_templates()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database on SQLite (empty) and on PostgreSQL (migrated already), as its URL: whoever
    uses it migrates it first, which on PostgreSQL finds nothing left to do."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    async with scratch_postgres(server, migrated=True) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database on SQLite and on PostgreSQL."""
    db = Database(database_url)
    await db.migrate()
    yield db
    await db.close()


@pytest.fixture(scope="module")
def shipped_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """The bot with the knowledge base that ships, on SQLite, shared by a module's tests."""
    with run_bot(tmp_path_factory.mktemp("bot")) as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def bot(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> AsyncIterator[tuple[Bot, ManualClock]]:
    async with bot_for(request, tmp_path, faq_dir, ROSTER, ManualClock(MONDAY)) as running:
        yield running
