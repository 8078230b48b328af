"""Telegram webhook: FAQ answers end to end, beside a bare aiohttp JSON echo.

What is timed is what an entrepreneur waits for: Telegram posts an update to the bot's webhook,
and the answer counts once Telegram has it. Four processes take part, all on 127.0.0.1:

* **the bot**, ``python -m bot run`` as shipped (demo roster, shipped knowledge base), on a
  fresh SQLite file in a temporary folder per run (or the database ``BOT_BENCH_TELEGRAM_DB``
  names, such as an empty PostgreSQL database), with ``BOT_TELEGRAM_API_URL`` at the fake
  Bot API and ``BOT_TELEGRAM_WEBHOOK_URL=http://127.0.0.1:<port>``. It starts as in production:
  ``getMe``, then ``setWebhook`` with its own secret token. The load generator posts to the URL
  and secret the bot registered with the fake, exactly as Telegram would.
* **a fake Bot API** (``python -m bench.telegram fake``, in this module): just the methods the
  bot calls, answering ``sendMessage`` with a Message PTB can parse. It notes every
  ``sendMessage`` with its chat, text and ``time.monotonic()`` at arrival; the load generator
  reads that list after the updates are sent (``GET /bench/arrivals``), so reading it costs the
  fake nothing while the bot is being measured. Its own process, so its CPU is not on the load
  generator's event loop.
* **a bare echo** (``python -m bench.telegram echo``): an aiohttp app that ``json.loads`` the
  body and answers ``json.dumps`` of it: the floor of "HTTP + JSON in, JSON out" on this machine.
* **the load generator**, this process: one ``aiohttp.ClientSession`` with a connector limited to
  ``CONCURRENCY`` connections and as many worker tasks, taking updates from one shared list.

An update is a private text message from its own user (chat id = user id, language
``zh-hans``) asking a question of ``bench/data/faq_check.jsonl`` that the shipped knowledge base
answers outright (the generator checks that with ``handlers.faq.answer_question`` before it
starts, and keeps the expected answer). An update counts as **answered** at the first of:

* a ``sendMessage`` to its chat reaching the fake (the arrival time the fake noted), or
* the webhook's own HTTP response being a JSON method call ``{"method": "sendMessage",
  "chat_id": …}`` for its chat, which Telegram would execute (the moment the response was read);

in both cases only when the text begins with the knowledge base's answer; any other text counts
as an error ("wrong answer"). Latency runs from just before the update is posted. The bot and the
generator read the same clock: ``time.monotonic()`` is the system-wide monotonic clock, and the
generator checks at start that the fake's reading falls between two of its own.

Each run first sends an untimed warm-up batch (jieba's dictionary, connection pools, first
queries) and waits for its answers, then the timed batch. Throughput (answered/s) is answered
updates over the time from the first post to the last answer; acks/s is the HTTP 200 responses
over the time from the first post to the last response, how fast the server takes updates in
(for the echo the two are the same thing). The posting stops after ``send_budget_s`` and the
wait for answers ``drain_s`` after the last post, so a slow bot still ends the benchmark in about
two minutes; the updates column shows how many were actually posted. An update still unanswered
then counts as infinitely slow, and a percentile that falls on one prints as "> drain time",
a lower bound, rather than a flattering figure from the answered few.

The echo is driven by the same generator with the same update bodies, headers and concurrency;
its answer is its response. Echo and bot runs alternate; a full benchmark runs each three times
and shows the median of every figure, ``--quick`` runs each once on fewer updates.

The CPU column is CPU seconds per wall second while the timed batch is posted (``/proc``, Linux
only) of the server (bot or echo, all its threads), the load generator and the fake. Everything
shares the machine's cores (``os.cpu_count()`` is printed): on a two-core machine the generator
and the fake take CPU the server would otherwise have, so the figures are a floor for a server
on a machine of its own. ``/proc/stat`` also tells what the rest of the machine used meanwhile,
and what the hypervisor gave other virtual machines instead (steal time, told apart: it is no
process here); a row disturbed by either (a test suite running beside it, a busy host) says so
under the table. What is shared with ``bench.wechat``: the processes and the bot's start
(``bench.procs``), the load (``bench.load``), the CPU readings (``bench.cpu``) and the table's
figures (``bench.figures``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bench.cpu import CpuMeter, CpuUse, cpu_notes
from bench.figures import (
    Report,
    Row,
    Sample,
    format_cpu,
    format_ms,
    format_share,
    print_markdown,
)
from bench.load import (
    Drive,
    FakeApi,
    FakeClient,
    Plan,
    closed_loop,
    collect,
    counted_since,
    everyday_questions,
    match_cache,
    post_message,
    questions,
)
from bench.procs import (
    POSTGRES_URL,
    Bot,
    bot_process,
    cancel_on_sigterm,
    cli,
    commits_per_update,
    echo_app,
    helpers,
    postgres_reachable,
    scratch_database,
)
from tests.support.processes import free_port

TOKEN = "123:bench"
CONCURRENCY = 50
TARGET_RATE = 1500.0  # answered updates/s on one process (issue 18)
TARGET_ECHO_SHARE = (
    0.15  # and at least this share of the bare echo, as the same generator drives it
)
TARGET_P99_MS = 50.0
TARGET_TWO_RATE = 2500.0  # answered updates/s, two processes on PostgreSQL
COLUMNS = (
    "setup", "concurrency", "updates", "distinct texts", "answered", "answered/s", "acks/s",
    "p50 (ms)", "p99 (ms)", "unanswered", "errors", "match-cache hits",
    "CPU server · generator · fake",
)  # fmt: skip
"""The table's columns."""
FIRST_USER = 7_000_000_000
"""User ids start here; every update of the benchmark has a user (and chat) of its own."""

