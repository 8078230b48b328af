"""The load generator: users posting in a closed loop, and their answers read at the fake API.

:func:`closed_loop` and :func:`post_message` post, and :class:`Drive` notes what the posting
saw; the fake API logs every answer it receives (:class:`FakeApi`, in its helper process) and
:func:`collect` reads that log through a :class:`FakeClient`. The messages are the check-set
questions the shipped knowledge base answers (:func:`questions`), each wrapped in the everyday
openings and endings people write in chats, so a benchmark sends thousands of distinct texts
(:func:`everyday_questions`); the bot's match-cache counters are read from its ``/metrics``
(:func:`match_cache`).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import aiohttp
import xmltodict
from aiohttp import web

from bench.procs import ROOT, SHIPPED_FAQ, Child

CHECK_SET = ROOT / "bench" / "data" / "faq_check.jsonl"
POLL_S = 0.05
"""How often the generator asks the fake for new arrivals once the posting is done."""

MATCH_CACHE = "makerdesk_match_cache_total"
"""The bot's counter of match-cache lookups, by ``result``: ``hit`` or ``miss``."""

K = TypeVar("K")
"""What an arrival at a fake API is addressed to: a chat id, an OpenID."""
T = TypeVar("T")
Arrival = tuple[K, float, str]
"""An answer that reached a fake API: to whom, ``time.monotonic()`` at arrival, its text."""


# ---------------------------------------------------------------- the fake's arrival log


class FakeApi(Generic[K]):
    """The part of a fake platform API the load generator reads: arrivals and the clock.

    A subclass serves the platform's methods and appends every answer it receives to
    :attr:`arrivals`; :meth:`add_bench_routes` serves that list (``GET /bench/arrivals``,
    from ``?since=N``) and the fake's ``time.monotonic()`` (``GET /bench/clock``).
    """

    def __init__(self) -> None:
        self.arrivals: list[Arrival[K]] = []

    def add_bench_routes(self, app: web.Application) -> None:
        """Add the generator's routes to ``app`` (before any catch-all route)."""
        app.router.add_get("/bench/arrivals", self._arrivals)
        app.router.add_get("/bench/clock", self._clock)

    async def _arrivals(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"arrivals": self.arrivals[since:]})

    async def _clock(self, request: web.Request) -> web.Response:
        return web.json_response({"monotonic": time.monotonic()})


class CountingApi(FakeApi[str]):
    """A fake of a Tencent platform's API (WeChat, WeCom): it counts the calls it serves.

    Both answer every API error with HTTP 200 and an ``errcode`` (:func:`errcode`); a call the
    benchmark did not expect is counted under its path, so it shows under the table.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def add_counting_routes(self, app: web.Application) -> None:
        """Add the generator's routes and, last, the catch-all that counts unknown calls."""
        self.add_bench_routes(app)
        app.router.add_get("/bench/calls", self._calls)
        app.router.add_route("*", "/{path:.*}", self._unknown)

    async def _unknown(self, request: web.Request) -> web.Response:
        self.calls[request.path] += 1
        return web.Response(status=404, text="not found")

    async def _calls(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.calls))


def errcode(code: int, message: str) -> web.Response:
    """A Tencent API's answer: HTTP 200 with ``errcode`` (0: done) and ``errmsg``."""
    return web.json_response({"errcode": code, "errmsg": message})


async def xml_echo(request: web.Request) -> web.Response:
    """The bare echo of a callback: the posted XML parsed and written back, nothing decrypted."""
    message = xmltodict.parse(await request.read(), disable_entities=True)
    body = xmltodict.unparse(message, full_document=False)
    return web.Response(text=body, content_type="application/xml")


class FakeClient(Generic[K]):
    """The generator's handle on a :class:`FakeApi` running in a helper process."""

    def __init__(
        self, child: Child, client: aiohttp.ClientSession, key: Callable[[Any], K]
    ) -> None:
        """Read the fake at ``child`` with ``client``.

        Args:
            child: The fake's helper process.
            client: The generator's session.
            key: Turns the JSON form of an arrival's addressee back into its type.
        """
        self.child = child
        self.client = client
        self._key = key
        self._read = 0

    async def check_clock(self) -> None:
        """Make sure the fake's clock and ours are one clock: latency mixes the two.

        Raises:
            RuntimeError: The fake's ``time.monotonic()`` is not between two readings of ours.
        """
        before = time.monotonic()
        async with self.client.get(f"{self.child.root}/bench/clock") as response:
            theirs = float((await response.json())["monotonic"])
        after = time.monotonic()
        if not before <= theirs <= after:
            raise RuntimeError(
                f"time.monotonic() differs between processes ({before} ≤ {theirs} ≤ {after} "
                "fails): arrival times cannot be compared with send times on this system"
            )

    async def new_arrivals(self) -> list[Arrival[K]]:
        """The answers that reached the fake since the last call, oldest first."""
        async with self.client.get(
            f"{self.child.root}/bench/arrivals", params={"since": str(self._read)}
        ) as response:
            found = [
                (self._key(to), float(at), str(text))
                for to, at, text in (await response.json())["arrivals"]
            ]
        self._read += len(found)
        return found


