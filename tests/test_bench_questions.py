"""The channel benchmarks' questions: thousands of distinct texts, every one still answered;
and the match cache's hit rate they print, read from the bot's ``/metrics``.

A benchmark that sends the same hundred questions again and again measures a match cache, not
the bot; one whose texts the knowledge base no longer answers measures the bot's "not sure"
path. These tests hold :func:`bench.load.everyday_questions` to neither.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, Counter, generate_latest

from bench.figures import Sample
from bench.load import (
    ENDINGS_EN,
    ENDINGS_ZH,
    OPENINGS_EN,
    OPENINGS_ZH,
    counted_since,
    everyday_questions,
    match_cache,
    questions,
)
from bot.clock import SystemClock
from bot.domain.workdays import shanghai_date
from bot.messages import Language
from handlers.faq import answer_question, language_of
from knowledge.matcher import Band
from knowledge.service import build
from tests.support import ROOT

SAMPLE = 300
"""Texts as sent checked against the shipped base (each takes milliseconds to answer)."""


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return questions()


@pytest.mark.slow
def test_thousands_of_distinct_texts_the_same_each_time(pairs: list[tuple[str, str]]) -> None:
    texts = everyday_questions(pairs)
    assert len(texts) >= 5_000
    assert len({text for text, _ in texts}) == len(texts)
    assert everyday_questions(pairs) == texts  # seeded: every run sends the same order
    assert everyday_questions(pairs, seed=1) != texts
    # Shuffled: a run of a few hundred updates asks many questions, not one in 143 wrappings.
    first = {answer for _, answer in texts[:200]}
    assert len(first) > 50
    # Every check question is in it, bare and wrapped, with its own answer.
    by_text = dict(texts)
    for question, answer in pairs:
        assert by_text[question] == answer
    chinese = next(pair for pair in pairs if language_of(pair[0]) is Language.ZH)
    english = next(pair for pair in pairs if language_of(pair[0]) is Language.EN)
    assert by_text[f"请问{chinese[0]}，谢谢"] == chinese[1]
    assert by_text[f"Hi, {english[0]}?"] == english[1]
    assert f"请问{english[0]}，谢谢" not in by_text  # openings in the question's language


@pytest.mark.slow
def test_every_wrapper_and_a_sample_of_the_texts_still_get_their_questions_answer(
    pairs: list[tuple[str, str]],
) -> None:
    base = build(ROOT / "knowledge" / "faq")
    today = shanghai_date(SystemClock().now())
    checked: list[tuple[str, str]] = []
    # Every opening and every ending by itself, on every check question of its language: a
    # wrapper that turns even one question away from its answer is left out of the lists.
    for question, answer in pairs:
        english = language_of(question) is Language.EN
        openings, endings = (OPENINGS_EN, ENDINGS_EN) if english else (OPENINGS_ZH, ENDINGS_ZH)
        checked += [(f"{opening}{question}", answer) for opening in openings if opening]
        checked += [(f"{question}{ending}", answer) for ending in endings if ending]
    # And the texts as sent: an opening and an ending together.
    checked += random.Random(18).sample(everyday_questions(pairs), SAMPLE)
    wrong = []
    for text, expected in checked:
        reply = answer_question(base, text, language_of(text), today)
        if reply.result.band is not Band.ANSWER or reply.text != expected:
            wrong.append((text, reply.result.band.value, reply.text[:40]))
    assert wrong == []


async def test_the_match_cache_hit_rate_is_read_from_metrics_and_absent_is_unknown() -> None:
    registry = CollectorRegistry()
    counter = Counter("makerdesk_match_cache", "lookups", ["result"], registry=registry)
    counter.labels("hit").inc(30)
    counter.labels("miss").inc(10)
    bare = CollectorRegistry()  # a bot without a match cache, as on main today

    def metrics(of: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            return web.Response(body=generate_latest(of), content_type="text/plain")

        return serve

    app = web.Application()
    app.router.add_get("/a/metrics", metrics(registry))
    app.router.add_get("/b/metrics", metrics(registry))
    app.router.add_get("/bare/metrics", metrics(bare))
    async with TestServer(app) as server, aiohttp.ClientSession() as client:
        root = str(server.make_url("")).rstrip("/")
        before = await match_cache(client, [f"{root}/a"])
        assert before == (30.0, 10.0)
        counter.labels("hit").inc(5)
        counter.labels("miss").inc(15)
        after = await match_cache(client, [f"{root}/a", f"{root}/b"])  # two processes: summed
        assert after == (70.0, 50.0)
        assert counted_since((30.0, 10.0), await match_cache(client, [f"{root}/a"])) == (5, 15)
        assert await match_cache(client, [f"{root}/a", f"{root}/bare"]) is None
        assert counted_since(before, None) is None
    assert Sample(1, 1, 1.0, 1.0, [1.0], cache=(5.0, 15.0)).cache_hit_rate == 0.25
    assert Sample(1, 1, 1.0, 1.0, [1.0]).cache_hit_rate is None
