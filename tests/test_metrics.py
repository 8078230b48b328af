"""``/metrics``: what happened, counted where it happened, and where things stand, read from the
database at each scrape, in Prometheus's text format over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Bot
from bot.clock import ManualClock
from bot.delivery import DeliveryError
from bot.messages import Channel
from bot.sender import OutboxSender
from tests.support.desk import Platform
from tests.support.server import SUMMER, site

GROUP_CHAT = "-1002000000001"


async def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by name and labels."""
    async with aiohttp.ClientSession() as client, client.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def post(chat: aiohttp.ClientSession, **body: str) -> list[str]:
    async with chat.post("/api/messages", json=body) as response:
        assert response.status == 200, await response.text()
        return [m["text"] for m in (await response.json())["messages"]]


async def test_counts_messages_answers_requests_and_the_outbox(
    tmp_path: Path, faq_dir: Path
) -> None:
    clock = ManualClock(SUMMER)
    bots: list[Bot] = []
    async with (
        site(tmp_path, faq_dir, clock, keep=bots) as url,
        aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat,
    ):
        await post(chat, text="服务专员多久回复", id="q1")  # answered
        await post(chat, text="服务专员多久回复", id="q1")  # the page sent it twice
        await post(chat, text="小组", id="q2")  # suggested
        await post(chat, text="孵化器的食堂几点开饭", id="q3")  # no match
        await post(chat, text="/new 想咨询公司注册需要哪些材料", id="r1")
        await post(chat, choice="space:baodi-eco", id="r2")  # the card waits for Telegram
        clock.advance(timedelta(days=30))  # past the 10 working days

        found = await scrape(url)
        assert found["makerdesk_messages_in_total", (("channel", "web"), ("kind", "new"))] == 5
        assert (
            found["makerdesk_messages_in_total", (("channel", "web"), ("kind", "duplicate"))] == 1
        )
        for band in ("answer", "suggest", "none"):
            assert found["makerdesk_answers_total", (("band", band),)] == 1, band
        assert found["makerdesk_handling_seconds_count", (("channel", "web"),)] == 6
        assert found["makerdesk_requests", (("status", "open"),)] == 1
        assert found["makerdesk_requests_overdue", ()] == 1
        backlog = found[
            "makerdesk_outbox_backlog", (("channel", "telegram"), ("status", "pending"))
        ]
        assert backlog == 1
        age = found["makerdesk_outbox_oldest_age_seconds", (("channel", "telegram"),)]
        assert age == timedelta(days=30).total_seconds()

        # The outbox sender counts what it pushed and what failed.
        (bot,) = bots
        platform = Platform()
        platform.failures[GROUP_CHAT] = [DeliveryError("502 Bad Gateway")]
        sender = OutboxSender(
            bot.database,
            clock,
            {Channel.TELEGRAM: platform},
            bot.services.roster,
            metrics=bot.services.metrics,
        )
        await sender.deliver_due()
        clock.advance(timedelta(minutes=1))
        await sender.deliver_due()
        found = await scrape(url)
        failed = (("channel", "telegram"), ("outcome", "retry"))
        assert found["makerdesk_delivery_failures_total", failed] == 1
        pushed = (("channel", "telegram"), ("how", "pushed"))
        assert found["makerdesk_messages_out_total", pushed] == 1
        assert found["makerdesk_delivery_seconds_count", (("channel", "telegram"),)] == 1
        assert (
            "makerdesk_outbox_backlog",
            (("channel", "telegram"), ("status", "pending")),
        ) not in found


async def test_counts_the_match_cache_and_reads_its_size_from_the_settings(
    tmp_path: Path, faq_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_MATCH_CACHE_SIZE", "1")
    clock = ManualClock(SUMMER)
    bots: list[Bot] = []
    async with (
        site(tmp_path, faq_dir, clock, keep=bots) as url,
        aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat,
    ):
        (bot,) = bots
        assert bot.knowledge.current.match_cache.size == 1
        found = await scrape(url)
        assert found["makerdesk_match_cache_total", (("result", "hit"),)] == 0
        assert found["makerdesk_match_cache_total", (("result", "miss"),)] == 0
        first = await post(chat, text="服务专员多久回复", id="q1")
        assert await post(chat, text="服务专员多久回复", id="q2") == first  # a hit
        await post(chat, text="服务小组有几个人", id="q3")  # keeps only this one now
        await post(chat, text="服务专员多久回复", id="q4")  # so a miss again
        found = await scrape(url)
        assert found["makerdesk_match_cache_total", (("result", "hit"),)] == 1
        assert found["makerdesk_match_cache_total", (("result", "miss"),)] == 3
        # A reload empties the cache but not the counts.
        await bot.knowledge.reload(clock.now())
        await post(chat, text="服务专员多久回复", id="q5")
        await post(chat, text="服务专员多久回复", id="q6")
        found = await scrape(url)
        assert found["makerdesk_match_cache_total", (("result", "hit"),)] == 2
        assert found["makerdesk_match_cache_total", (("result", "miss"),)] == 4
