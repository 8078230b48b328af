"""The web chat's brakes on a flood: a limit per session and one per client address.

The bot runs in-process behind a real HTTP server on 127.0.0.1 with a manual clock (the limits
count in time windows; the clock moves, nobody sleeps); clients bind other loopback addresses
(127.0.0.2 …) to be other people. One test runs the shipped ``python -m bot run``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

import bot.channels.rate_limit as rate_limit_module
from bot.app import Bot, create_bot
from bot.channels.client_address import client_address
from bot.channels.rate_limit import RateLimit
from bot.clock import ManualClock
from bot.server import build_application
from bot.settings import SettingsError, load_settings
from storage.models import InboundKey
from tests.support.processes import BotProcess, run_bot

NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tuesday 12:00 in Shanghai
BUSY = "消息发得有点快，请稍等几秒再试。"
PER_ADDRESS = 120
"""Short messages one address may send a minute (bot.channels.web: 24,000 characters, each
message counting at least 200)."""
LONG_PER_ADDRESS = 12
"""Messages of 2,000 characters one address may send a minute."""
PER_SESSION = 20
"""Messages one session may send in 10 s (bot.channels.web.SESSION_LIMIT)."""


class Site:
    """The bot's HTTP server on 127.0.0.1 and its manual clock."""

    def __init__(self, url: str, clock: ManualClock, bot: Bot) -> None:
        self.url, self.clock, self.bot = url, clock, bot

    def client(self, address: str = "127.0.0.1", **options: Any) -> aiohttp.ClientSession:
        """A browser at ``address`` (a loopback address); it keeps the cookie it is given."""
        connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
        jar = aiohttp.CookieJar(unsafe=True)
        return aiohttp.ClientSession(self.url, connector=connector, cookie_jar=jar, **options)

    async def inbound_keys(self) -> int:
        async with self.bot.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboundKey)) or 0)


Open = Callable[..., contextlib.AbstractAsyncContextManager[Site]]


@pytest.fixture
def site(tmp_path: Path, faq_dir: Path) -> Open:
    @contextlib.asynccontextmanager
    async def open_site(**settings: Any) -> AsyncIterator[Site]:
        clock = ManualClock(NOON)
        loaded = load_settings(
            knowledge_dir=faq_dir,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            **settings,
        )
        bot = await create_bot(loaded, clock)
        server = TestServer(build_application(bot), host="127.0.0.1")
        await server.start_server()
        try:
            yield Site(str(server.make_url("")), clock, bot)
        finally:
            await server.close()
            await bot.close()

    return open_site


async def send(
    client: aiohttp.ClientSession, n: int, headers: dict[str, str] | None = None, length: int = 0
) -> tuple[int, str]:
    text = f"第{n}个问题：孵化器的食堂几点开饭"
    body = {"text": text + "饭" * (length - len(text)), "id": f"m{n}"}
    async with client.post("/api/messages", json=body, headers=headers or {}) as response:
        answer = await response.json()
        return response.status, answer.get("error", "")


async def flood(
    client: aiohttp.ClientSession,
    count: int,
    headers: Callable[[int], dict[str, str]] = lambda n: {},
    *,
    fresh: bool = False,
    length: int = 0,
) -> list[int]:
    """``count`` messages as fast as one client sends; ``fresh``: forget the cookie each time."""
    statuses = []
    for n in range(count):
        if fresh:
            client.cookie_jar.clear()
        status, error = await send(client, n, headers(n), length)
        if status == 429:
            assert error == BUSY
        statuses.append(status)
    return statuses


@pytest.mark.slow
async def test_a_flood_without_a_cookie_is_refused_past_the_address_limit(site: Open) -> None:
    async with site() as bot, bot.client() as flooder, bot.client("127.0.0.2") as neighbour:
        statuses = await flood(flooder, PER_ADDRESS + 2, fresh=True)
        assert statuses == [200] * PER_ADDRESS + [429] * 2
        assert await bot.inbound_keys() == PER_ADDRESS  # nothing refused was stored
        # Past its budget the address is refused before its body is even read.
        async with flooder.post(
            "/api/messages", data=b"{not json", headers={"Content-Type": "application/json"}
        ) as unread:
            assert unread.status == 429
        # Someone at another address is not held up.
        assert (await send(neighbour, 1))[0] == 200
        bot.clock.advance(timedelta(minutes=2))
        assert (await send(flooder, 999))[0] == 200


