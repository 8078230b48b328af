"""``/readyz``: ready only with the database answering, the knowledge base loaded and the
working-day calendar official for the next 60 days.

The database case runs a PostgreSQL cluster of the test's own (``initdb`` in a temporary
folder, on a free port), so that it can be stopped and started again without touching the
server the other tests share.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from conftest import ROSTER, free_port
from sqlalchemy import func, select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import load_settings
from bot.texts.chat import ZH
from storage import Database
from storage.models import AnsweredQuestion

SUMMER = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
"""The next 60 days lie in 2026, a year the calendar knows."""
DECEMBER = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
"""The next 60 days reach into 2027, which the State Council has not announced yet here."""


@contextlib.asynccontextmanager
async def site(
    tmp_path: Path,
    faq_dir: Path,
    clock: ManualClock,
    *,
    database_url: str | None = None,
    calendar: str | None = None,
    keep: list[Bot] | None = None,
) -> AsyncIterator[str]:
    """The bot's HTTP application on 127.0.0.1; its address (the bot goes into ``keep``)."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    overrides = None
    if calendar is not None:
        overrides = tmp_path / "calendar.yaml"
        overrides.write_text(calendar, encoding="utf-8")
    settings = load_settings(
        knowledge_dir=faq_dir,
        roster=roster,
        calendar=overrides,
        database_url=database_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    bot = await create_bot(settings, clock)
    if keep is not None:
        keep.append(bot)
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(""))
    finally:
        await server.close()
        await bot.close()


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as client, client.get(f"{url}/readyz") as response:
        return response.status, await response.json()


async def test_ready_when_the_calendar_is_official_for_the_next_60_days(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with site(tmp_path, faq_dir, ManualClock(SUMMER)) as url:
        assert await readiness(url) == (
            200,
            {
                "ready": True,
                "checks": {"database": True, "disk": True, "knowledge": True, "calendar": True},
            },
        )


async def test_unready_while_next_years_days_off_are_only_estimated(
    tmp_path: Path, faq_dir: Path
) -> None:
    async with site(tmp_path, faq_dir, ManualClock(DECEMBER)) as url:
        status, body = await readiness(url)
        assert status == 503
        assert body["checks"] == {
            "database": True,
            "disk": True,
            "knowledge": True,
            "calendar": False,
        }
        assert body["calendar_estimated_years"] == [2027]
        async with aiohttp.ClientSession() as client, client.get(f"{url}/healthz") as health:
            assert health.status == 200  # alive all the same: it answers, with "预计" dates


async def test_the_admins_calendar_file_makes_it_ready(tmp_path: Path, faq_dir: Path) -> None:
    announced = "known_years: [2027]\nholidays:\n  - 2027-01-01..2027-01-03\n"
    async with site(tmp_path, faq_dir, ManualClock(DECEMBER), calendar=announced) as url:
        status, body = await readiness(url)
        assert (status, body["ready"]) == (200, True)


# --- a PostgreSQL of the test's own ------------------------------------------------------------


@contextlib.contextmanager
def own_postgres() -> Iterator[tuple[str, PrivateCluster]]:
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL's server binaries (initdb) are missing")
        pytest.skip("PostgreSQL's server binaries (initdb) are not installed")
    # Not under pytest's folder: that is its user's alone, and the server may run as postgres.
    folder = Path(tempfile.mkdtemp(prefix="makerdesk-pg-"))
    cluster = PrivateCluster(binaries[-1].parent, folder, free_port())
    try:
        cluster.create()
        cluster.start()
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/postgres", cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


class PrivateCluster:
    """``initdb``, ``pg_ctl start`` and ``stop`` on a folder and port of its own."""

    def __init__(self, binaries: Path, folder: Path, port: int) -> None:
        self.binaries = binaries
        self.folder = folder
        self.port = port
        # PostgreSQL refuses to run as root: as root, run it as the postgres account.
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-w", "-l",
            str(self.folder / "log"), "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-w", "-m",
                "fast", "stop",
            )  # fmt: skip


@pytest.mark.postgres
async def test_unready_while_postgresql_is_down_and_ready_when_it_returns(
    tmp_path: Path, faq_dir: Path
) -> None:
    if shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("runuser is needed to run PostgreSQL as root")
    with own_postgres() as (url, cluster):
        async with (
            site(tmp_path, faq_dir, ManualClock(SUMMER), database_url=url) as bot_url,
            aiohttp.ClientSession(bot_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat,
        ):
            assert (await readiness(bot_url))[0] == 200
            assert (await ask(chat, "before"))[0] == 200
            cluster.stop()
            status, body = await readiness(bot_url)
            assert status == 503
            assert body["checks"] == {
                "database": False,
                "disk": True,
                "knowledge": True,
                "calendar": True,
            }
            # A message in the outage is refused in words, so the person sends it again.
            status, refused = await ask(chat, "during")
            assert (status, refused) == (503, {"error": ZH.unavailable})
            cluster.start()
            status, body = await readiness(bot_url)
            assert (status, body["ready"]) == (200, True)
            status, answered = await ask(chat, "during")  # sent again, as the page asks
            assert status == 200
            assert answered["messages"][0]["faq_id"] == "reply-deadline"
            database = Database(url)
            try:
                async with database.sessions() as session:
                    kept = await session.scalar(select(func.count()).select_from(AnsweredQuestion))
            finally:
                await database.close()
            assert kept == 2  # the one before and the one sent again: none lost, none twice


async def ask(chat: aiohttp.ClientSession, message_id: str) -> tuple[int, dict[str, Any]]:
    async with chat.post(
        "/api/messages", json={"text": "服务专员多久回复", "id": message_id}
    ) as response:
        return response.status, await response.json()
