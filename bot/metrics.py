"""Prometheus metrics, served at ``/metrics``.

Events are counted where they happen (a message in, a reply out, an answer's band, a delivery
that failed), or by the knowledge base itself and read at each scrape (its match cache's hits
and misses); what the database holds (requests by status, overdue ones, the outbox's backlog
and the age of its oldest row) is read when Prometheus scrapes, so several processes on one
database report the same figures. Each bot has a registry of its own, so tests can run several.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from knowledge.cache import CacheCounts
from storage import Database
from storage.stats import standing

__all__ = ["CONTENT_TYPE", "Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: WeChat gives up at 5, Telegram's webhook at about 60."""


class Metrics:
    """The bot's metrics in a registry of their own."""

    def __init__(self) -> None:
        """Create every metric, at zero."""
        self.registry = CollectorRegistry()
        registry = self.registry
        self.messages_in = Counter(
            "makerdesk_messages_in",
            "Messages received, by channel; redelivered ones counted as duplicates.",
            ["channel", "kind"],
            registry=registry,
        )
        self.messages_out = Counter(
            "makerdesk_messages_out",
            "Messages delivered, by channel: in the webhook's response or pushed by the outbox.",
            ["channel", "how"],
            registry=registry,
        )
        self.delivery_failures = Counter(
            "makerdesk_delivery_failures",
            "Delivery attempts that failed: retried later, held by the platform, or final.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.answers = Counter(
            "makerdesk_answers",
            "Questions by what the bot did: answered, suggested entries, or had no match.",
            ["band"],
            registry=registry,
        )
        self.match_cache = Counter(
            "makerdesk_match_cache",
            "Questions looked up in the knowledge base's match cache: asked before word for word "
            "(hit), or read and matched (miss).",
            ["result"],
            registry=registry,
        )
        self._match_cache_seen = CacheCounts()
        self.handling = Histogram(
            "makerdesk_handling_seconds",
            "Time from a message's arrival at the dispatcher to its replies committed.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.delivery = Histogram(
            "makerdesk_delivery_seconds",
            "Time a platform took to accept a pushed message.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Gauge(
            "makerdesk_requests",
            "Service requests by status, now.",
            ["status"],
            registry=registry,
        )
        self.overdue = Gauge(
            "makerdesk_requests_overdue",
            "Open or claimed requests past their deadline, now.",
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "makerdesk_outbox_backlog",
            "Messages waiting in the outbox, by channel: pending, held by the platform, or waiting "
            "for a file being made.",
            ["channel", "status"],
            registry=registry,
        )
        self.outbox_oldest = Gauge(
            "makerdesk_outbox_oldest_age_seconds",
            "Age of the oldest pending message, by channel (the web chat's wait for the page).",
            ["channel"],
            registry=registry,
        )

    @contextmanager
    def handling_time(self, channel: str) -> Iterator[None]:
        """Time the block as one message's handling on ``channel``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.handling.labels(channel).observe(time.perf_counter() - started)

    async def exposition(
        self, database: Database, now: datetime, match_cache: CacheCounts
    ) -> bytes:
        """The metrics in Prometheus's text format, with the database's figures read now.

        Args:
            database: Where the requests and the outbox are read from.
            now: The time of the scrape, from the bot's clock.
            match_cache: The match cache's counts since start
                (:attr:`knowledge.service.KnowledgeService.match_cache`).
        """
        # The knowledge base may not import the metrics (it is the bottom layer), so it counts
        # its cache's lookups itself and the counter catches up with it here: before the first
        # await, so a scrape that overtakes another never sees counts older than the last.
        # Counts that went back would be a bug, but never one that costs every other figure.
        seen, self._match_cache_seen = self._match_cache_seen, match_cache
        self.match_cache.labels("hit").inc(max(0, match_cache.hits - seen.hits))
        self.match_cache.labels("miss").inc(max(0, match_cache.misses - seen.misses))
        async with database.sessions() as session:
            found = await standing(session, now)
        # Figures that fell to nothing since the last scrape must read 0, not their old value.
        for gauge in (self.requests, self.outbox_backlog, self.outbox_oldest):
            gauge.clear()
        for status, count in found.requests.items():
            self.requests.labels(status).set(count)
        self.overdue.set(found.overdue)
        for (channel, outbox_status), count in found.outbox.items():
            self.outbox_backlog.labels(channel, outbox_status).set(count)
        for channel, oldest in found.oldest_waiting.items():
            self.outbox_oldest.labels(channel).set(max(0.0, (now - oldest).total_seconds()))
        return generate_latest(self.registry)
