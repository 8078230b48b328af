"""What the end-to-end channel benchmarks share: processes, the bot, the machine's load, figures.

``bench.telegram`` and ``bench.wechat`` time the shipped bot behind a fake of the platform's API,
beside a bare aiohttp echo, from a load generator in the benchmark's own process. This module
holds what does not depend on the platform:

* the helper processes: ``python -m bench.<module> ROLE`` serves one aiohttp app (the fake API,
  or the echo) on a free loopback port, prints ``port N`` and stops when its stdin closes
  (:func:`cli`, :func:`serve`, :func:`child`, :func:`helpers`); the fake's arrival log and
  clock, and the generator's handle on them (:class:`FakeApi`, :class:`FakeClient`);
* the bot: ``python -m bot run`` on a fresh SQLite file, its health check, its log
  (:func:`bot_process`); stopping a process politely, then not (:func:`stop`);
* the check-set questions the shipped knowledge base answers (:func:`questions`);
* CPU use read from ``/proc`` over the timed posting: the server's, the generator's, the
  fake's, the rest of the machine's, and the hypervisor's steal time told apart from the
  latter (:class:`CpuMeter`, :func:`cpu_notes`);
* a run and its figures: posting with ``N`` users in a closed loop (:func:`closed_loop`,
  :func:`post_message`), waiting for the answers at the fake (:func:`collect`), a run's
  sample, a setup's row of medians, the report (:class:`Sample`, :class:`Row`,
  :class:`Report`), and the Markdown they are printed as (:func:`print_markdown`,
  :func:`format_ms`, :func:`format_cpu`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import inf
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

import aiohttp
from aiohttp import web

from bot.domain.roster.load import DEMO_ROSTER
from tests.support.processes import LISTENING, BotProcess, clean_env

ROOT = Path(__file__).resolve().parent.parent
CHECK_SET = ROOT / "bench" / "data" / "faq_check.jsonl"
POSTGRES_URL = os.environ.get(
    "BOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
"""The PostgreSQL server the benchmarks make their scratch databases on."""
SHIPPED_FAQ = ROOT / "knowledge" / "faq"
HEALTH_WAIT_S = 60.0
"""How long the bot may take to answer its health check after it was started."""
CHILD_WAIT_S = 30.0
"""How long a helper process may take to print its port."""
STOP_WAIT_S = 15.0
"""How long a process may take to exit once asked politely, before it is killed."""
POLL_S = 0.05
"""How often the generator asks the fake for new arrivals once the posting is done."""
GENERATOR_BUSY = 0.9
"""Share of a core past which the load generator, one event loop, is the limit, not the server."""
OTHERS_BUSY = 0.2
"""Cores taken from the benchmark past which a row is flagged as disturbed: by processes
outside it, or by the hypervisor running other virtual machines (steal time)."""

K = TypeVar("K")
"""What an arrival at a fake API is addressed to: a chat id, an OpenID."""
T = TypeVar("T")
PlanT = TypeVar("PlanT", bound="Plan")
RowT = TypeVar("RowT", bound="Row")
Arrival = tuple[K, float, str]
"""An answer that reached a fake API: to whom, ``time.monotonic()`` at arrival, its text."""
Process = asyncio.subprocess.Process


# ---------------------------------------------------------------- helper processes (children)


async def serve(make_app: Callable[[], web.Application]) -> None:
    """Serve an app on a free loopback port, print ``port N``, and stop when stdin closes.

    This is the body of a helper process: :func:`child` reads the port from its stdout.

    Args:
        make_app: Builds the app to serve (called once, in the helper's event loop).
    """
    runner = web.AppRunner(make_app(), access_log=None)
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


def echo_app(echo: Callable[[web.Request], Awaitable[web.Response]]) -> web.Application:
    """An app that answers every POST, whatever its path, with ``echo``.

    Args:
        echo: Parses the request body and answers it back in the same format.

    Returns:
        The echo app, the floor a server of that format has on this machine.
    """
    app = web.Application()
    app.router.add_post("/{path:.*}", echo)
    return app


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


@dataclass
class Child:
    """A helper process started by :func:`child`, and the URL it serves at."""

    process: Process
    root: str
    """``http://127.0.0.1:<port>``, without a trailing slash."""


@contextlib.asynccontextmanager
async def child(module: str, role: str, folder: Path) -> AsyncIterator[Child]:
    """``python -m MODULE ROLE`` in its own process, stopped on the way out.

    The module's ``main`` must :func:`serve` ``role`` when given it as its argument.

    Args:
        module: The benchmark module, such as ``bench.telegram``.
        role: The helper it serves, such as ``fake`` or ``echo``.
        folder: Where the helper's stderr goes (``ROLE.log``), shown if it does not start.

    Yields:
        The running helper.

    Raises:
        RuntimeError: The helper printed no port within :data:`CHILD_WAIT_S`.
    """
    log = folder / f"{role}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            role,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
        )
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), CHILD_WAIT_S)
        except TimeoutError:
            line = b""
        if not line.startswith(b"port "):
            raise RuntimeError(f"the {role} did not start:\n{log.read_text(errors='replace')}")
        yield Child(process, f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        await stop(process, polite=close_stdin)


@dataclass
class Helpers:
    """What every run of a benchmark uses: the generator's client, the fake API, the echo."""

    client: aiohttp.ClientSession
    fake: Child
    echo: Child


@contextlib.asynccontextmanager
async def helpers(module: str, concurrency: int) -> AsyncIterator[Helpers]:
    """The generator's client session and the ``fake`` and ``echo`` helpers of ``module``.

    Args:
        module: The benchmark module whose helpers to start, such as ``bench.wechat``.
        concurrency: The most connections the client keeps open at once.

    Yields:
        The client and the running helpers, all closed and stopped on the way out.
    """
    timeout = aiohttp.ClientTimeout(total=30)
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-helpers-") as tmp:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout
            ) as client,
            child(module, "fake", Path(tmp)) as fake,
            child(module, "echo", Path(tmp)) as echo,
        ):
            yield Helpers(client, fake, echo)


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


