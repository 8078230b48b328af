"""axe-core on the console, desktop and a 390-px phone: no serious or critical violation (none
of moderate impact either, such as a skipped heading level).

Every view a person meets is checked as they meet it: the sign-in list and a sign-in link's page,
a member's board with cards (one overdue) and each of its forms open, the hotline form empty and
with a refusal shown, and a supervisor's district view with the report picker.

The bot's HTTP application runs in this test's event loop on a manual clock
(:func:`tests.support.console.a_fortnight_of_work` makes the work), and Playwright's async API
drives the browser from the same loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.axe import serious_violations_async
from tests.support.console import Console, a_fortnight_of_work, sign_in_link
from tests.test_browser_hotline import (  # noqa: F401  (the fixtures, shared)
    DESKTOP,
    PHONE,
    browser,
    sign_in,
    site,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: Chromium

SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
async def context(
    browser: Browser,  # noqa: F811
    viewport: ViewportSize,
) -> AsyncIterator[BrowserContext]:
    # bypass_csp: axe-core goes in as an inline script, which the console's policy forbids.
    made = await browser.new_context(locale="zh-CN", viewport=viewport, bypass_csp=True)
    made.set_default_timeout(30_000)
    yield made
    await made.close()


async def violations(page: Page) -> list[str]:
    """What axe-core finds on ``page``, down to moderate: the console is clean to that level."""
    return await serious_violations_async(page, down_to="moderate")


async def page_of(context: BrowserContext) -> tuple[Page, list[str]]:
    """A new page, and the script errors it will collect."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def signed_in(
    context: BrowserContext, console: Console, web_id: str, name: str
) -> tuple[Page, list[str]]:
    """A new page with ``web_id`` signed in to the console, and the script errors it collects."""
    page, errors = await page_of(context)
    await sign_in(page, console, web_id, name)
    return page, errors


@SIZES
async def test_the_sign_in_list_and_a_sign_in_links_page(
    context: BrowserContext,
    site: Console,  # noqa: F811
) -> None:
    page, errors = await page_of(context)
    await page.goto(f"{site.url}/console")
    await expect(page.locator("button.person").first).to_be_visible()
    assert await violations(page) == []

    _, link = await sign_in_link(site, "lina", base_url=site.url)
    await page.goto(link)
    await expect(page.locator("#redeem")).to_be_visible()
    assert await violations(page) == []
    assert errors == []


@SIZES
async def test_a_members_board_with_its_forms_open(
    context: BrowserContext,
    site: Console,  # noqa: F811
) -> None:
    opened = await a_fortnight_of_work(site)
    page, errors = await signed_in(context, site, "zhangwei", "张伟")
    overdue = page.locator(f"#overdue article.card[data-number='{opened['overdue']}']")
    await expect(overdue.locator(".badge.overdue")).to_be_visible()
    claimed = page.locator(f"article.card[data-number='{opened['claimed']}']")
    await expect(claimed.locator(".timeline")).to_contain_text("有的，发明专利")
    assert await violations(page) == []

    await overdue.locator("button.act-reply").click()
    await expect(overdue.locator("textarea")).to_be_focused()
    assert await violations(page) == []

    await claimed.locator("button.act-transfer").click()
    await expect(claimed.locator("select")).to_be_visible()
    await claimed.locator("textarea").fill("二组更熟悉专利资助")
    assert await violations(page) == []
    assert errors == []


@SIZES
async def test_the_hotline_form_empty_and_with_a_refusal(
    context: BrowserContext,
    site: Console,  # noqa: F811
) -> None:
    page, errors = await signed_in(context, site, "zhangwei", "张伟")
    await page.locator("#hotline-open").click()
    await expect(page.locator("#hotline-form")).to_be_visible()
    assert await violations(page) == []

    await page.locator("#hotline-caller").fill("赵先生")
    await page.locator("#hotline-phone").fill("1381234")
    await page.locator("#hotline-text").fill("想了解小微企业房租补贴怎么申请")
    await page.locator("#hotline-submit").click()
    await expect(page.locator("#hotline-problem")).to_contain_text("电话号码格式不对")
    await expect(page.locator("#hotline-phone")).to_have_attribute(
        "aria-describedby", "hotline-problem"
    )
    assert await violations(page) == []

    await page.locator("#hotline-phone").fill("138 0000 0000")
    await page.locator("#hotline-submit").click()
    await expect(page.locator("#hotline-taken")).to_be_visible()
    assert await violations(page) == []
    assert errors == []


@SIZES
async def test_a_supervisors_district_view_and_report_picker(
    context: BrowserContext,
    site: Console,  # noqa: F811
) -> None:
    opened = await a_fortnight_of_work(site)
    page, errors = await signed_in(context, site, "duty-baodi", "区科委值班")
    view = page.locator("#district")
    for name in ("overdue", "other_group"):
        await expect(view.locator(f"article[data-number='{opened[name]}']")).to_be_visible()
    await expect(page.locator("#reports")).to_be_visible()
    assert await violations(page) == []
    assert errors == []
