"""Web chat sessions are issued by the server only; the chat API's answers and ids are tight.

The bot runs in-process behind a real HTTP server on 127.0.0.1 (SQLite and PostgreSQL) with a
manual clock; the last test runs the shipped ``python -m bot run`` twice on one database.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import Bot, create_bot
from bot.channels.web_sessions import visitor_of
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import load_settings
from storage import Database, outbox
from storage.models import InboundKey
from storage.people import identify
from tests.support.processes import run_bot

NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tuesday 12:00 in Shanghai
COOKIE = "md_session"
BAD_REQUEST = "抱歉，没能读懂这条消息。请重新输入您的问题。"
UNSIGNED = "Q0hFTi1mcm9tLWJlZm9yZS1zaWduaW5nMDE"
"""A cookie as the server issued them before signing (``secrets.token_urlsafe(24)``)."""


class Chat:
    """The bot's HTTP server and its manual clock."""

    def __init__(self, url: str, clock: ManualClock, bot: Bot) -> None:
        self.url, self.clock, self.bot = url, clock, bot

    def browser(self) -> aiohttp.ClientSession:
        """A browser: it keeps the cookies it is given, IP address or not."""
        return aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def inbound_keys(self) -> int:
        async with self.bot.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundKey)) or 0)


Open = Callable[..., contextlib.AbstractAsyncContextManager[Chat]]


@pytest.fixture
def chat(faq_dir: Path, database_url: str) -> Open:
    @contextlib.asynccontextmanager
    async def open_chat(**settings: Any) -> AsyncIterator[Chat]:
        clock = ManualClock(NOON)
        loaded = load_settings(knowledge_dir=faq_dir, database_url=database_url, **settings)
        bot = await create_bot(loaded, clock)
        server = TestServer(build_application(bot), host="127.0.0.1")
        await server.start_server()
        try:
            yield Chat(str(server.make_url("")), clock, bot)
        finally:
            await server.close()
            await bot.close()

    return open_chat


def issued(response: aiohttp.ClientResponse) -> SimpleCookie | None:
    """The session cookie the response sets, with its attributes, if it sets one."""
    for header in response.headers.getall("Set-Cookie", []):
        cookie: SimpleCookie = SimpleCookie(header)
        if COOKIE in cookie:
            return cookie
    return None


async def post(
    client: aiohttp.ClientSession, body: dict[str, Any], cookie: str | None = None
) -> tuple[int, dict[str, Any], SimpleCookie | None]:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
    async with client.post("/api/messages", json=body, headers=headers) as response:
        return response.status, await response.json(), issued(response)


async def test_the_server_issues_the_session_and_keeps_its_own(chat: Open) -> None:
    async with chat() as site, site.browser() as browser:
        async with browser.get("/") as page:
            cookie = issued(page)
        assert cookie is not None
        morsel = cookie[COOKIE]
        random_part, _, signature = morsel.value.rpartition(".")
        assert len(random_part) == 32
        assert len(signature) == 43
        assert morsel["httponly"]
        assert morsel["samesite"] == "Strict"
        assert morsel["path"] == "/"
        assert int(morsel["max-age"]) == 180 * 24 * 3600
        assert not morsel["secure"]  # no https public address set
        # The page's own session is kept: no new cookie, the conversation goes on.
        status, body, again = await post(browser, {"text": "/new", "id": "a1"})
        assert (status, again) == (200, None)
        assert "属于哪一类" in body["messages"][0]["text"]
        _, body, again = await post(browser, {"choice": "intake:cat:ip", "id": "a2"})
        assert again is None
        assert "简要说明" in body["messages"][0]["text"]


@pytest.mark.parametrize(
    "made_up",
    ["a", "fixation-1234", "abc.def", "x" * 200, UNSIGNED + ".AAAA", "ключ"],
)
async def test_a_made_up_cookie_is_replaced_and_never_shared(chat: Open, made_up: str) -> None:
    async with (
        chat() as site,
        aiohttp.ClientSession(site.url) as victim,
        aiohttp.ClientSession(site.url) as attacker,
    ):
        # The attacker planted the cookie in the victim's browser and uses it too.
        status, body, given = await post(victim, {"text": "/new", "id": "v1"}, made_up)
        assert status == 200
        assert "属于哪一类" in body["messages"][0]["text"]
        assert given is not None
        assert given[COOKIE].value != made_up
        _, body, other = await post(attacker, {"choice": "intake:cat:ip", "id": "t1"}, made_up)
        # Not the victim's conversation: the attacker is someone new, in no conversation, and
        # the button changes nothing.
        assert "按钮已经失效" in body["messages"][0]["text"]
        assert other is not None
        assert other[COOKIE].value not in (made_up, given[COOKIE].value)
        async with attacker.get(
            "/api/updates", headers={"Cookie": f"{COOKIE}={made_up}"}
        ) as updates:
            assert await updates.json() == {"messages": [], "cursor": 0}