Json = dict[str, Any]


FULL = Plan(messages=5000, warmup=100, repeats=3, send_budget_s=20.0, drain_s=10.0)
QUICK = Plan(messages=500, warmup=50, repeats=1, send_budget_s=10.0, drain_s=5.0)


SETUPS = (
    ("echo", "bare aiohttp echo"),
    ("one", "bot webhook → FAQ answer, 1 process"),
    ("two", "bot webhook → FAQ answer, 2 processes on PostgreSQL, round robin"),
)
"""Each setup's key and its row's name (the 1-process row names its database when printed)."""


@dataclass(frozen=True)
class Shot:
    """One update to post: its chat, its body, its question, and how its answer must begin."""

    chat: int
    body: bytes
    text: str
    expected: str


@dataclass(frozen=True)
class TelegramRow(Row):
    """A setup's line of the table, or the reason it was not measured."""

    skipped: str | None = None

    @classmethod
    def not_measured(cls, setup: str, why: str) -> TelegramRow:
        """The line of a setup that could not run here."""
        return cls(setup, 0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, CpuUse(), skipped=why)


# ---------------------------------------------------------------- helper processes (children)


class _FakeBotApi(FakeApi[int]):
    """The few Bot API methods the bot calls, plus the generator's view of what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.bot_user: Json = {
            "id": int(TOKEN.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "众创助手",
            "username": "makerdesk_bench_bot",
        }
        self.webhook: Json = {"url": "", "secret_token": None}
        self._message_id = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        self.add_bench_routes(app)
        app.router.add_get("/bench/webhook", self._webhook)
        return app

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()  # before the body is read: the moment Telegram has the call
        if request.match_info["token"] != TOKEN:
            return _envelope(None, 401, "Unauthorized")
        params: Json = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.method == "POST":
            params.update((k, v) for k, v in (await request.post()).items() if isinstance(v, str))
        method = request.match_info["method"].lower()
        if method == "sendmessage":
            chat = int(params["chat_id"])
            text = str(params.get("text", ""))
            self.arrivals.append((chat, arrived, text))
            return _envelope(self._message(chat, text))
        if method == "editmessagetext":
            chat = int(params.get("chat_id", 0))
            edited = self._message(chat, str(params.get("text", "")))
            edited["message_id"] = int(params.get("message_id") or edited["message_id"])
            return _envelope(edited)
        if method == "getme":
            return _envelope(
                self.bot_user
                | {
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                    "can_connect_to_business": False,
                    "has_main_web_app": False,
                }
            )
        if method == "setwebhook":
            self.webhook = {
                "url": params.get("url", ""),
                "secret_token": params.get("secret_token"),
            }
            return _envelope(True)
        if method == "deletewebhook":
            self.webhook = {"url": "", "secret_token": None}
            return _envelope(True)
        if method == "getwebhookinfo":
            return _envelope(
                {"url": self.webhook["url"], "has_custom_certificate": False,
                 "pending_update_count": 0}
            )  # fmt: skip
        if method == "answercallbackquery":
            return _envelope(True)
        return _envelope(None, 404, "Not Found")

    def _message(self, chat: int, text: str) -> Json:
        self._message_id += 1
        return {
            "message_id": self._message_id,
            "from": self.bot_user,
            "chat": {"id": chat, "first_name": "张三", "type": "private"},
            "date": int(time.time()),
            "text": text,
        }

    async def _webhook(self, request: web.Request) -> web.Response:
        return web.json_response(self.webhook)


def _envelope(result: Any, status: int = 200, description: str = "") -> web.Response:
    body: Json = (
        {"ok": True, "result": result}
        if status == 200
        else {"ok": False, "error_code": status, "description": description}
    )
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


async def _echo(request: web.Request) -> web.Response:
    data = json.loads(await request.read())
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode(), content_type="application/json"
    )


ROLES = {"fake": lambda: _FakeBotApi().app(), "echo": lambda: echo_app(_echo)}
"""The helpers ``python -m bench.telegram ROLE`` serves."""


# ---------------------------------------------------------------- the load generator's side


@contextlib.asynccontextmanager
async def _bots(
    fake_root: str, count: int = 1, database_url: str | None = None
) -> AsyncIterator[list[Bot]]:
    """``count`` × ``python -m bot run``, answering updates by webhook, on one database.

    Args:
        fake_root: The fake Bot API.
        count: How many processes; they start one after the other (the first migrates).
        database_url: The database they share; ``None``: a fresh SQLite file (one process),
            or ``BOT_BENCH_TELEGRAM_DB``.
    """
    async with contextlib.AsyncExitStack() as stack:
        bots = []
        for _ in range(count):
            # Known before the start: the bot registers its webhook at it.
            port = free_port()
            settings = {
                "BOT_TELEGRAM_TOKEN": TOKEN,
                "BOT_TELEGRAM_API_URL": fake_root,
                "BOT_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
            }
            if database_url is not None:
                settings["BOT_DATABASE_URL"] = database_url
            bots.append(await stack.enter_async_context(bot_process("telegram", settings, port)))
        yield bots


class _Updates:
    """Makes updates the way Telegram numbers them: update ids rising, a new user each.

    Each asks the next of the distinct texts, so no text comes twice until they are all sent.
    """

    def __init__(self, questions: list[tuple[str, str]]) -> None:
        self._questions = questions
        self._next = 0

    def batch(self, count: int) -> list[Shot]:
        shots = []
        for _ in range(count):
            n, self._next = self._next, self._next + 1
            user = FIRST_USER + n
            question, answer = self._questions[n % len(self._questions)]
            sender = {"id": user, "is_bot": False, "first_name": "张三", "language_code": "zh-hans"}
            update = {
                "update_id": 100_000 + n,
                "message": {
                    "message_id": 1,
                    "from": sender,
                    "chat": {"id": user, "first_name": "张三", "type": "private"},
                    "date": int(time.time()),
                    "text": question,
                },
            }
            # Serialised up front, so the timed loop only sends bytes (Telegram sends raw UTF-8).
            body = json.dumps(update, ensure_ascii=False).encode()
            shots.append(Shot(user, body, question, answer))
        return shots


@dataclass
class _Drive(Drive[int]):
    """What the workers saw: when each update left, and the answers found in responses."""

    answers: dict[int, float] = field(default_factory=dict)


Target = tuple[str, dict[str, str]]
"""Where to post: the URL and the headers."""


async def _post_all(
    client: aiohttp.ClientSession,
    targets: Sequence[Target],
    shots: Sequence[Shot],
    *,
    echo: bool,
    budget_s: float,
) -> _Drive:
    """Post every shot, each to the next of ``targets`` in turn, as a load balancer would."""
    drive = _Drive()
    turn = itertools.cycle(targets)

    async def post(shot: Shot) -> None:
        url, headers = next(turn)
        drive.posted[shot.chat] = time.monotonic()
        response = await post_message(client, drive, url, shot.body, headers)
        if response is None:
            return
        seen, raw, kind = response
        if echo:
            if raw == shot.body:
                drive.answers[shot.chat] = seen
            else:
                drive.errors["echo differs"] += 1
        elif kind == "application/json":
            _answer_in_response(drive, shot, raw, seen)

    drive.budget_hit = await closed_loop(shots, CONCURRENCY, budget_s, post)
    return drive


def _answer_in_response(drive: _Drive, shot: Shot, raw: bytes, seen: float) -> None:
    """Telegram executes a method call returned as the webhook's response: that is an answer."""
    try:
        call = json.loads(raw)
    except ValueError:
        return
    if not isinstance(call, dict) or str(call.get("method", "")).lower() != "sendmessage":
        return
    if str(call.get("chat_id")) != str(shot.chat):
        return
    if str(call.get("text", "")).startswith(shot.expected):
        drive.answers[shot.chat] = seen
    else:
        drive.errors["wrong answer"] += 1