# ---------------------------------------------------------------- what is asked


def questions() -> list[tuple[str, str]]:
    """(question, answer) for every check-set question the shipped base answers outright.

    Raises:
        RuntimeError: The shipped base answers none of them.
    """
    # Imported here: the helper processes import this module and need none of it.
    from bot.clock import SystemClock  # noqa: PLC0415
    from bot.domain.workdays import shanghai_date  # noqa: PLC0415
    from handlers.faq import answer_question, language_of  # noqa: PLC0415
    from knowledge.service import build  # noqa: PLC0415

    base = build(SHIPPED_FAQ)
    today = shanghai_date(SystemClock().now())
    found = []
    for line in CHECK_SET.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        question = json.loads(line)["q"]
        # As the bot answers it: in the question's own language, on today's date.
        answer = answer_question(base, question, language_of(question), today)
        if answer.faq_id is not None:
            found.append((question, answer.text))
    if not found:
        raise RuntimeError(f"no question of {CHECK_SET} is answered by {SHIPPED_FAQ}")
    return found


SEED = 18
"""Shuffles :func:`everyday_questions`: every benchmark run sends them in the same order."""
OPENINGS_ZH = (
    "", "请问", "请问一下，", "你好，", "你好，想问一下", "您好，请问", "老师好，请问", "问一下，",
    "在吗？想问下", "您好！", "hi，请问",
)  # fmt: skip
"""How people begin a question in a Chinese chat. Left out, since they turn some check
questions away from their answer on the shipped base, to "not sure" or to another entry's
answer (the matcher's business, not the benchmark's): "麻烦问下", "麻烦问一下，",
"老师您好，", "打扰一下，", "想咨询一下，", "同学问一下，", "领导好，", "不好意思，问下"."""
ENDINGS_ZH = (
    "", "？", "?", "，谢谢", "，谢谢！", "呀", "呢", "啊", "～", "？？", "！", "...", "哈",
)  # fmt: skip
"""How people end one. Left out for the same reason ("重创空间指的啥，急" gets another
entry's answer): "，急", "。多谢！", "，麻烦了",
"，谢谢老师", "，在线等", "。谢谢您", "，麻烦告诉一下"."""
OPENINGS_EN = ("", "Hi, ", "Hello, ", "Hi there, ", "Hey, ", "Hello! ")
"""English openings; left out: "Quick question: ", "Excuse me, ", "Sorry to bother you, "."""
ENDINGS_EN = ("", "?", " please", "??", "!")
"""English endings; left out: ", thanks!", "? Thanks", ", thank you.", "? thx"."""


def everyday_questions(pairs: Sequence[tuple[str, str]], seed: int = SEED) -> list[tuple[str, str]]:
    """Each of ``pairs``' questions with every opening and ending of its language; shuffled.

    Args:
        pairs: (question, answer), as :func:`questions` gives them.
        seed: Decides the order; the same seed, the same list.

    Returns:
        (text, answer): every text distinct, each with its question's answer (the wrappers are
        the ones that leave the shipped base's answer as it was, which a test checks).
    """
    # Imported here: the helper processes import this module and need none of it.
    from bot.messages import Language  # noqa: PLC0415
    from handlers.faq import language_of  # noqa: PLC0415

    found: dict[str, str] = {}
    for question, answer in pairs:
        english = language_of(question) is Language.EN
        openings, endings = (OPENINGS_EN, ENDINGS_EN) if english else (OPENINGS_ZH, ENDINGS_ZH)
        for opening in openings:
            for ending in endings:
                # A question may already end as an ending does: the first of equal texts stays.
                found.setdefault(f"{opening}{question}{ending}", answer)
    texts = sorted(found.items())
    random.Random(seed).shuffle(texts)
    return texts


# ---------------------------------------------------------------- what the bot counted


async def match_cache(
    client: aiohttp.ClientSession, roots: Sequence[str]
) -> tuple[float, float] | None:
    """The match cache's hits and misses so far, summed over the bots at ``roots``.

    Read from each bot's ``/metrics`` (:data:`MATCH_CACHE`).

    Returns:
        (hits, misses); ``None`` when a bot counts neither (it has no match cache, or has not
        looked anything up yet) or its ``/metrics`` does not answer.
    """
    # Imported here: the helper processes import this module and need none of it.
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    hits = misses = 0.0
    for root in roots:
        try:
            async with client.get(f"{root}/metrics") as response:
                if response.status != 200:
                    return None
                text = await response.text()
        except aiohttp.ClientError:
            return None
        counted = False
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name != MATCH_CACHE:
                    continue
                counted = True
                if sample.labels.get("result") == "hit":
                    hits += sample.value
                elif sample.labels.get("result") == "miss":
                    misses += sample.value
        if not counted:
            return None
    return hits, misses