# ---------------------------------------------------------------- processes and the bot


def close_stdin(process: Process) -> None:
    """Ask a helper started by :func:`child` to stop: it stops at the end of its stdin."""
    if process.stdin is not None:
        process.stdin.close()


def sigterm(process: Process) -> None:
    """Ask a process to stop by ``SIGTERM``, as a service manager does."""
    process.send_signal(signal.SIGTERM)


async def stop(process: Process, polite: Callable[[Process], None]) -> None:
    """Stop ``process`` if it still runs: politely, then by ``SIGKILL`` after a while.

    Args:
        process: The process to stop.
        polite: How to ask it first (:func:`close_stdin`, :func:`sigterm`); it then has
            :data:`STOP_WAIT_S` to exit.
    """
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        polite(process)
        try:
            await asyncio.wait_for(process.wait(), STOP_WAIT_S)
        except TimeoutError:
            process.kill()
            await process.wait()


def cancel_on_sigterm() -> None:
    """Make ``SIGTERM`` cancel the current task as Ctrl-C does.

    A CI timeout or a ``kill`` then still runs the ``finally`` blocks that stop the bot and the
    helpers, instead of leaving them running. Does nothing off the main thread or on Windows.
    """
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


@contextlib.asynccontextmanager
async def scratch_database(server_url: str = POSTGRES_URL) -> AsyncIterator[str]:
    """A database of its own on the PostgreSQL server at ``server_url``, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415  # the helpers need none of it

    name = f"makerdesk_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url.replace("+asyncpg", ""), timeout=3)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Bot:
    """The bot's process, started by :func:`bot_process`."""

    process: BotProcess
    complaints: list[str] = field(default_factory=list)
    """What it logged (at WARNING or above: its level here), read once it has stopped."""

    @property
    def pid(self) -> int:
        """Its process id, for :class:`CpuMeter`."""
        return self.process.pid

    @property
    def url(self) -> str:
        """Its root, ``http://127.0.0.1:PORT``."""
        return self.process.url

    @property
    def log(self) -> Path:
        """Where its output goes."""
        return self.process.log