class _Fake(FakeClient[int]):
    """The generator's handle on the fake Bot API."""

    async def webhook(self, bots: Sequence[Bot]) -> list[Target]:
        """Where and how to post updates to each of ``bots``, as they registered with the fake.

        Each registered its own address; the last one registered is the fake's, and its path
        and secret token are every bot's (the token derives the secret). Posting to each in
        turn is what a load balancer in front of them would do with Telegram's posts.
        """
        async with self.client.get(f"{self.child.root}/bench/webhook") as response:
            hook = await response.json()
        url, secret = str(hook.get("url") or ""), str(hook.get("secret_token") or "")
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the bot registered no loopback webhook (url {url!r})")
        root, path = url.removesuffix(urlsplit(url).path), urlsplit(url).path
        if root != bots[-1].url:
            raise RuntimeError(f"the webhook {url!r} is not the last bot's ({bots[-1].url})")
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
        return [(f"{bot.url}{path}", headers) for bot in bots]


async def _collect(
    fake: _Fake | None, shots: Sequence[Shot], drive: _Drive, drain_s: float
) -> tuple[dict[int, float], Counter[str]]:
    """Wait for the missing answers at the fake; the first right answer per chat, and faults."""
    answers = dict(drive.answers)
    faults: Counter[str] = Counter()
    if fake is not None:
        expected = {shot.chat: shot.expected for shot in shots if shot.chat in drive.posted}
        await collect(fake, expected, answers, drain_s, lambda kind, _: faults.update([kind]))
    return answers, faults


