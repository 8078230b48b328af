"""The console's screenshots in ``docs/screenshots/``: ``python -m bench.screenshots``.

A member's board and a supervisor's districts (desktop and a 390-px phone), and the hotline
desk's form and confirmation, in headless Chromium, on the demo roster and a fortnight of
made-up work on a manual clock (:func:`tests.support.console.a_fortnight_of_work`). Run it again
after changing the console's look. Needs Chromium (``CHROMIUM``, default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

import knowledge
from tests.support import ROOT
from tests.support.console import Console, a_fortnight_of_work, serve

OUT = ROOT / "docs" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)


async def _signed_in(browser: Browser, site: Console, viewport: ViewportSize, web_id: str) -> Page:
    """A new page with the demo roster's ``web_id`` signed in to the console."""
    context = await browser.new_context(locale="zh-CN", viewport=viewport)
    page = await context.new_page()
    await page.goto(f"{site.url}/console")
    await page.locator(f"button.person[data-web-id='{web_id}']").click()
    await expect(page.locator("#who")).to_be_visible()
    return page


async def _board(
    browser: Browser, site: Console, viewport: ViewportSize, web_id: str, name: str
) -> None:
    """``web_id``'s console once the overdue cards are drawn: the whole page on a desktop."""
    page = await _signed_in(browser, site, viewport, web_id)
    await expect(page.locator("article.card.overdue").first).to_be_visible()
    await page.screenshot(path=OUT / name, full_page=viewport is DESKTOP)
    await page.context.close()


async def _hotline(browser: Browser, site: Console) -> None:
    """A call recorded: the number and due date to read out, and its card on the board."""
    page = await _signed_in(browser, site, DESKTOP, "zhangwei")
    await page.locator("#hotline-open").click()
    await page.locator("#hotline-caller").fill("赵先生")
    await page.locator("#hotline-phone").fill("138 0000 0000")  # obviously not a real one
    await page.locator("#hotline-space").select_option("baodi-pku")
    await page.locator("#hotline-category").select_option("policy")
    await page.locator("#hotline-text").fill("想了解小微企业房租补贴怎么申请")
    await page.screenshot(path=OUT / "console-hotline-form.png")
    await page.locator("#hotline-submit").click()
    await expect(page.locator("#hotline-taken")).to_be_visible()
    await page.mouse.move(0, 0)  # no button under the pointer, shown hovered
    await page.screenshot(path=OUT / "console-hotline.png")
    await page.context.close()


async def main() -> None:
    """Take the screenshots, on a scratch SQLite database."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as scratch:
        database = f"sqlite+aiosqlite:///{Path(scratch) / 'bot.db'}"
        async with (
            serve(database, Path(knowledge.__file__).parent / "faq") as site,
            async_playwright() as playwright,
        ):
            await a_fortnight_of_work(site)
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            await _board(browser, site, DESKTOP, "zhangwei", "console-member.png")
            await _board(browser, site, PHONE, "zhangwei", "console-member-phone.png")
            await _board(browser, site, DESKTOP, "duty-baodi", "console-supervisor.png")
            await _board(browser, site, PHONE, "duty-baodi", "console-supervisor-phone.png")
            await _hotline(browser, site)
            await browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