@contextlib.asynccontextmanager
async def bot_process(
    channel: str, settings: Mapping[str, str], port: int = 0
) -> AsyncIterator[Bot]:
    """``python -m bot run`` as shipped, on a fresh SQLite file, until it answers its health check.

    The bot runs in a temporary folder of its own, with the shipped knowledge base, only the
    ``BOT_*`` variables given here (a variable of the machine must not change the benchmark, nor
    a ``.env`` file), and logs at WARNING. It is stopped by ``SIGTERM`` on the way out, and its
    log lines (all but the address it printed) are then in :attr:`Bot.complaints`.

    Args:
        channel: Names the temporary folder, and the variable ``BOT_BENCH_<CHANNEL>_DB`` that
            may name another database (such as an empty PostgreSQL one) instead of the file.
        settings: The channel's ``BOT_*`` variables.
        port: The loopback port the bot serves HTTP at; 0, a free one it reports
            (:attr:`Bot.url`).

    Yields:
        The bot, healthy.
    """
    with tempfile.TemporaryDirectory(prefix=f"makerdesk-bench-{channel}-") as tmp:
        env = clean_env(
            BOT_DATABASE_URL=os.environ.get(f"BOT_BENCH_{channel.upper()}_DB")
            or f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}",
            BOT_KNOWLEDGE_DIR=str(SHIPPED_FAQ),
            # Named, not left unset: beside a platform channel the bot serves no roster by default.
            BOT_ROSTER=str(DEMO_ROSTER),
            BOT_HTTP_HOST="127.0.0.1",
            BOT_HTTP_PORT=str(port),
            BOT_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(settings)
        bot = Bot(BotProcess(env, Path(tmp), Path(tmp) / "bot.log", start_up=HEALTH_WAIT_S))
        try:
            async with bot.process.running_async():
                yield bot
        finally:
            text = bot.process.output()
            lines = (line for line in text.splitlines() if line.strip())
            bot.complaints = [line for line in lines if not LISTENING.fullmatch(line)]


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


# ---------------------------------------------------------------- CPU and the machine's load


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or ``None`` off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "(name)": state is fields[0], utime [11]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> list[int] | None:
    """``/proc/stat``'s first line: the whole machine's CPU time by kind, or ``None``."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    return [int(v) for v in first[1:]]


def machine_busy_seconds() -> float | None:
    """CPU seconds every process of the machine has spent busy (``/proc/stat``), or ``None``.

    Steal time is not in it: the hypervisor ran another virtual machine then, not a process
    here (see :func:`steal_seconds`).
    """
    ticks = _machine_ticks()
    if ticks is None:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def steal_seconds() -> float | None:
    """CPU seconds the hypervisor ran other virtual machines instead of this one, or ``None``."""
    ticks = _machine_ticks()
    if ticks is None or len(ticks) < 8:
        return None
    return ticks[7] / os.sysconf("SC_CLK_TCK")


def per_second(before: float | None, after: float | None, wall: float) -> float | None:
    """What a counter gained per second of ``wall``; ``None`` if either reading is missing."""
    return None if before is None or after is None or wall <= 0 else (after - before) / wall


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per wall second over a timed posting (``None``: unknown, or off Linux)."""

    own: tuple[float | None, float | None, float | None] = (None, None, None)
    """The benchmark's own processes: server, load generator, fake API."""
    others: float | None = None
    """The rest of the machine's processes (a test suite, a build) meanwhile."""
    steal: float | None = None
    """What the hypervisor gave other virtual machines instead of this one meanwhile."""


class CpuMeter:
    """Reads the CPU counters now, and :meth:`read` gives the CPU use since then."""

    def __init__(self, server_pid: int, fake_pid: int | None) -> None:
        """Start measuring.

        Args:
            server_pid: The server's process (the bot, or the echo).
            fake_pid: The fake API's process, ``None`` where no fake takes part.
        """
        self._pids = (server_pid, fake_pid)
        self._cpu = [cpu_seconds(p) if p else None for p in self._pids]
        self._machine = machine_busy_seconds()
        self._steal = steal_seconds()
        self._ours = time.process_time()
        self.started = time.monotonic()
        """When the measure began (``time.monotonic()``)."""

    def read(self) -> CpuUse:
        """The CPU use from the start until now."""
        wall = time.monotonic() - self.started
        cpu_after = [cpu_seconds(p) if p else None for p in self._pids]
        machine = per_second(self._machine, machine_busy_seconds(), wall)
        steal = per_second(self._steal, steal_seconds(), wall)
        ours = time.process_time() - self._ours
        own = (
            per_second(self._cpu[0], cpu_after[0], wall),
            ours / wall if wall > 0 else None,
            per_second(self._cpu[1], cpu_after[1], wall),
        )
        # Whatever else ran on the machine meanwhile (a test suite, a build) took cores from us.
        # Steal is no process here: machine_busy_seconds leaves it out, it is told apart.
        others = None if machine is None else machine - sum(c or 0.0 for c in own)
        return CpuUse(own, others, steal)