async def _one_run(
    client: aiohttp.ClientSession,
    targets: Sequence[Target],
    servers: Sequence[int],
    fake: _Fake | None,
    batches: tuple[Sequence[Shot], Sequence[Shot]],
    plan: Plan,
    bots: Sequence[Bot] = (),
) -> Sample:
    """Warm up, then time one batch against ``targets`` in turn (the ``servers`` processes).

    With ``bots``, their match cache is read before and after the timed batch.
    """
    warmup, shots = batches
    echo = fake is None
    drive = await _post_all(client, targets, warmup, echo=echo, budget_s=plan.send_budget_s)
    await _collect(fake, warmup, drive, plan.drain_s)
    roots = [bot.url for bot in bots]
    cache = await match_cache(client, roots) if bots else None

    # CPU is read over the posting only: that is when the processes compete for the cores.
    meter = CpuMeter(servers, fake.child.process.pid if fake else None)
    drive = await _post_all(client, targets, shots, echo=echo, budget_s=plan.send_budget_s)
    cpu = meter.read()
    answers, faults = await _collect(fake, shots, drive, plan.drain_s)
    if bots:
        cache = counted_since(cache, await match_cache(client, roots))

    return Sample.of(
        drive,
        answers,
        meter.started,
        cpu,
        drive.errors + faults,
        distinct=len({shot.text for shot in shots if shot.chat in drive.posted}),
        cache=cache,
    )


