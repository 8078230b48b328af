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
on a machine of its own. ``/proc/stat`` also tells what the rest of the machine used meanwhile;
a row disturbed by other work (a test suite running beside it) says so under the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
CHECK_SET = ROOT / "bench" / "data" / "faq_check.jsonl"
SHIPPED_FAQ = ROOT / "knowledge" / "faq"
TOKEN = "123:bench"
CONCURRENCY = 50
TARGET_RATE = 2000.0  # answered updates/s on one process
TARGET_P99_MS = 50.0
HEALTH_WAIT_S = 60.0
POLL_S = 0.05
"""How often the generator asks the fake for new arrivals once the posting is done."""
GENERATOR_BUSY = 0.9
"""Share of a core past which the load generator, one event loop, is the limit, not the server."""
OTHERS_BUSY = 0.2
"""Cores used by processes outside the benchmark past which a row is flagged as disturbed."""
FIRST_USER = 7_000_000_000
"""User ids start here; every update of the benchmark has a user (and chat) of its own."""

Json = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """How much one benchmark does."""

    updates: int
    warmup: int
    repeats: int
    send_budget_s: float
    """Posting stops after this long even if updates are left (they then do not count)."""
    drain_s: float
    """After the last post, how long to wait for the answers still missing."""


FULL = Plan(updates=5000, warmup=100, repeats=3, send_budget_s=20.0, drain_s=10.0)
QUICK = Plan(updates=500, warmup=50, repeats=1, send_budget_s=10.0, drain_s=5.0)


@dataclass(frozen=True)
class Shot:
    """One update to post: its chat, its body, and the text its answer must begin with."""

    chat: int
    body: bytes
    expected: str


@dataclass
class Sample:
    """One timed run of one setup."""

    sent: int
    answered: int
    wall_s: float
    acks_per_s: float
    """HTTP 200 responses per second while posting: how fast the server takes updates in."""
    latencies_ms: list[float]
    """One per update sent; ``inf`` for an update never answered."""
    errors: Counter[str] = field(default_factory=Counter)
    cpu: tuple[float | None, float | None, float | None] = (None, None, None)
    """CPU seconds per wall second while posting: server, load generator, fake Bot API."""
    others_cpu: float | None = None
    """CPU seconds per wall second that the rest of the machine used meanwhile."""
    budget_hit: bool = False

    @property
    def rate(self) -> float:
        return self.answered / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("inf")
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass(frozen=True)
class Row:
    setup: str
    concurrency: int
    updates: int
    answered: int
    per_s: float
    acks_per_s: float
    p50_ms: float
    p99_ms: float
    unanswered: int
    errors: int
    cpu: tuple[float | None, float | None, float | None]
    others_cpu: float | None


@dataclass(frozen=True)
class Report:
    """What :func:`run` measured: one row per setup, and what the table's reader should know."""

    plan: Plan
    rows: list[Row]
    notes: list[str]


# ---------------------------------------------------------------- helper processes (children)


class _FakeBotApi:
    """The few Bot API methods the bot calls, plus the generator's view of what was sent."""

    def __init__(self) -> None:
        self.bot_user: Json = {
            "id": int(TOKEN.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "众创助手",
            "username": "makerdesk_bench_bot",
        }
        self.arrivals: list[tuple[int, float, str]] = []
        self.webhook: Json = {"url": "", "secret_token": None}
        self._message_id = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/bench/arrivals", self._arrivals)
        app.router.add_get("/bench/clock", self._clock)
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

    async def _arrivals(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"arrivals": self.arrivals[since:]})

    async def _clock(self, request: web.Request) -> web.Response:
        return web.json_response({"monotonic": time.monotonic()})

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


def _echo_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/{path:.*}", _echo)
    return app


async def _serve(role: str) -> None:
    """Serve ``role`` on a free loopback port, print it, and stop when stdin closes."""
    app = _FakeBotApi().app() if role == "fake" else _echo_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    try:
        # The parent holds our stdin: end of file means it is done, or gone, so no orphan stays.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- the load generator's side


@dataclass
class _Child:
    process: asyncio.subprocess.Process
    root: str