@pytest.mark.slow
async def test_long_messages_use_the_address_budget_up_sooner(site: Open) -> None:
    async with site() as bot, bot.client() as flooder:
        statuses = await flood(flooder, LONG_PER_ADDRESS + 2, fresh=True, length=2000)
        assert statuses == [200] * LONG_PER_ADDRESS + [429] * 2
        # A question of ordinary length from the same address waits as long as the rest.
        assert (await send(flooder, 99))[0] == 429


@pytest.mark.slow
async def test_rotating_made_up_cookies_do_not_escape_the_address_limit(site: Open) -> None:
    async with site() as bot, bot.client() as flooder:
        statuses = await flood(
            flooder,
            PER_ADDRESS + 2,
            lambda n: {"Cookie": f"md_session=rotating-{n}"},
            fresh=True,
        )
        assert statuses == [200] * PER_ADDRESS + [429] * 2


@pytest.mark.slow
async def test_one_session_gets_its_own_smaller_limit(site: Open) -> None:
    async with site() as bot, bot.client() as person, bot.client() as colleague:
        assert await flood(person, PER_SESSION + 2) == [200] * PER_SESSION + [429] * 2
        # A colleague behind the same address (a maker space's NAT) still gets through.
        assert (await send(colleague, 1))[0] == 200
        bot.clock.advance(timedelta(seconds=11))
        assert (await send(person, 1000))[0] == 200


async def test_dozens_of_people_behind_one_address_chat_normally(site: Open) -> None:
    async with site() as bot:
        people = [bot.client() for _ in range(40)]
        try:
            for minute in range(3):
                for n, person in enumerate(people):
                    # Two messages a minute each: a lively session, far from a flood.
                    assert (await send(person, 100 * minute + 2 * n))[0] == 200
                    assert (await send(person, 100 * minute + 2 * n + 1))[0] == 200
                    bot.clock.advance(timedelta(seconds=1))
                bot.clock.advance(timedelta(seconds=20))
        finally:
            for person in people:
                await person.close()


@pytest.mark.slow
async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(site: Open) -> None:
    async with site(trusted_proxies="127.0.0.1, 10.0.0.0/8") as bot, bot.client() as proxy:

        def via(*hops: str) -> dict[str, str]:
            return {"X-Forwarded-For": ", ".join(hops)}

        # One visitor floods through the proxy, making up addresses of their own on the left.
        statuses = await flood(
            proxy,
            PER_ADDRESS + 2,
            lambda n: via(f"198.51.100.{n % 250}", "203.0.113.7"),
            fresh=True,
        )
        assert statuses == [200] * PER_ADDRESS + [429] * 2
        # Others behind the same proxy are other clients, also through a second proxy of ours.
        assert (await send(proxy, 1, via("203.0.113.8")))[0] == 200
        assert (await send(proxy, 2, via("203.0.113.9", "10.1.2.3")))[0] == 200
        assert (await send(proxy, 3, via("203.0.113.7", "10.1.2.3")))[0] == 429


@pytest.mark.slow
async def test_an_untrusted_peers_forwarded_for_is_ignored(site: Open) -> None:
    async with site() as bot, bot.client() as flooder:
        statuses = await flood(
            flooder,
            PER_ADDRESS + 2,
            lambda n: {"X-Forwarded-For": f"203.0.113.{n}"},
            fresh=True,
        )
        assert statuses == [200] * PER_ADDRESS + [429] * 2


