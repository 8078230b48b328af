"""The web chat page in headless Chromium, as a person would use it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.clock import SHANGHAI
from bot.domain.roster.load import DEMO_ROSTER, load_roster
from tests.support import IN_CI
from tests.support.axe import serious_violations
from tests.support.processes import BotProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # slow: every test here starts a process

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
    browser: Browser, shipped_bot: BotProcess
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


def test_thumbs_sit_in_one_row_under_an_answer_and_thumbs_down_offers_a_commissioner(
    browser: Browser, shipped_bot: BotProcess
) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(shipped_bot.url)
    page.wait_for_selector(".msg.bot >> text=我是众创助手")
    page.fill("#text", "服务小组有几个人")
    page.press("#text", "Enter")
    answer = page.locator(".msg.bot").nth(1)
    answer.locator(".source").wait_for()
    thumbs = answer.locator(".choices button")
    assert thumbs.all_inner_texts() == ["👍有帮助", "👎没帮助"]
    up, down = thumbs.nth(0).bounding_box(), thumbs.nth(1).bounding_box()
    assert up is not None
    assert down is not None
    assert up["y"] == down["y"]
    assert up["x"] < down["x"]
    thumbs.nth(1).click()
    thanks = page.locator(".msg.bot").nth(2)
    expect(thanks).to_contain_text("我们会改进这条回答")
    expect(thanks.locator(".choices button")).to_have_text(["提交给服务专员"])
    page.close()


def test_html_in_a_question_shows_as_text(browser: Browser, shipped_bot: BotProcess) -> None:
    page = browser.new_page()
    page.goto(shipped_bot.url)
    page.wait_for_selector(".msg.bot")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    page.fill("#text", attack)
    page.press("#text", "Enter")
    page.locator(".msg.bot").nth(1).wait_for()
    assert page.locator(".msg.me .text").first.inner_text() == attack
    assert page.locator(".msg img, .msg script").count() == 0
    assert dialogs == []
    page.close()


def test_a_question_goes_to_the_duty_group_console_and_the_answer_comes_back(
    browser: Browser, shipped_bot: BotProcess
) -> None:
    expect.set_options(timeout=30_000)  # the pages poll every few seconds: wait generously
    roster = load_roster(DEMO_ROSTER)
    space = roster.space("baodi-pku")
    group = roster.duty_group(space.id, datetime.now(SHANGHAI).date())
    member = next(person for person in group.members if person.id_on("web"))
    errors: list[str] = []

    # The entrepreneur: a question the bot cannot answer becomes a request.
    chat_context = browser.new_context(locale="zh-CN")
    chat = chat_context.new_page()
    chat.set_default_timeout(30_000)
    chat.on("pageerror", lambda error: errors.append(f"chat: {error}"))
    chat.goto(shipped_bot.url)
    chat.wait_for_selector(".msg.bot >> text=我是众创助手")
    chat.fill("#text", "园区停车位怎么申请")
    chat.press("#text", "Enter")
    chat.locator(".choices button", has_text="提交给服务专员").click()
    chat.locator(".choices button", has_text=re.compile(r"^\d+\. 其他$")).click()
    # The question asked is offered as the text; typing rewrites it.
    chat.wait_for_selector(".msg.bot >> text=您刚才的问题是")
    chat.fill("#text", "我们公司有3辆车，想在园区申请固定停车位。")
    chat.press("#text", "Enter")
    chat.locator(".choices button", has_text="跳过").click()
    chat.locator(".choices button", has_text=space.name).click()
    chat.wait_for_selector(".msg.bot >> text=请确认工单内容")
    chat.locator(".choices button", has_text="确认提交").click()
    confirmation = chat.locator(".msg.bot", has_text="工单已提交")
    confirmation.wait_for()
    opened = confirmation.inner_text()
    found = re.search(r"工单已提交：(\d{4}-\d{4,})[\s\S]*答复期限：(\d{4}-\d{2}-\d{2})", opened)
    assert found, opened
    number, due = found.groups()
    assert group.name in opened

    # A member of the group on duty for that space today signs in to the console.
    console_context = browser.new_context(locale="zh-CN")
    console = console_context.new_page()
    console.set_default_timeout(30_000)
    console.on("pageerror", lambda error: errors.append(f"console: {error}"))
    console.goto(f"{shipped_bot.url}/console")
    console.locator(f"button.person[data-web-id='{member.id_on('web')}']").click()
    expect(console.locator("#who-name")).to_contain_text(member.name)
    card = console.locator(f"article.card[data-number='{number}']")
    expect(card.locator(".due-date")).to_have_text(due)
    expect(card.locator(".provisional")).to_have_count(1 if "预计" in opened else 0)
    expect(card.locator(".text")).to_have_text("我们公司有3辆车，想在园区申请固定停车位。")
    expect(card.locator(".meta")).to_contain_text(space.name)

    card.locator("button.act-claim").click()
    expect(card.locator(".result")).to_contain_text("已认领")
    expect(card.locator(".status")).to_have_text("办理中")
    expect(card.locator(".assignee")).to_contain_text(member.name)

    card.locator("button.act-reply").click()
    card.locator("textarea").fill("您好，请带营业执照复印件到园区物业服务中心登记。")
    card.locator("button.send").click()
    expect(card.locator(".result")).to_contain_text("已回复创业者")
    expect(card.locator(".timeline")).to_contain_text("请带营业执照复印件")

    card.locator("button.act-resolve").click()
    card.locator("textarea").fill("已协调物业，为贵公司预留3个车位。")
    card.locator("button.send").click()
    expect(card.locator(".result")).to_contain_text("已办结")
    expect(console.locator(f"#resolved article.card[data-number='{number}']")).to_be_visible()

    # The entrepreneur's page fetches both without a reload.
    reply = chat.locator(".msg.bot", has_text=f"服务专员{member.name}回复")
    expect(reply).to_contain_text("请带营业执照复印件到园区物业服务中心登记")
    resolved = chat.locator(".msg.bot", has_text=f"工单 {number} 已办结")
    expect(resolved).to_contain_text("已协调物业，为贵公司预留3个车位。")
    expect(resolved.locator(".choices button", has_text="确认已解决")).to_be_visible()
    expect(chat.locator(".msg.bot", has_text=f"答复期限：{due}")).to_have_count(1)
    assert errors == []
    console_context.close()
    chat_context.close()


def test_a_sign_in_link_greets_its_owner_and_signs_in_once(
    browser: Browser, shipped_bot: BotProcess
) -> None:
    issued = subprocess.run(
        [sys.executable, "-m", "bot", "console", "link", "zhangwei", "--base-url", shipped_bot.url],
        capture_output=True,
        text=True,
        env=shipped_bot.env,
        check=True,
        timeout=120,
    )
    link = issued.stdout.strip()
    assert "#token=" in link
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(link)
    expect(page.locator("#prompt")).to_contain_text("张伟，您好")
    page.locator("#redeem").click()
    page.wait_for_url(f"{shipped_bot.url}/console")
    expect(page.locator("#who-name")).to_contain_text("张伟")

    # The link is spent: opened again, it says so and offers no button.
    again = context.new_page()
    again.goto(link)
    expect(again.locator("#prompt")).to_contain_text("已经用过了")
    expect(again.locator("#redeem")).to_be_hidden()
    assert errors == []
    context.close()


# --- the conversation kept, request pages, English, accessibility ---------------------------

PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def chat_page(browser: Browser, url: str, *, locale: str = "zh-CN", phone: bool = False) -> Page:
    context = browser.new_context(
        locale=locale, viewport=PHONE if phone else None, is_mobile=phone, bypass_csp=True
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(url)
    page.locator("#log li.msg.bot").first.wait_for()
    return page


def ask(page: Page, text: str) -> None:
    before = page.locator("#log li.msg.bot").count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    expect(page.locator("#log li.msg.bot")).to_have_count(before + 1)


def member_on_duty(space_id: str) -> tuple[str, str]:
    """The web id and name of a member of the group on duty today for ``space_id``."""
    roster = load_roster(DEMO_ROSTER)
    group = roster.duty_group(space_id, datetime.now(SHANGHAI).date())
    member = next(person for person in group.members if person.id_on("web"))
    web_id = member.id_on("web")
    assert web_id is not None
    return web_id, member.name


def open_by_chat(page: Page, text: str) -> str:
    """Open a request in the chat with ``/new text``; its number."""
    space = load_roster(DEMO_ROSTER).space("baodi-pku")
    page.fill("#text", f"/new {text}")
    page.press("#text", "Enter")
    page.locator(".choices button", has_text=space.name).click()
    confirmation = page.locator("#log li.msg.bot", has_text="工单已提交")
    number = confirmation.locator("a").first.inner_text()
    assert re.fullmatch(r"\d{4}-\d{4,}", number), number
    return number


def console_act(browser: Browser, url: str, web_id: str, moves: list[dict[str, str]]) -> None:
    """A commissioner signs in to the console and makes ``moves`` through its API."""
    context = browser.new_context()
    signed = context.request.post(f"{url}/console/api/demo-signin", data={"web_id": web_id})
    assert signed.ok, signed.text()
    for n, move in enumerate(moves):
        done = context.request.post(
            f"{url}/console/api/act", data={"id": f"move-{n}-{uuid.uuid4().hex}", **move}
        )
        assert done.ok, done.text()
    context.close()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_a_reload_keeps_the_conversation_and_the_pending_step(
    browser: Browser, shipped_bot: BotProcess, phone: bool
) -> None:
    page = chat_page(browser, shipped_bot.url, phone=phone)
    ask(page, "服务专员多久给我回复？")
    page.reload()
    log = page.locator("#log > li")
    expect(log).to_have_count(3)
    expect(log.nth(0)).to_contain_text("我是众创助手")
    expect(log.nth(1)).to_have_class(re.compile(r"\bme\b"))
    expect(log.nth(1).locator(".text")).to_have_text("服务专员多久给我回复？")
    expect(log.nth(2).locator(".source")).to_have_text("来源：津科创〔2015〕51号 第七条")
    # Each bubble says who spoke, and when (Beijing time).
    expect(log.nth(1)).to_contain_text("我：")
    expect(log.nth(2)).to_contain_text("众创助手：")
    assert re.fullmatch(r"\d{2}/\d{2} \d{2}:\d{2}", log.nth(2).locator("time").inner_text())

    # Mid-intake, a reload shows where it stands and the way out.
    page.locator("nav.quick button", has_text="提交工单").click()
    page.locator("#log li.msg.bot", has_text="我们来提交工单").wait_for()
    page.reload()
    expect(page.locator("#pending")).to_be_visible()
    page.locator("#pending-cancel").click()
    expect(page.locator("#log li.msg.bot").last).to_contain_text("已取消")
    expect(page.locator("#pending")).to_be_hidden()
    assert serious_violations(page) == []
    page.context.close()


def test_a_request_page_shows_every_reply_and_an_old_star_row_changes_nothing(
    browser: Browser, shipped_bot: BotProcess
) -> None:
    url = shipped_bot.url
    page = chat_page(browser, url)
    number = open_by_chat(page, "我们公司想申请园区的固定停车位。")
    web_id, name = member_on_duty("baodi-pku")
    # The page is in the background while the commissioner answers.
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
    console_act(
        browser,
        url,
        web_id,
        [
            {"action": "reply", "number": number, "text": "请先到物业登记车辆。"},
            {"action": "reply", "number": number, "text": "物业说下周一可以办。"},
            {"action": "resolve", "number": number, "text": "已为贵公司预留3个车位。"},
        ],
    )
    resolved = page.locator("#log li.msg.bot", has_text=f"工单 {number} 已办结")
    resolved.wait_for()
    assert re.match(r"\(\d+\) 新消息 · 众创助手", page.title()), page.title()
    page.evaluate(
        """() => {
          Object.defineProperty(document, 'hidden', {value: false, configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    assert page.title() == "众创助手 MakerDesk"
    # A second tab, open since before the rating: its stars are still live.
    other = page.context.new_page()
    other.goto(url)
    old_row = other.locator("#log li.msg.bot", has_text=f"工单 {number} 已办结")
    old_row.locator(".choices button", has_text="1 星").wait_for()

    resolved.locator(".choices button", has_text="确认已解决").click()
    expect(resolved.locator(".choices button").first).to_be_disabled()
    prompt = page.locator("#log li.msg.bot", has_text="请为这次服务打分")
    prompt.locator(".choices button", has_text="4 星").click()
    expect(page.locator("#log li.msg.bot").last).to_contain_text("4 星")

    old_row.locator(".choices button", has_text="1 星").click()
    expect(other.locator("#log li.msg.bot").last).to_contain_text("已经评过分了（4 星）")

    # The number in the chat opens the request's page: the whole thread.
    page.locator("#log li.msg.bot", has_text="工单已提交").locator("a").first.click()
    page.wait_for_url(f"{url}/chat/requests/{number}")
    thread = page.locator("article.request")
    expect(thread.locator(".asked")).to_have_text("我们公司想申请园区的固定停车位。")
    history = thread.locator(".history > li")
    expect(history.filter(has_text=f"服务专员{name}回复")).to_have_count(2)
    expect(history.nth(0)).to_contain_text("请先到物业登记车辆。")
    expect(history.nth(1)).to_contain_text("物业说下周一可以办。")
    expect(history.nth(2)).to_contain_text("已为贵公司预留3个车位。")
    expect(thread.locator(".history")).to_contain_text("我的评价：4 星")
    expect(thread.locator(".facts")).to_contain_text("已关闭")
    assert serious_violations(page) == []

    # Someone else's browser gets no such page.
    stranger = browser.new_page()
    assert stranger.goto(f"{url}/chat/requests/{number}").status == 404  # type: ignore[union-attr]
    stranger.context.close()
    page.context.close()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_english_page_has_no_chinese_chrome(
    browser: Browser, shipped_bot: BotProcess, phone: bool
) -> None:
    page = chat_page(browser, shipped_bot.url, locale="en-US", phone=phone)
    assert page.get_attribute("html", "lang") == "en"
    expect(page.locator("#log li.msg.bot").first).to_contain_text("I'm MakerDesk")
    ask(page, "/help")
    chrome = page.evaluate(
        """() => {
          const own = [...document.querySelectorAll(
            "header, nav.quick, form, footer, .msg > .hidden, .msg > time")];
          const words = own.map((e) => e.innerText + " " + (e.getAttribute("aria-label") || ""));
          words.push(document.title, document.getElementById("text").placeholder);
          words.push(document.getElementById("log").getAttribute("aria-label"));
          // The link to the Chinese page is written in Chinese, and marked so (lang="zh-CN").
          const other = document.querySelector("a.switch[lang='zh-CN']").innerText;
          return words.join("\\n").replace(other, "");
        }"""
    )
    assert not CJK.search(chrome), CJK.findall(chrome)
    assert serious_violations(page) == []
    page.locator("a.switch").click()
    page.locator("#log li.msg.bot").first.wait_for()
    assert page.get_attribute("html", "lang") == "zh-CN"
    expect(page.locator("nav.quick button").first).to_have_text("提交工单")
    page.context.close()


def test_a_failed_send_keeps_the_text_and_sends_it_again(
    browser: Browser, shipped_bot: BotProcess
) -> None:
    page = chat_page(browser, shipped_bot.url)
    page.route("**/api/messages", lambda route: route.abort())
    page.fill("#text", "服务专员多久给我回复？")
    page.press("#text", "Enter")
    retry = page.locator("button.retry")
    expect(retry).to_have_text("重新发送")
    expect(page.locator("#log li.msg.me.failed .text")).to_have_text("服务专员多久给我回复？")
    page.unroute("**/api/messages")
    retry.click()
    expect(page.locator("#log li.msg.bot").last.locator(".source")).to_contain_text("第七条")
    expect(page.locator("#log li.msg.me")).to_have_count(1)
    expect(page.locator("#log li.msg.me.failed")).to_have_count(0)
    page.context.close()