@contextlib.asynccontextmanager
async def _child(role: str, folder: Path) -> AsyncIterator[_Child]:
    """``python -m bench.telegram ROLE`` in its own process, stopped on the way out."""
    log = folder / f"{role}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.telegram",
            role,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
        )
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
        except TimeoutError:
            line = b""
        if not line.startswith(b"port "):
            raise RuntimeError(f"the {role} did not start:\n{log.read_text(errors='replace')}")
        yield _Child(process, f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        await _stop(process, polite=_close_stdin)


def _close_stdin(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        process.stdin.close()


def _sigterm(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)


async def _stop(
    process: asyncio.subprocess.Process, polite: Callable[[asyncio.subprocess.Process], None]
) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        polite(process)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class _Bot:
    process: asyncio.subprocess.Process
    log: Path
    complaints: list[str] = field(default_factory=list)
    """What it logged (at WARNING or above: its level here), read once it has stopped."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _bot(fake_root: str, client: aiohttp.ClientSession) -> AsyncIterator[_Bot]:
    """``python -m bot run`` on a fresh SQLite file, answering updates by webhook."""
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-telegram-") as tmp:
        port = _free_port()
        # Only our BOT_* values: a variable of the machine must not change the benchmark. The
        # working folder is the temporary one, so no stray .env is read either.
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(
            BOT_DATABASE_URL=os.environ.get("BOT_BENCH_TELEGRAM_DB")
            or f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
            BOT_KNOWLEDGE_DIR=str(SHIPPED_FAQ),
            BOT_HTTP_HOST="127.0.0.1",
            BOT_HTTP_PORT=str(port),
            BOT_TELEGRAM_TOKEN=TOKEN,
            BOT_TELEGRAM_API_URL=fake_root,
            BOT_TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}",
            BOT_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        log = Path(tmp) / "bot.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=tmp,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        bot = _Bot(process, log)
        try:
            await _wait_healthy(bot, f"http://127.0.0.1:{port}/healthz", client)
            yield bot
        finally:
            await _stop(process, polite=_sigterm)
            text = log.read_text(encoding="utf-8", errors="replace")
            bot.complaints = [line for line in text.splitlines() if line.strip()]


async def _wait_healthy(bot: _Bot, url: str, client: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + HEALTH_WAIT_S
    while time.monotonic() < deadline:
        if bot.process.returncode is not None:
            raise RuntimeError(f"the bot exited:\n{bot.log.read_text(errors='replace')}")
        with contextlib.suppress(aiohttp.ClientError):
            async with client.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)  # the bot is importing and migrating; nothing to wait on
    raise RuntimeError(f"the bot did not start:\n{bot.log.read_text(errors='replace')}")


def _questions() -> list[tuple[str, str]]:
    """(question, answer) for every check-set question the shipped base answers outright."""
    # Imported here: the helper processes import this module and need none of it.
    from bot.messages import Language  # noqa: PLC0415
    from handlers.faq import answer_question  # noqa: PLC0415
    from knowledge.service import build  # noqa: PLC0415

    base = build(SHIPPED_FAQ)
    found = []
    for line in CHECK_SET.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        question = json.loads(line)["q"]
        answer = answer_question(base, question, Language.ZH)
        if answer.faq_id is not None:
            found.append((question, answer.text))
    if not found:
        raise RuntimeError(f"no question of {CHECK_SET} is answered by {SHIPPED_FAQ}")
    return found


class _Updates:
    """Makes updates the way Telegram numbers them: update ids rising, a new user each."""

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
            shots.append(Shot(user, body, answer))
        return shots


@dataclass
class _Drive:
    """What the workers saw: when each update left, and the answers found in responses."""

    posted: dict[int, float] = field(default_factory=dict)
    acks: list[float] = field(default_factory=list)
    """When each HTTP 200 response was read."""
    answers: dict[int, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    budget_hit: bool = False


async def _post_all(
    client: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    shots: Sequence[Shot],
    *,
    echo: bool,
    budget_s: float,
) -> _Drive:
    drive = _Drive()
    queue = iter(shots)
    stop_at = time.monotonic() + budget_s

    async def worker() -> None:
        for shot in queue:  # one shared iterator: each update is taken exactly once
            if time.monotonic() > stop_at:
                drive.budget_hit = True
                return
            start = time.monotonic()
            drive.posted[shot.chat] = start
            try:
                async with client.post(url, data=shot.body, headers=headers) as response:
                    raw = await response.read()
                    seen = time.monotonic()
                    status, kind = response.status, response.content_type
            except (aiohttp.ClientError, TimeoutError) as error:
                drive.errors[type(error).__name__] += 1
                continue
            if status != 200:
                drive.errors[f"HTTP {status}"] += 1
                continue
            drive.acks.append(seen)
            if echo:
                if raw == shot.body:
                    drive.answers[shot.chat] = seen
                else:
                    drive.errors["echo differs"] += 1
            elif kind == "application/json":
                _answer_in_response(drive, shot, raw, seen)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
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


class _Fake:
    """The generator's handle on the fake Bot API."""

    def __init__(self, child: _Child, client: aiohttp.ClientSession) -> None:
        self.child = child
        self._client = client
        self._read = 0

    async def check_clock(self) -> None:
        """Latency mixes the fake's clock and ours: make sure they are one clock."""
        before = time.monotonic()
        async with self._client.get(f"{self.child.root}/bench/clock") as response:
            theirs = float((await response.json())["monotonic"])
        after = time.monotonic()
        if not before <= theirs <= after:
            raise RuntimeError(
                f"time.monotonic() differs between processes ({before} ≤ {theirs} ≤ {after} "
                "fails): arrival times cannot be compared with send times on this system"
            )

    async def webhook(self) -> tuple[str, str]:
        async with self._client.get(f"{self.child.root}/bench/webhook") as response:
            hook = await response.json()
        url, secret = str(hook.get("url") or ""), str(hook.get("secret_token") or "")
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the bot registered no loopback webhook (url {url!r})")
        return url, secret

    async def new_arrivals(self) -> list[tuple[int, float, str]]:
        async with self._client.get(
            f"{self.child.root}/bench/arrivals", params={"since": str(self._read)}
        ) as response:
            found = [(int(c), float(t), str(x)) for c, t, x in (await response.json())["arrivals"]]
        self._read += len(found)
        return found


async def _collect(
    fake: _Fake | None, shots: Sequence[Shot], drive: _Drive, drain_s: float
) -> tuple[dict[int, float], Counter[str]]:
    """Wait for the missing answers at the fake; the first right answer per chat, and faults."""
    answers = dict(drive.answers)
    faults: Counter[str] = Counter()
    if fake is None:
        return answers, faults
    expected = {shot.chat: shot.expected for shot in shots if shot.chat in drive.posted}
    deadline = time.monotonic() + drain_s
    while True:
        for chat, arrived, text in await fake.new_arrivals():
            if chat not in expected:
                continue  # a late answer to an earlier batch
            if not text.startswith(expected[chat]):
                faults["wrong answer"] += 1
            elif chat in answers:
                answers[chat] = min(answers[chat], arrived)
                faults["answered twice"] += 1
            else:
                answers[chat] = arrived
        if len(answers) >= len(expected) or time.monotonic() > deadline:
            return answers, faults
        await asyncio.sleep(POLL_S)  # the fake has no push to us; a short poll is cheap


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or ``None`` off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "(name)": state is fields[0], utime [11]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float | None:
    """CPU seconds every process of the machine has spent busy (``/proc/stat``), or ``None``."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _per_second(before: float | None, after: float | None, wall: float) -> float | None:
    return None if before is None or after is None or wall <= 0 else (after - before) / wall


async def _one_run(
    client: aiohttp.ClientSession,
    target: tuple[str, dict[str, str]],
    server_pid: int,
    fake: _Fake | None,
    batches: tuple[Sequence[Shot], Sequence[Shot]],
    plan: Plan,
) -> Sample:
    """Warm up, then time one batch against ``target`` (URL and headers)."""
    url, headers = target
    warmup, shots = batches
    echo = fake is None
    drive = await _post_all(client, url, headers, warmup, echo=echo, budget_s=plan.send_budget_s)
    await _collect(fake, warmup, drive, plan.drain_s)

    # CPU is read over the posting only: that is when the processes compete for the cores.
    pids = (server_pid, fake.child.process.pid if fake else None)
    cpu_before = [_cpu_seconds(p) if p else None for p in pids]
    machine_before = _machine_busy_seconds()
    ours_before = time.process_time()
    opened = time.monotonic()
    drive = await _post_all(client, url, headers, shots, echo=echo, budget_s=plan.send_budget_s)
    posting = time.monotonic() - opened
    cpu_after = [_cpu_seconds(p) if p else None for p in pids]
    machine = _per_second(machine_before, _machine_busy_seconds(), posting)
    ours = time.process_time() - ours_before
    answers, faults = await _collect(fake, shots, drive, plan.drain_s)

    first = min(drive.posted.values(), default=opened)
    last = max(answers.values(), default=first)
    last_ack = max(drive.acks, default=first)
    latencies = [
        (answers[chat] - start) * 1000 if chat in answers else float("inf")
        for chat, start in drive.posted.items()
    ]
    cpu = (
        _per_second(cpu_before[0], cpu_after[0], posting),
        ours / posting if posting > 0 else None,
        _per_second(cpu_before[1], cpu_after[1], posting),
    )
    # Whatever else ran on the machine meanwhile (a test suite, a build) took cores from us.
    others = None if machine is None else machine - sum(c or 0.0 for c in cpu)
    return Sample(
        sent=len(drive.posted),
        answered=len(answers),
        wall_s=last - first,
        acks_per_s=len(drive.acks) / (last_ack - first) if last_ack > first else 0.0,
        latencies_ms=latencies,
        errors=drive.errors + faults,
        cpu=cpu,
        others_cpu=others,
        budget_hit=drive.budget_hit,
    )


def _median_or_none(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _row(setup: str, samples: Sequence[Sample]) -> Row:
    return Row(
        setup=setup,
        concurrency=CONCURRENCY,
        updates=round(statistics.median(s.sent for s in samples)),
        answered=round(statistics.median(s.answered for s in samples)),
        per_s=statistics.median(s.rate for s in samples),
        acks_per_s=statistics.median(s.acks_per_s for s in samples),
        p50_ms=statistics.median(s.percentile(0.50) for s in samples),
        p99_ms=statistics.median(s.percentile(0.99) for s in samples),
        unanswered=round(statistics.median(s.sent - s.answered for s in samples)),
        errors=round(statistics.median(sum(s.errors.values()) for s in samples)),
        cpu=(
            _median_or_none([s.cpu[0] for s in samples]),
            _median_or_none([s.cpu[1] for s in samples]),
            _median_or_none([s.cpu[2] for s in samples]),
        ),
        others_cpu=_median_or_none([s.others_cpu for s in samples]),
    )


async def _run(plan: Plan) -> Report:
    # SIGTERM (a CI timeout, ``kill``) cancels like Ctrl-C does, so the finally blocks still
    # stop the bot and the helpers instead of leaving them running.
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, not main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    updates = _Updates(_questions())
    echo_samples: list[Sample] = []
    bot_samples: list[Sample] = []
    notes: list[str] = []
    timeout = aiohttp.ClientTimeout(total=30)
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-helpers-") as tmp:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONCURRENCY), timeout=timeout
            ) as client,
            _child("fake", Path(tmp)) as fake_child,
            _child("echo", Path(tmp)) as echo,
        ):
            fake = _Fake(fake_child, client)
            await fake.check_clock()
            for _ in range(plan.repeats):
                # Echo and bot alternate, so a slow patch of the machine hits both alike.
                batches = (updates.batch(plan.warmup), updates.batch(plan.updates))
                echo_target = (f"{echo.root}/telegram", {"Content-Type": "application/json"})
                echo_samples.append(
                    await _one_run(client, echo_target, echo.process.pid, None, batches, plan)
                )
                batches = (updates.batch(plan.warmup), updates.batch(plan.updates))
                async with _bot(fake_child.root, client) as bot:
                    url, secret = await fake.webhook()
                    headers = {
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": secret,
                    }
                    bot_samples.append(
                        await _one_run(client, (url, headers), bot.process.pid, fake, batches, plan)
                    )
                complaints = bot.complaints
                if complaints:
                    notes.append(
                        f"The bot logged {len(complaints)} lines at WARNING or above; "
                        f"the first: `{complaints[0][:200]}`"
                    )
    for setup, samples in (("bare aiohttp echo", echo_samples), ("bot webhook", bot_samples)):
        errors = sum((s.errors for s in samples), Counter[str]())
        if errors:
            kinds = ", ".join(f"{kind} × {n}" for kind, n in errors.most_common())
            notes.append(f"{setup}: errors over all runs: {kinds}.")
        if any(s.budget_hit for s in samples):
            notes.append(
                f"{setup}: posting stopped at the {plan.send_budget_s:.0f} s budget "
                "before every update was sent."
            )
    rows = [_row("bare aiohttp echo", echo_samples), _row("bot webhook → FAQ answer", bot_samples)]
    for row in rows:
        generator = row.cpu[1]
        if row.others_cpu is not None and row.others_cpu >= OTHERS_BUSY:
            notes.append(
                f"{row.setup}: other processes on this machine used {row.others_cpu:.2f} cores "
                "while it ran: its figures are lower than on a quiet machine."
            )
        if generator is not None and generator >= GENERATOR_BUSY:
            notes.append(
                f"{row.setup}: the load generator kept {generator:.0%} of a core busy, so this "
                "row is a floor: it measures the generator as much as the server."
            )
    return Report(plan, rows, notes)


def run(quick: bool = False) -> Report:
    """Measure the echo and the bot: 5,000 updates, 3 runs each (quick: 500, one run)."""
    return asyncio.run(_run(QUICK if quick else FULL))


def _ms(value: float, drain_s: float) -> str:
    # An update never answered waited at least the drain time after the last post.
    return f"> {drain_s * 1000:,.0f}" if value == float("inf") else f"{value:,.1f}"


def _cpu(values: tuple[float | None, float | None, float | None]) -> str:
    return " · ".join("—" if v is None else f"{v:.2f}" for v in values)


def print_table(report: Report) -> None:
    plan = report.plan
    print("\n## Telegram webhook: FAQ answers end to end, beside a bare aiohttp echo\n")
    print(
        f"Update posted → answer at the fake Bot API (or in the webhook response); "
        f"{plan.updates:,} updates after {plan.warmup:,} untimed, "
        f"median of {plan.repeats} run{'s' if plan.repeats > 1 else ''}; "
        f"{CONCURRENCY} connections; {os.cpu_count()} CPUs shared by server, load generator "
        f"and fake. Latency “> N”: that share of updates was not answered within "
        f"{plan.drain_s:.0f} s of the last post. Acks/s: HTTP 200 responses per second.\n"
    )
    print(
        "| setup | concurrency | updates | answered | answered/s | acks/s | p50 (ms) "
        "| p99 (ms) | unanswered | errors | CPU server · generator · fake |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    drain = plan.drain_s
    for r in report.rows:
        print(
            f"| {r.setup} | {r.concurrency} | {r.updates:,} | {r.answered:,} | {r.per_s:,.0f} "
            f"| {r.acks_per_s:,.0f} | {_ms(r.p50_ms, drain)} | {_ms(r.p99_ms, drain)} "
            f"| {r.unanswered:,} | {r.errors:,} | {_cpu(r.cpu)} |"
        )
    echo, bot = report.rows
    ratio = bot.per_s / echo.per_s if echo.per_s else 0.0
    rate_ok = "✓" if bot.per_s >= TARGET_RATE else "✗"
    p99_ok = "✓" if bot.p99_ms <= TARGET_P99_MS else "✗"
    print(
        f"\nBot / echo throughput: {ratio:.2%} ({bot.per_s:,.0f} / {echo.per_s:,.0f} per s). "
        f"Targets: ≥ {TARGET_RATE:,.0f} answered/s {rate_ok} ({bot.per_s:,.0f}); "
        f"p99 ≤ {TARGET_P99_MS:.0f} ms {p99_ok} ({_ms(bot.p99_ms, drain)} ms)."
    )
    for note in report.notes:
        print(f"\n{note}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram")
    parser.add_argument(
        "role", nargs="?", choices=("fake", "echo"), help="serve a helper (used by the benchmark)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer updates, one run")
    args = parser.parse_args()
    if args.role:
        asyncio.run(_serve(args.role))
    else:
        print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