async def _bot_run(
    client: aiohttp.ClientSession,
    fake: _Fake,
    bots: list[Bot],
    batches: tuple[Sequence[Shot], Sequence[Shot]],
    plan: Plan,
) -> Sample:
    """One run against ``bots``, each taking the next update in turn."""
    targets = await fake.webhook(bots)
    return await _one_run(client, targets, [b.pid for b in bots], fake, batches, plan, bots)


def _complaints(bots: Sequence[Bot], setup: str) -> list[str]:
    notes = []
    for bot in bots:
        if bot.complaints:
            notes.append(
                f"{setup}: a bot logged {len(bot.complaints)} lines at WARNING or above; "
                f"the first: `{bot.complaints[0][:200]}`"
            )
    return notes


async def _run(plan: Plan) -> Report[Plan, TelegramRow]:
    cancel_on_sigterm()
    texts = everyday_questions(questions())
    updates = _Updates(texts)
    samples: dict[str, list[Sample]] = {key: [] for key, _ in SETUPS}
    names = dict(SETUPS)
    database = "BOT_BENCH_TELEGRAM_DB" if os.environ.get("BOT_BENCH_TELEGRAM_DB") else "SQLite"
    names["one"] = f"{names['one']}, {database}"
    postgres = await postgres_reachable()
    notes: list[str] = []
    commits: list[tuple[int, int]] = []
    async with helpers("bench.telegram", CONCURRENCY) as started:
        client, echo = started.client, started.echo
        fake = _Fake(started.fake, client, int)
        await fake.check_clock()
        for _ in range(plan.repeats):
            # Echo and bots alternate, so a slow patch of the machine hits them alike; the echo
            # is sent the very updates the one-process bot is sent next.
            batches = (updates.batch(plan.warmup), updates.batch(plan.messages))
            echo_target = (f"{echo.root}/telegram", {"Content-Type": "application/json"})
            samples["echo"].append(
                await _one_run(client, [echo_target], [echo.process.pid], None, batches, plan)
            )
            async with _bots(fake.child.root) as bots:
                samples["one"].append(await _bot_run(client, fake, bots, batches, plan))
            notes += _complaints(bots, names["one"])
            if postgres:
                batches = (updates.batch(plan.warmup), updates.batch(plan.messages))
                async with scratch_database() as url:
                    async with _bots(fake.child.root, 2, url) as bots:
                        samples["two"].append(await _bot_run(client, fake, bots, batches, plan))
                    commits.append(await commits_per_update(url))
                notes += _complaints(bots, names["two"])
    for key, setup in names.items():
        errors = sum((s.errors for s in samples[key]), Counter[str]())
        if errors:
            kinds = ", ".join(f"{kind} × {n}" for kind, n in errors.most_common())
            notes.append(f"{setup}: errors over all runs: {kinds}.")
        if any(s.budget_hit for s in samples[key]):
            notes.append(
                f"{setup}: posting stopped at the {plan.send_budget_s:.0f} s budget "
                "before every update was sent."
            )
    rows = [
        TelegramRow.of(names[key], samples[key])
        if samples[key]
        else TelegramRow.not_measured(
            names[key], f"skipped: no PostgreSQL at {_server(POSTGRES_URL)}"
        )
        for key, _ in SETUPS
    ]
    for row in rows:
        notes.extend(cpu_notes(row.setup, row.cpu))
    if commits:
        made, kept = (sum(counts) for counts in zip(*commits, strict=True))
        notes.append(
            f"{names['two']}: {made:,} transactions committed for {kept:,} updates kept "
            f"({made / max(kept, 1):.2f} per update, start-up and the outbox sender's included; "
            "the ORM path commits one or more per update, PostgreSQL's writer one per batch)."
        )
    notes.append(
        f"The updates ask {len(texts):,} distinct texts (the check questions the shipped "
        "knowledge base answers, with everyday openings and endings), each update the next "
        "one, so no bot process is asked a text twice until all were sent. Match-cache hits: "
        "share of the bot's match-cache lookups that hit over the timed batch, from its "
        "`/metrics` (`makerdesk_match_cache_total`); n/a: the bot does not count them."
    )
    return Report(plan, rows, notes)