def median_cpu(uses: Sequence[CpuUse]) -> CpuUse:
    """Every figure of ``uses``, each the median of those known."""
    return CpuUse(
        own=(
            median_or_none([use.own[0] for use in uses]),
            median_or_none([use.own[1] for use in uses]),
            median_or_none([use.own[2] for use in uses]),
        ),
        others=median_or_none([use.others for use in uses]),
        steal=median_or_none([use.steal for use in uses]),
    )


def cpu_notes(setup: str, cpu: CpuUse) -> list[str]:
    """What the table's reader should know about ``setup``'s row from its CPU use, if anything.

    Args:
        setup: The row's name, which begins every note.
        cpu: The row's CPU use.

    Returns:
        A note each for other processes, steal time past :data:`OTHERS_BUSY`, and a load
        generator past :data:`GENERATOR_BUSY`.
    """
    notes = []
    if cpu.others is not None and cpu.others >= OTHERS_BUSY:
        notes.append(
            f"{setup}: other processes on this machine used {cpu.others:.2f} cores "
            "while it ran: its figures are lower than on a quiet machine."
        )
    if cpu.steal is not None and cpu.steal >= OTHERS_BUSY:
        notes.append(
            f"{setup}: the hypervisor gave {cpu.steal:.2f} cores' worth of this "
            "virtual machine's time to others while it ran (steal time): its figures are "
            "lower than on a machine of its own."
        )
    generator = cpu.own[1]
    if generator is not None and generator >= GENERATOR_BUSY:
        notes.append(
            f"{setup}: the load generator kept {generator:.0%} of a core busy, so this "
            "row is a floor: it measures the generator as much as the server."
        )
    return notes


# ---------------------------------------------------------------- runs, rows and figures


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


@dataclass
class Sample:
    """One timed run of one setup: what every channel benchmark measures of it."""

    sent: int
    answered: int
    wall_s: float
    acks_per_s: float
    """HTTP 200 responses per second while posting: how fast the server takes messages in."""
    latencies_ms: list[float]
    """One per message sent; ``inf`` for a message never answered."""
    errors: Counter[str] = field(default_factory=Counter)
    cpu: CpuUse = field(default_factory=CpuUse)
    """CPU use while posting: server, load generator and fake API; the rest of the machine;
    steal time."""
    budget_hit: bool = False
    """Posting stopped at the plan's budget before every message was sent."""

    @classmethod
    def of(
        cls,
        drive: Drive[K],
        answers: Mapping[K, float],
        started: float,
        cpu: CpuUse,
        errors: Counter[str],
        **extra: Any,
    ) -> Self:
        """The figures of a timed batch, from what its posting saw and the answers found.

        Args:
            drive: The posting.
            answers: When each addressee was answered.
            started: When the posting began, should no message have been posted.
            cpu: The CPU use while posting.
            errors: Every fault of the run.
            **extra: The fields a subclass adds.

        Returns:
            The sample; throughput runs from the first post to the last answer.
        """
        first = min(drive.posted.values(), default=started)
        last = max(answers.values(), default=first)
        last_ack = max(drive.acks, default=first)
        return cls(
            sent=len(drive.posted),
            answered=len(answers),
            wall_s=last - first,
            acks_per_s=len(drive.acks) / (last_ack - first) if last_ack > first else 0.0,
            latencies_ms=[
                (answers[to] - start) * 1000 if to in answers else inf
                for to, start in drive.posted.items()
            ],
            errors=errors,
            cpu=cpu,
            budget_hit=drive.budget_hit,
            **extra,
        )

    @property
    def rate(self) -> float:
        """Answered messages per second, from the first post to the last answer."""
        return self.answered / self.wall_s if self.wall_s > 0 else 0.0

    def percentile(self, share: float) -> float:
        """The latency below which ``share`` of the messages were answered, in ms."""
        return percentile(self.latencies_ms, share)