def counted_since(
    before: tuple[float, float] | None, after: tuple[float, float] | None
) -> tuple[float, float] | None:
    """What counters read as ``after`` gained since they read ``before``; ``None`` if unknown."""
    if before is None or after is None:
        return None
    return after[0] - before[0], after[1] - before[1]


# ---------------------------------------------------------------- posting


@dataclass(frozen=True)
class Plan:
    """How much one benchmark does."""

    messages: int
    """Messages (Telegram: updates) in each timed batch."""
    warmup: int
    """Messages sent untimed before each timed batch."""
    repeats: int
    send_budget_s: float
    """Posting stops after this long even if messages are left (they then do not count)."""
    drain_s: float
    """After the last post, how long to wait for the answers still missing."""


@dataclass
class Drive(Generic[K]):
    """What the posting of one batch saw, by addressee (a chat id, an OpenID)."""

    posted: dict[K, float] = field(default_factory=dict)
    """When each message was posted (``time.monotonic()``)."""
    acks: list[float] = field(default_factory=list)
    """When each HTTP 200 response was read."""
    errors: Counter[str] = field(default_factory=Counter)
    budget_hit: bool = False


async def post_message(
    client: aiohttp.ClientSession,
    drive: Drive[Any],
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_s: float | None = None,
) -> tuple[float, bytes, str] | None:
    """Post one message as the platform does; note its HTTP 200 in ``drive``, or what failed.

    Args:
        client: The generator's session.
        drive: Where the ack (``acks``) or the error (``errors``) is noted.
        url: Where to post, with the query string.
        body: The message, as the platform sends it.
        headers: The platform's request headers.
        timeout_s: How long the platform waits for the response; a timeout is then the error
            ``no response within N s``. ``None``: the session's timeout, and an error named
            after the exception, like any other.

    Returns:
        When the HTTP 200 response was read, its body and content type; ``None`` without one.
    """
    limit = client.timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with client.post(url, data=body, headers=headers, timeout=limit) as response:
            raw = await response.read()
            seen = time.monotonic()
            status, kind = response.status, response.content_type
    except TimeoutError as error:
        late = type(error).__name__ if timeout_s is None else f"no response within {timeout_s:g} s"
        drive.errors[late] += 1
        return None
    except aiohttp.ClientError as error:
        drive.errors[type(error).__name__] += 1
        return None
    if status != 200:
        drive.errors[f"HTTP {status}"] += 1
        return None
    drive.acks.append(seen)
    return seen, raw, kind


async def closed_loop(
    shots: Iterable[T], users: int, budget_s: float, post: Callable[[T], Awaitable[None]]
) -> bool:
    """``users`` users, each posting its next message once the last one was answered.

    Args:
        shots: The messages, each posted exactly once (one shared iterator).
        users: How many post at once.
        budget_s: No message is posted after this long.
        post: Posts one message and notes what came back.

    Returns:
        Whether the budget stopped the posting before every message was posted.
    """
    queue = iter(shots)
    stop_at = time.monotonic() + budget_s
    budget_hit = False

    async def user() -> None:
        nonlocal budget_hit
        for shot in queue:
            if time.monotonic() > stop_at:
                budget_hit = True
                return
            await post(shot)

    await asyncio.gather(*(user() for _ in range(users)))
    return budget_hit


async def collect(
    fake: FakeClient[K],
    expected: Mapping[K, str],
    answers: dict[K, float],
    drain_s: float,
    fault: Callable[[str, str], None],
    wrong: str = "wrong answer",
) -> None:
    """Wait at the fake for the answers still missing; note the first right answer of each.

    Args:
        fake: Where the answers sent by the platform's API arrive.
        expected: The text each addressee's answer must begin with.
        answers: When each addressee was answered; those found at the fake are added.
        drain_s: How long to wait at the most.
        fault: Told ``(kind, text)`` of an answer that does not count: ``wrong``, or
            ``answered twice`` (then the earlier of the two stays).
        wrong: The kind of a text that does not begin with the expected answer.
    """
    deadline = time.monotonic() + drain_s
    while True:
        for to, arrived, text in await fake.new_arrivals():
            if to not in expected:
                continue  # a late answer to an earlier batch
            if not text.startswith(expected[to]):
                fault(wrong, text)
            elif to in answers:
                # The user sees the answer twice: in the response (or a push) and in this push.
                answers[to] = min(answers[to], arrived)
                fault("answered twice", text)
            else:
                answers[to] = arrived
        if len(answers) >= len(expected) or time.monotonic() > deadline:
            return
        await asyncio.sleep(POLL_S)  # the fake has no push to us; a short poll is cheap