def test_the_client_address_is_the_right_most_untrusted_hop() -> None:
    proxies = load_settings(trusted_proxies="10.0.0.0/8,::1").trusted_proxies
    assert client_address("192.0.2.1", ["203.0.113.5"], proxies) == "192.0.2.1"
    assert client_address("10.0.0.2", ["203.0.113.5"], proxies) == "203.0.113.5"
    assert client_address("10.0.0.2", ["1.1.1.1, 203.0.113.5, 10.9.9.9"], proxies) == (
        "203.0.113.5"
    )
    assert client_address("10.0.0.2", ["1.1.1.1", "203.0.113.5"], proxies) == "203.0.113.5"
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"  # the proxy itself asks
    assert client_address("10.0.0.2", ["10.0.0.3"], proxies) == "10.0.0.3"
    # Garbage where an address should be: what our own proxy saw last is as far as we trust.
    assert client_address("10.0.0.2", ["1.1.1.1, <script>"], proxies) == "10.0.0.2"
    # IPv6: one household or office gets a /64; its addresses are one client.
    assert client_address("2001:db8:1:2::9", [], proxies) == "2001:db8:1:2::/64"
    assert client_address("::1", ["2001:db8:1:2:aaaa::1"], proxies) == "2001:db8:1:2::/64"
    assert client_address("::ffff:192.0.2.7", [], proxies) == "192.0.2.7"
    assert client_address(None, [], proxies) == "unknown"


@contextlib.contextmanager
def lines_run_in(module: Any) -> Iterator[list[int]]:
    """Count the lines Python runs in ``module`` (each loop turn is one): work, not time."""
    counted = [0]
    filename = module.__file__

    def local(frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            counted[0] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename == filename else None

    sys.settrace(tracer)
    try:
        yield counted
    finally:
        sys.settrace(None)


def test_the_limiter_does_constant_work_per_message_with_100000_visitors() -> None:
    limit = RateLimit(limit=20, window=timedelta(seconds=10))
    now = NOON
    keys = 100_000
    with lines_run_in(rate_limit_module) as lines:
        for n in range(keys):
            if n % 1000 == 0:
                now += timedelta(milliseconds=50)  # all within one window: none is idle yet
            assert not limit.full(f"visitor-{n}", now)
            limit.count(f"visitor-{n}", now)
            # A scan of every key per message would be billions of lines; stop it early.
            assert lines[0] < 40 * (n + 1), f"{lines[0]} lines for {n + 1} messages"
    assert len(limit) == keys
    # Two windows later the idle visitors are gone: memory is bounded by recent traffic.
    now += timedelta(seconds=21)
    assert not limit.full("someone-new", now)
    limit.count("someone-new", now)
    assert len(limit) == 1


def test_bad_proxy_and_public_url_settings_name_their_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "10.0.0.1, nginx")
    with pytest.raises(SettingsError, match="BOT_TRUSTED_PROXIES"):
        load_settings()
    monkeypatch.setenv("BOT_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert len(load_settings().trusted_proxies) == 2
    for bad in ("bot.example.cn", "ftp://bot.example.cn", "https://bot.example.cn/?a=1"):
        monkeypatch.setenv("BOT_PUBLIC_URL", bad)
        with pytest.raises(SettingsError, match="BOT_PUBLIC_URL"):
            load_settings()


@pytest.mark.slow
async def test_the_shipped_process_refuses_both_bypasses(tmp_path: Path) -> None:
    """The audit's two bypasses, against ``python -m bot run`` on the system clock."""
    with run_bot(tmp_path) as running:
        await _bypasses(running)


async def _bypasses(running: BotProcess) -> None:
    async with aiohttp.ClientSession(running.url) as flooder:
        no_cookie = await flood(flooder, PER_ADDRESS + 2, fresh=True)
        assert no_cookie.count(429) >= 2
        # Long messages: on the system clock the address's budget refills while the first flood
        # is answered (400 characters a second), never by 2,000 characters in a few seconds.
        rotating = await flood(
            flooder, 2, lambda n: {"Cookie": f"md_session=rot-{n}"}, fresh=True, length=2000
        )
        assert rotating == [429] * 2
    assert "Traceback" not in running.output()
