"""The processes a channel benchmark starts and stops, and the database it may give the bot.

* its helpers: ``python -m bench.<module> ROLE`` serves one aiohttp app (the fake API, or the
  echo) on a free loopback port, prints ``port N`` and stops when its stdin closes (:func:`cli`,
  :func:`serve`, :func:`child`, :func:`helpers`);
* the bot: ``python -m bot run`` as shipped, on a fresh SQLite file, until its health check
  answers (:func:`bot_process`, run by the tests' :class:`~tests.support.processes.BotProcess`);
* a scratch PostgreSQL database (:func:`scratch_database`), if the server is there
  (:func:`postgres_reachable`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.domain.roster.load import DEMO_ROSTER
from tests.support.processes import LISTENING, BotProcess, clean_env

ROOT = Path(__file__).resolve().parent.parent
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


# ---------------------------------------------------------------- processes and the bot


def close_stdin(process: Process) -> None:
    """Ask a helper started by :func:`child` to stop: it stops at the end of its stdin."""
    if process.stdin is not None:
        process.stdin.close()


async def stop(process: Process, polite: Callable[[Process], None]) -> None:
    """Stop ``process`` if it still runs: politely, then by ``SIGKILL`` after a while.

    Args:
        process: The process to stop.
        polite: How to ask it first (:func:`close_stdin`); it then has
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


async def postgres_reachable(server_url: str = POSTGRES_URL) -> bool:
    """Whether the PostgreSQL server at ``server_url`` takes a connection within 3 s."""
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415  # the helpers need none of it

    try:
        connection = await asyncpg.connect(server_url.replace("+asyncpg", ""), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


@contextlib.asynccontextmanager
async def scratch_database(server_url: str = POSTGRES_URL) -> AsyncIterator[str]:
    """A database of its own on the PostgreSQL server at ``server_url``, dropped afterwards."""
    import asyncpg  # noqa: PLC0415  # the helpers need none of it

    name = f"makerdesk_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url.replace("+asyncpg", ""), timeout=3)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def commits_per_update(url: str) -> tuple[int, int]:
    """The transactions committed in the PostgreSQL database ``url`` and the updates it kept.

    Read once the bots have stopped: a server process sends its counts when its session ends.
    The transactions include the migration's, the outbox sender's and the scheduler's; the
    ORM path commits at least one per update, PostgreSQL's writer one per batch.
    """
    import asyncpg  # noqa: PLC0415  # the helpers need none of it

    connection = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=3)
    try:
        commits = await connection.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        updates = await connection.fetchval("SELECT count(*) FROM inbound_keys")
    finally:
        await connection.close()
    return int(commits), int(updates)


@dataclass
class Bot:
    """The bot's process, started by :func:`bot_process`."""

    process: BotProcess
    complaints: list[str] = field(default_factory=list)
    """What it logged (at WARNING or above: its level here), read once it has stopped."""

    @property
    def pid(self) -> int:
        """Its process id, for :class:`~bench.cpu.CpuMeter`."""
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