async def test_a_cookie_from_before_signing_is_kept_if_its_visitor_is_known(
    chat: Open,
) -> None:
    # The cookie goes in by hand: a client that keeps none (cookies from an IP address).
    async with chat() as site, aiohttp.ClientSession(site.url) as browser:
        # Before the upgrade the visitor opened a request; a commissioner's reply waits.
        visitor = visitor_of(UNSIGNED)
        async with site.bot.database.transaction() as session:
            await identify(
                session,
                channel="web",
                user_id=visitor,
                chat_id=visitor,
                display_name=None,
                language="zh",
                now=site.clock.now(),
            )
            outbox.enqueue(
                session,
                channel="web",
                chat_id=visitor,
                payload={"text": "工单 2026-0001：请补充营业执照照片。"},
                now=site.clock.now(),
            )
        headers = {"Cookie": f"{COOKIE}={UNSIGNED}"}
        async with browser.get("/api/updates", headers=headers) as updates:
            body = await updates.json()
            signed = issued(updates)
        assert [m["text"] for m in body["messages"]] == ["工单 2026-0001：请补充营业执照照片。"]
        assert signed is not None
        assert signed[COOKIE].value.startswith(UNSIGNED + ".")
        # From now on the signed cookie is the session, kept as it is.
        status, _, again = await post(browser, {"text": "你好", "id": "h1"}, signed[COOKIE].value)
        assert (status, again) == (200, None)

        # An unsigned cookie nobody had is not adopted.
        stranger = "bm9ib2R5LWhhZC10aGlzLWNvb2tpZS1ldmVy"
        async with browser.get(
            "/api/updates", headers={"Cookie": f"{COOKIE}={stranger}"}
        ) as updates:
            assert await updates.json() == {"messages": [], "cursor": 0}
            assert issued(updates) is None
        _, _, replaced = await post(browser, {"text": "你好", "id": "h2"}, stranger)
        assert replaced is not None
        assert not replaced[COOKIE].value.startswith(stranger)

        # Once every cookie from before signing has expired (180 days), none is taken.
        site.clock.advance(timedelta(days=181))
        _, _, replaced = await post(browser, {"text": "你好", "id": "h3"}, UNSIGNED)
        assert replaced is not None
        assert not replaced[COOKIE].value.startswith(UNSIGNED)


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://bot.example.cn", True), ("http://10.0.0.5:8080", False)]
)
async def test_the_cookie_is_secure_when_the_public_address_is_https(
    chat: Open, public_url: str, secure: bool
) -> None:
    async with chat(public_url=public_url) as site, site.browser() as browser:
        async with browser.get("/") as page:
            cookie = issued(page)
        assert cookie is not None
        assert bool(cookie[COOKIE]["secure"]) is secure
        async with aiohttp.ClientSession(site.url) as another:
            _, _, fresh = await post(another, {"text": "你好"}, "made-up")
        assert fresh is not None
        assert bool(fresh[COOKIE]["secure"]) is secure
        # The console's cookie too, though aiohttp sees plain HTTP behind the proxy.
        async with (
            aiohttp.ClientSession(site.url) as console,
            console.post("/console/api/demo-signin", json={"web_id": "zhangwei"}) as signed_in,
        ):
            assert signed_in.status == 200
            assert bool(signed_in.cookies["md_console"]["secure"]) is secure


async def test_the_chat_apis_json_is_never_sniffed_nor_cached(chat: Open) -> None:
    async with chat() as site, site.browser() as browser:
        answers = [
            browser.post("/api/messages", json={"text": "你好"}),
            browser.post("/api/messages", data=b"{", headers={"Content-Type": "application/json"}),
            browser.get("/api/updates?after=3"),
            browser.get("/api/updates?after=x"),
        ]
        for answer in answers:
            async with answer as response:
                assert response.content_type == "application/json"
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "client_id",
    [
        "q1\n2026-12-07 09:00:00,000 WARNING bot.channels.console.auth: console: forged",
        "x" * 65,
        "",
        "1733000000000.123",
        "名字",
        5,
        ["a"],
    ],
)
async def test_a_message_id_outside_the_safe_alphabet_is_refused(
    chat: Open, client_id: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with chat() as site, site.browser() as browser:
        status, body, _ = await post(browser, {"text": "服务专员多久回复", "id": client_id})
        assert (status, body) == (400, {"error": BAD_REQUEST})
        assert await site.inbound_keys() == 0  # refused: nothing stored
        for good in ("0b6f9c1e-4a7d-4c2e-9d51-7e0c3f2a8b11", "A_z-09"):
            status, _, _ = await post(browser, {"text": "服务专员多久回复", "id": good})
            assert status == 200
    assert "forged" not in caplog.text


async def test_updates_after_any_number_is_an_answer_not_an_error(chat: Open) -> None:
    async with chat() as site, site.browser() as browser:
        await post(browser, {"text": "你好"})
        for after in ("99999999999999999999", "-5", str(2**63)):
            async with browser.get(f"/api/updates?after={after}") as response:
                assert response.status == 200
                assert (await response.json())["messages"] == []


@pytest.mark.slow
async def test_a_session_is_good_at_every_process_and_after_a_restart(tmp_path: Path) -> None:
    """Two ``python -m bot run`` in turn on one database; ``BOT_PUBLIC_URL`` read as shipped."""
    with run_bot(tmp_path, public_url="https://bot.example.cn") as first:
        async with aiohttp.ClientSession(first.url) as browser, browser.get("/") as page:
            cookie = issued(page)
    assert cookie is not None
    assert cookie[COOKIE]["secure"]
    value = cookie[COOKIE].value
    with run_bot(tmp_path) as second:
        async with aiohttp.ClientSession(second.url) as browser:
            status, _, again = await post(browser, {"text": "你好", "id": "r1"}, value)
    assert (status, again) == (200, None)
    database = Database(second.env["BOT_DATABASE_URL"])
    try:
        async with database.sessions() as session:
            keys = (await session.scalars(select(InboundKey.key))).all()
    finally:
        await database.close()
    assert keys == [f"web:{visitor_of(value.rpartition('.')[0])}:r1"]
