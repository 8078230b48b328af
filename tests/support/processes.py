"""The one way tests and benchmarks run the real bot: ``python -m bot run`` in a process.

:class:`BotProcess` starts it on port 0, reads the address it prints (``listening on
http://HOST:PORT``), waits until ``/healthz`` answers, and stops it with ``SIGTERM`` (then
``SIGKILL``). Each step has a blocking form, for plain tests, and an async one that lets the
test's event loop run meanwhile: the fake platforms the bot calls at start-up and shutdown
answer on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

__all__ = [
    "LISTENING",
    "START_UP",
    "STOP_WAIT",
    "BotProcess",
    "bot_env",
    "clean_env",
    "free_port",
    "listening_url",
    "run_bot",
    "serving_async",
]

START_UP = 60.0
"""Seconds a bot process may take to answer ``/healthz`` (a loaded CI machine is slow)."""
STOP_WAIT = 15.0
"""Seconds a bot process may take to exit after ``SIGTERM`` before it is killed."""
POLL = 0.05
"""Seconds between looks at a starting or stopping process: it is another process's doing,
there is nothing to await."""
LISTENING = re.compile(r"^listening on (http://\S+)$", re.MULTILINE)
"""The line ``python -m bot run`` prints on stdout once it listens."""
BOT_RUN = (sys.executable, "-m", "bot", "run")


def clean_env(**variables: str) -> dict[str, str]:
    """The environment of a process a test or benchmark starts.

    The machine's, without its ``BOT_*`` variables and reading no ``.env`` file (a developer's,
    in the folder it runs in), plus ``variables``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return env | {"BOT_ENV_FILE": ""} | variables


def bot_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """:func:`clean_env` for a bot on port 0 with its SQLite file in ``tmp_path``, and
    ``settings`` (``roster="…"`` sets ``BOT_ROSTER``)."""
    env = clean_env(
        BOT_HTTP_PORT="0",
        BOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        PYTHONUNBUFFERED="1",
    )
    return env | {f"BOT_{k.upper()}": v for k, v in settings.items()}


def free_port() -> int:
    """A loopback port nothing listens on now.

    Only for a server that cannot report its own port (a PostgreSQL cluster) or an address
    where nothing should answer: another process may take the port before it is used. The bot
    is given port 0 instead.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening_url(log: Path) -> str | None:
    """The address the bot writing to ``log`` said it listens at, once it has said so."""
    found = LISTENING.search(log.read_text(encoding="utf-8", errors="replace"))
    return found[1] if found else None


class BotProcess:
    """One bot process, its stdout and stderr in ``log``.

    Args:
        env: Its whole environment (see :func:`bot_env`); ``BOT_HTTP_PORT=0`` unless the caller
            needs the port known before the start.
        cwd: The folder it runs in (a ``.env`` there is not read: ``BOT_ENV_FILE`` is empty).
        log: Where its output goes; read by :meth:`output`.
        command: What to run; by default ``python -m bot run``.
        start_up: Seconds it may take to answer ``/healthz``.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
        command: Sequence[str] = BOT_RUN,
        start_up: float = START_UP,
    ) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.command = list(command)
        self.start_up = start_up
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        """``http://HOST:PORT`` once it listens."""

    @property
    def pid(self) -> int:
        """Its process id."""
        assert self.process is not None, "not started"
        return self.process.pid

    def output(self) -> str:
        """What it has written so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    # The steps, shared by the blocking and the async forms: each yields when the caller should
    # wait a moment (time.sleep, or asyncio.sleep to let the loop run) before the next look.

    def _starting(self) -> Iterator[None]:
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + self.start_up
        while not self._healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited while starting:\n{self.output()}")
            if time.monotonic() > deadline:
                self._kill()
                raise AssertionError(f"the bot did not start:\n{self.output()}")
            yield

    def _healthy(self) -> bool:
        self.url = self.url or listening_url(self.log) or ""
        if not self.url:
            return False
        try:
            with urlopen(f"{self.url}/healthz", timeout=5) as answer:
                return bool(answer.status == 200)
        except (URLError, ConnectionError, TimeoutError):
            return False

    def _exiting(self, within: float) -> Iterator[None]:
        assert self.process is not None, "not started"
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not exit within {within} s:\n{self.output()}")
            yield

    def _stopping(self) -> Iterator[None]:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            yield from self._exiting(STOP_WAIT)
        except TimeoutError:
            self._kill()

    def _kill(self) -> None:
        assert self.process is not None, "not started"
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()  # at once: SIGKILL is not refused

    # Blocking.

    def start(self) -> None:
        """Start it and wait until ``/healthz`` answers 200."""
        for _ in self._starting():
            time.sleep(POLL)

    def stop(self) -> None:
        """``SIGTERM``, as a service manager stops it; ``SIGKILL`` after :data:`STOP_WAIT`."""
        for _ in self._stopping():
            time.sleep(POLL)

    # Async: the test's loop runs while the bot starts and stops.

    async def start_async(self) -> None:
        """:meth:`start`, letting the event loop run meanwhile."""
        for _ in self._starting():
            await asyncio.sleep(POLL)

    async def stop_async(self) -> None:
        """:meth:`stop`, letting the event loop run meanwhile."""
        for _ in self._stopping():
            await asyncio.sleep(POLL)

    async def exit_async(self, within: float) -> int:
        """Wait until it exits by itself (after a signal sent it); its exit code.

        Raises:
            TimeoutError: It still runs after ``within`` seconds.
        """
        for _ in self._exiting(within):
            await asyncio.sleep(POLL)
        assert self.process is not None
        return self.process.wait()

    async def kill_async(self) -> None:
        """``SIGKILL``: no shutdown, open transactions and connections cut."""
        self._kill()

    # As context managers: started on the way in, stopped on the way out.

    @contextlib.contextmanager
    def running(self) -> Iterator[BotProcess]:
        """Started; stopped on the way out, whatever happened."""
        try:
            self.start()
            yield self
        finally:
            self.stop()

    @contextlib.asynccontextmanager
    async def running_async(self) -> AsyncIterator[BotProcess]:
        """:meth:`running`, letting the event loop run while it starts and stops."""
        try:
            await self.start_async()
            yield self
        finally:
            await self.stop_async()


def _log_in(folder: Path) -> Path:
    return folder / f"bot-{uuid.uuid4().hex[:6]}.log"


@contextlib.contextmanager
def run_bot(tmp_path: Path, **settings: str) -> Iterator[BotProcess]:
    """The real bot in ``tmp_path`` (its database there too) with ``settings``, healthy."""
    with BotProcess(bot_env(tmp_path, **settings), tmp_path, _log_in(tmp_path)).running() as bot:
        yield bot


@contextlib.asynccontextmanager
async def serving_async(tmp_path: Path, **settings: str) -> AsyncIterator[BotProcess]:
    """:func:`run_bot`, letting the event loop run (the test's fakes answer on it)."""
    bot = BotProcess(bot_env(tmp_path, **settings), tmp_path, _log_in(tmp_path))
    async with bot.running_async():
        yield bot
