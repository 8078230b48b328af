"""The hotline desk in headless Chromium, desktop and a 390-px phone: a call recorded in the
console, the number and due date read out, a reply given by phone, the scheduler's reminder, and
the quarterly report counting it as a hotline request.

The bot's HTTP application runs in this test's event loop with a manual clock (the scheduler is
driven by hand), and Playwright's async API drives the browser from the same loop.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
from sqlalchemy import select

from bot.clock import ManualClock
from storage.models import OutboxMessage
from tests.support import IN_CI
from tests.support.console import MONDAY, Console, serve
from tests.support.desk import shanghai

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: Chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("chromium is missing; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def site(tmp_path: Path, faq_dir: Path) -> AsyncIterator[Console]:
    async with serve(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", faq_dir, clock=ManualClock(MONDAY)
    ) as console:
        yield console


async def sign_in(page: Page, site: Console, web_id: str, name: str) -> None:
    await page.goto(f"{site.url}/console")
    await page.locator(f"button.person[data-web-id='{web_id}']").click()
    await expect(page.locator("#who-name")).to_contain_text(name)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_call_goes_from_the_console_to_the_reminder_and_the_report(
    browser: Browser, site: Console, viewport: ViewportSize
) -> None:
    expect.set_options(timeout=30_000)  # the board polls every few seconds
    context = await browser.new_context(locale="zh-CN", viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, site, "zhangwei", "张伟")

    # 张伟 takes a call for 北大科技园众创空间, whose duty group is his today.
    await page.locator("#hotline-open").click()
    await page.get_by_label("热线电话").check()
    await page.locator("#hotline-caller").fill("赵先生")
    await page.locator("#hotline-phone").fill("1381234")  # not a mobile's 11 digits
    await page.locator("#hotline-space").select_option("baodi-pku")
    await page.locator("#hotline-category").select_option("policy")
    await page.locator("#hotline-text").fill("想了解小微企业房租补贴怎么申请")
    await page.locator("#hotline-submit").click()
    await expect(page.locator("#hotline-problem")).to_contain_text("电话号码格式不对")
    await expect(page.locator("#hotline-phone")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#hotline-taken")).to_be_hidden()

    await page.locator("#hotline-phone").fill("138 1234 5678")
    await page.locator("#hotline-submit").click()
    taken = page.locator("#hotline-taken")
    await expect(taken).to_be_visible()
    await expect(page.locator("#hotline-form")).to_be_hidden()
    number = await page.locator("#taken-number").inner_text()
    # Monday 2 November + 10 working days: Monday 16 November.
    await expect(page.locator("#taken-due")).to_have_text("2026-11-16")
    await expect(page.locator("#taken-text")).to_contain_text(f"工单已登记：{number}")
    await expect(taken).to_be_in_viewport()
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

    # The card is on the board at once: a call's, with the caller's name and phone.
    card = page.locator(f"article.card[data-number='{number}']")
    await expect(card.locator(".badge.intake")).to_have_text("热线电话")
    await expect(card.locator(".meta")).to_contain_text("来电人 赵先生")
    await expect(card.locator(".phone")).to_have_attribute("href", "tel:13812345678")
    await expect(card.locator(".timeline")).to_contain_text("登记来电")

    # A reply given on the phone is recorded in the thread, and never queued for the caller.
    await card.locator("button.act-reply").click()
    await card.locator("textarea").fill("补贴申请表已发到您的邮箱，请填好后交到园区服务中心。")
    await card.locator("button.send").click()
    await expect(card.locator(".result")).to_contain_text("请电话或当面把内容告诉来电人")
    await expect(card.locator(".timeline")).to_contain_text("（已电话告知）")

    # The due date comes: the scheduler reminds the duty group, and the card says it is due.
    site.clock.set(shanghai("2026-11-16T09:30"))
    assert (await site.bot.scheduler.tick()).reminders == 1
    await sign_in(page, site, "zhangwei", "张伟")  # two weeks on: yesterday's session is over
    await expect(page.locator(f"#due_soon article.card[data-number='{number}']")).to_be_visible()
    await expect(card.locator(".timeline")).to_contain_text("到期提醒")
    async with site.bot.database.sessions() as session:
        chats = set(await session.scalars(select(OutboxMessage.chat_id)))
    assert "" not in chats

    # The district's supervisor downloads the quarter's report: one request, by hotline.
    await page.locator("#signout").click()
    await expect(page.locator("#signin")).to_be_visible()
    await sign_in(page, site, "duty-baodi", "区科委值班")
    got = await page.request.get(f"{site.url}/console/report?quarter=2026Q4&format=csv")
    assert got.ok, await got.text()
    header, total = list(csv.reader(io.StringIO((await got.body()).decode("utf-8-sig"))))[:2]
    counted = dict(zip(header, total, strict=True))
    assert (counted["名称"], counted["收到"], counted["收到·热线电话"]) == ("宝坻区", "1", "1")
    got = await page.request.get(f"{site.url}/console/report?quarter=2026Q4&format=html")
    await page.set_content(await got.text())  # a download: shown here to read its table
    channels = page.locator("h2:text('按受理渠道（收到）') + table")
    await expect(channels.locator("tr", has_text="热线电话")).to_contain_text("1")
    assert errors == []
    await context.close()
