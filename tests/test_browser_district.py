"""A supervisor's console in headless Chromium, on a desktop and on a 390-px phone.

The requests are opened a quarter ago, through the web chat, by the bot in this process on a
manual clock; the bot that serves the browser is the real one, in a process, on the same
database and the real clock, so they are overdue now and were received in a past quarter.
"""

from __future__ import annotations

import asyncio
import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bot.clock import SHANGHAI, ManualClock
from bot.reports.period import Quarter
from tests.support.console import open_request, serve
from tests.support.processes import bot_env, run_bot
from tests.test_browser import browser  # noqa: F401  (the module's Chromium, shared)

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a process and Chromium

PHONE = {"width": 390, "height": 844}


def _a_day_of_the_last_quarter() -> datetime:
    """10:00 on the second day of the quarter before this one (Asia/Shanghai)."""
    this = Quarter.of(datetime.now(SHANGHAI))
    last = Quarter(this.year - 1, 4) if this.number == 1 else Quarter(this.year, this.number - 1)
    return datetime.combine(last.first_day + timedelta(days=1), datetime.min.time(), SHANGHAI) + (
        timedelta(hours=10)
    )


def _seed(database_url: str, faq_dir: Path, when: datetime) -> dict[str, str]:
    """Open a request for each of the demo roster's groups at ``when``; group → number."""

    async def seed() -> dict[str, str]:
        opened = {}
        async with serve(database_url, faq_dir, clock=ManualClock(when)) as console:
            for group, space in (("baodi-g1", "baodi-pku"), ("baodi-g2", "baodi-tsinghua")):
                number, entrepreneur = await open_request(console, space, "园区停车位怎么申请")
                await entrepreneur.close()
                opened[group] = number
        return opened

    # A loop of its own, away from Playwright's.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, seed()).result()


def test_a_supervisor_sees_two_groups_overdue_and_downloads_a_past_quarter(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
    faq_dir: Path,
) -> None:
    when = _a_day_of_the_last_quarter()
    quarter = Quarter.of(when)
    opened = _seed(bot_env(tmp_path)["BOT_DATABASE_URL"], faq_dir, when)
    expect.set_options(timeout=30_000)  # the page polls every few seconds
    with run_bot(tmp_path) as bot:
        for size in (None, PHONE):
            context = browser.new_context(locale="zh-CN", viewport=size, accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))  # noqa: B023
            page.goto(f"{bot.url}/console")
            page.locator("button.person[data-web-id='duty-baodi']").click()
            expect(page.locator("#who-name")).to_contain_text("区科委值班")

            view = page.locator("#district")
            expect(view).to_be_visible()
            for group, name in (("baodi-g1", "宝坻区服务一组"), ("baodi-g2", "宝坻区服务二组")):
                box = view.locator(f"section.group[data-group='{group}']")
                expect(box.locator("h4")).to_have_text(name)
                card = box.locator(f".cards.overdue article[data-number='{opened[group]}']")
                expect(card).to_be_visible()
                expect(card.locator(".badge.overdue")).to_have_text("已超期")
                expect(card.locator(".meta")).to_contain_text("网页")
            # Read-only: no moves anywhere, and no board of a group of their own.
            expect(page.locator("#district button")).to_have_count(0)
            expect(page.locator("#overdue")).to_be_hidden()
            expect(page.locator("#notice")).to_be_hidden()
            figures = view.locator("table.figures tr", has_text="宝坻区合计")
            expect(figures).to_be_visible()

            page.select_option("#report-quarter", str(quarter))
            page.select_option("#report-format", "csv")
            with page.expect_download() as started:
                page.locator("#report-download").click()
            download = started.value
            assert download.suggested_filename == f"季报-{quarter}-宝坻区.csv"
            rows = list(csv.reader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
            (district,) = [row for row in rows if row[:3] == [str(quarter), "区", "宝坻区"]]
            assert district[3] == "2"  # both received in that quarter

            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= (size or {"width": 1280})["width"], width
            assert errors == []
            context.close()
