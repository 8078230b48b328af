"""The web chat page in headless Chromium, as a person would use it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from conftest import IN_CI, RunningBot
from playwright.sync_api import Browser, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("chromium is missing; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_ask_see_answer_source_and_pick_a_suggestion(
    browser: Browser, shipped_bot: RunningBot
) -> None:
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(shipped_bot.url)
    page.wait_for_selector(".msg.bot >> text=我是众创助手")

    page.fill("#text", "服务专员多久给我回复？")
    page.press("#text", "Enter")
    answer = page.locator(".msg.bot").nth(1)
    answer.locator(".source").wait_for()
    assert "10个工作日" in answer.inner_text()
    assert answer.locator(".source").inner_text() == "来源：津科创〔2015〕51号 第七条"

    page.fill("#text", "众创空间面积多大")
    page.click("#send")
    choices = page.locator(".msg.bot").nth(2).locator(".choices button")
    choices.first.wait_for()
    assert choices.last.inner_text() == "提交给服务专员"
    choices.first.click()
    page.locator(".msg.bot").nth(3).locator(".source").wait_for()
    assert "平方米" in page.locator(".msg.bot").nth(3).inner_text()
    assert errors == []
    page.close()


def test_html_in_a_question_shows_as_text(browser: Browser, shipped_bot: RunningBot) -> None:
    page = browser.new_page()
    page.goto(shipped_bot.url)
    page.wait_for_selector(".msg.bot")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    page.fill("#text", attack)
    page.press("#text", "Enter")
    page.locator(".msg.bot").nth(1).wait_for()
    assert page.locator(".msg.me").first.inner_text() == attack
    assert page.locator(".msg img, .msg script").count() == 0
    assert dialogs == []
    page.close()
