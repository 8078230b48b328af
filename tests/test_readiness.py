"""``/readyz``: ready only with the database answering, the knowledge base loaded and the
working-day calendar official for the next 60 days.

The database case runs a PostgreSQL cluster of the test's own (``initdb`` in a temporary
folder, on a free port), so that it can be stopped and started again without touching the
server the other tests share.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.texts.chat import ZH
from storage import Database
from storage.models import AnsweredQuestion
from tests.support.databases import own_postgres
from tests.support.server import SUMMER, site

DECEMBER = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
"""The next 60 days reach into 2027, which the State Council has not announced yet here."""


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


@pytest.mark.slow
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