@dataclass(frozen=True)
class Row:
    """A setup's line of the table: every figure the median over its runs."""

    setup: str
    sent: int
    answered: int
    per_s: float
    acks_per_s: float
    p50_ms: float
    p99_ms: float
    unanswered: int
    errors: int
    cpu: CpuUse

    @classmethod
    def of(cls, setup: str, samples: Sequence[Sample], **extra: Any) -> Self:
        """The row of ``setup``: the medians of ``samples``, and the fields a subclass adds."""
        return cls(
            setup=setup,
            sent=round(statistics.median(s.sent for s in samples)),
            answered=round(statistics.median(s.answered for s in samples)),
            per_s=statistics.median(s.rate for s in samples),
            acks_per_s=statistics.median(s.acks_per_s for s in samples),
            p50_ms=statistics.median(s.percentile(0.50) for s in samples),
            p99_ms=statistics.median(s.percentile(0.99) for s in samples),
            unanswered=round(statistics.median(s.sent - s.answered for s in samples)),
            errors=round(statistics.median(sum(s.errors.values()) for s in samples)),
            cpu=median_cpu([s.cpu for s in samples]),
            **extra,
        )


@dataclass(frozen=True)
class Report(Generic[PlanT, RowT]):
    """What a benchmark measured: one row per setup, and what the table's reader should know."""

    plan: PlanT
    rows: list[RowT]
    notes: list[str]


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); ``inf`` if none."""
    ordered = sorted(values)
    if not ordered:
        return inf
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def median_or_none(values: Sequence[float | None]) -> float | None:
    """The median of the known values, ``None`` if none is known."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def format_ms(value: float, drain_s: float) -> str:
    """A latency in ms for the table; ``inf`` (never answered) as "> the drain time"."""
    # An update never answered waited at least the drain time after the last post.
    return f"> {drain_s * 1000:,.0f}" if value == inf else f"{value:,.1f}"


def format_cpu(values: tuple[float | None, float | None, float | None]) -> str:
    """The CPU column: server · generator · fake, "—" where unknown."""
    return " · ".join("—" if v is None else f"{v:.2f}" for v in values)


_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}


def print_markdown(
    title: str,
    intro: str,
    columns: tuple[Sequence[str], str],
    rows: Iterable[Sequence[str]],
    summary: str,
    notes: Sequence[str],
) -> None:
    """Print a benchmark's section: its title, what it measured, the table, and what to know.

    Args:
        title: The section's heading.
        intro: The paragraph before the table.
        columns: The table's column names, and their alignment: a letter each, ``l``eft,
            ``r``ight or ``c``entre.
        rows: The table's cells, a row at a time, formatted.
        summary: The paragraph after the table (the targets, the verdict).
        notes: A paragraph each, after the summary.
    """
    names, align = columns
    print(f"\n## {title}\n")
    print(f"{intro}\n")
    print("| " + " | ".join(names) + " |")
    print("|" + "|".join(_ALIGN[a] for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{summary}")
    for note in notes:
        print(f"\n{note}")


# ---------------------------------------------------------------- the command line


def cli(
    module: str,
    roles: Mapping[str, Callable[[], web.Application]],
    benchmark: Callable[[bool], None],
    quick_help: str,
) -> None:
    """``python -m MODULE [ROLE] [--quick]``: serve a helper, or run the benchmark.

    Args:
        module: The benchmark module, for the usage line.
        roles: The helpers :func:`child` may ask it to serve, each by the app it serves.
        benchmark: Runs the benchmark and prints its table; given whether ``--quick`` was.
        quick_help: What ``--quick`` does, for ``--help``.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument(
        "role", nargs="?", choices=tuple(roles), help="serve a helper (used by the benchmark)"
    )
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    if args.role:
        asyncio.run(serve(roles[args.role]))
    else:
        benchmark(args.quick)