def _server(url: str) -> str:
    """The host and port of a database URL, without the user."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def run(quick: bool = False) -> Report[Plan, TelegramRow]:
    """Measure the echo and the bots: 5,000 updates, 3 runs each (quick: 500, one run)."""
    return asyncio.run(_run(QUICK if quick else FULL))


def _cells(r: TelegramRow, drain_s: float, *, echo: bool = False) -> tuple[str, ...]:
    if r.skipped is not None:
        return (r.setup, str(CONCURRENCY), r.skipped, *([""] * (len(COLUMNS) - 3)))
    cache = "—" if echo else format_share(r.cache_hits)
    return (
        r.setup, str(CONCURRENCY), f"{r.sent:,}", f"{r.distinct:,}", f"{r.answered:,}",
        f"{r.per_s:,.0f}", f"{r.acks_per_s:,.0f}", format_ms(r.p50_ms, drain_s),
        format_ms(r.p99_ms, drain_s), f"{r.unanswered:,}", f"{r.errors:,}", cache,
        format_cpu(r.cpu.own),
    )  # fmt: skip


def print_table(report: Report[Plan, TelegramRow]) -> None:
    """Print ``report`` as a Markdown table, the targets under it, then the notes."""
    plan = report.plan
    drain = plan.drain_s
    echo, one, two = report.rows

    def verdict(row: TelegramRow, target: float) -> str:
        if row.skipped is not None:
            return f"{row.setup}: {row.skipped}"
        ratio = row.per_s / echo.per_s if echo.per_s else 0.0
        rate_ok = "✓" if row.per_s >= target else "✗"
        return (
            f"{row.setup}: {ratio:.2%} of the echo ({row.per_s:,.0f} / {echo.per_s:,.0f} per s); "
            f"≥ {target:,.0f} answered/s {rate_ok}"
        )

    p99_ok = "✓" if one.p99_ms <= TARGET_P99_MS else "✗"
    share = one.per_s / echo.per_s if echo.per_s else 0.0
    share_ok = "✓" if share >= TARGET_ECHO_SHARE else "✗"
    print_markdown(
        "Telegram webhook: FAQ answers end to end, beside a bare aiohttp echo",
        f"Update posted → answer at the fake Bot API (or in the webhook response); "
        f"{plan.messages:,} updates after {plan.warmup:,} untimed, each a new user asking the "
        f"next of the distinct question texts, median of {plan.repeats} "
        f"run{'s' if plan.repeats > 1 else ''}, echo and bots alternating; "
        f"{CONCURRENCY} connections (to two processes: each update to the next in turn); "
        f"{os.cpu_count()} CPUs shared by server, load generator and fake. Latency “> N”: that "
        f"share of updates was not answered within {plan.drain_s:.0f} s of the last post. "
        "Acks/s: HTTP 200 responses per second.",
        (COLUMNS, "lrrrrrrrrrrrc"),
        [_cells(r, drain, echo=r is echo) for r in report.rows],
        f"{verdict(one, TARGET_RATE)}, ≥ {TARGET_ECHO_SHARE:.0%} of the echo {share_ok}, "
        f"p99 ≤ {TARGET_P99_MS:.0f} ms {p99_ok} ({format_ms(one.p99_ms, drain)} ms). "
        f"{verdict(two, TARGET_TWO_RATE)}.",
        report.notes,
    )


def main() -> None:
    cli("bench.telegram", ROLES, lambda quick: print_table(run(quick)), "fewer updates, one run")


if __name__ == "__main__":
    main()
