"""``/readyz``: ready only with the database answering, the knowledge base loaded and the
working-day calendar official for the next 60 days.

The database case runs a PostgreSQL cluster of the test's own (``initdb`` in a temporary
folder, on a free port), so that it can be stopped and started again without touching the
server the other tests share.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import create_bot
from bot.clock import ManualClock
from bot.server import serve
from bot.settings import load_settings
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


@pytest.mark.parametrize(("moment", "warned"), [(DECEMBER, True), (SUMMER, False)])
async def test_start_up_says_when_due_dates_rest_on_an_estimated_year(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    faq_dir: Path,
    moment: datetime,
    warned: bool,
) -> None:
    monkeypatch.setenv("BOT_HTTP_PORT", "0")
    caplog.set_level(logging.INFO, logger="bot.server")
    bot = await create_bot(load_settings(knowledge_dir=faq_dir), ManualClock(moment))
    serving_logged = asyncio.Event()

    class Started(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("serving on"):
                serving_logged.set()

    started = Started()
    logging.getLogger("bot.server").addHandler(started)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(bot, stop))
    try:
        async with asyncio.timeout(30):
            await serving_logged.wait()
    finally:
        logging.getLogger("bot.server").removeHandler(started)
        stop.set()
        await serving
        await bot.close()
    estimated = [r for r in caplog.records if r.message.startswith("working-day calendar:")]
    if warned:
        assert [r.levelname for r in estimated] == ["WARNING"]
        assert "2027 not official yet" in estimated[0].message
        assert "/readyz answers 503" in estimated[0].message
    else:
        assert estimated == []


async def test_the_site_has_an_icon(tmp_path: Path, faq_dir: Path) -> None:
    async with (
        site(tmp_path, faq_dir, ManualClock(SUMMER)) as url,
        aiohttp.ClientSession() as client,
        client.get(f"{url}/favicon.ico") as answer,
    ):
        assert answer.status == 200
        assert answer.content_type == "image/svg+xml"
        assert (await answer.read()).startswith(b"<svg ")
