"""The bot processes, and the load balancer in front of them.

:class:`Balancer` is the reverse proxy in front and the platform's redelivery behind: each post
goes to the next process in turn; a refused or broken connection, a timeout or a 5xx is tried
again on the next one after a short pause, with the same update id or MsgId. That makes a kill
survivable: a message a dying process took is delivered again, and the dedup key makes the
second handling answer with the first one's reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp

from tests.support.processes import BotProcess

HEALTH_WAIT_S = 60.0
RETRY_FOR_S = 90.0
"""How long a message is posted again (to the next process) before it counts as refused."""
T = TypeVar("T")


class Node:
    """One ``python -m bot run`` process, started again after each kill (on a port of its
    choosing each time: :attr:`url` follows it)."""

    def __init__(self, index: int, env: dict[str, str], folder: Path) -> None:
        self.index = index
        self.url = ""
        self._env = env | {"BOT_HTTP_PORT": "0"}
        self._folder = folder
        self.process: BotProcess | None = None
        self.starts = 0
        self.logs: list[Path] = []

    async def start(self) -> None:
        """Start the process and wait until it answers its health check.

        Raises:
            AssertionError: It exited or did not answer within :data:`HEALTH_WAIT_S`.
        """
        self.starts += 1
        log = self._folder / f"node{self.index}-{self.starts}.log"
        self.logs.append(log)
        self.process = BotProcess(self._env, self._folder, log, start_up=HEALTH_WAIT_S)
        await self.process.start_async()
        self.url = self.process.url

    async def kill(self) -> None:
        """``SIGKILL``: no shutdown, no flush, open transactions and connections cut."""
        assert self.process is not None
        await self.process.kill_async()

    async def stop(self) -> None:
        """``SIGTERM``, as a service manager stops it; ``SIGKILL`` if it does not go."""
        if self.process is not None:
            await self.process.stop_async()

    def complaints(self) -> list[str]:
        """The lines at ERROR or above it logged, in all its lives."""
        found = []
        for log in self.logs:
            text = log.read_text(encoding="utf-8", errors="replace")
            found += [
                line for line in text.splitlines() if " ERROR " in line or "Traceback" in line
            ]
        return found


class Refused(Exception):
    """No process took a message within :data:`RETRY_FOR_S`."""


class Balancer:
    """The reverse proxy in front and the platform's redelivery behind, in one."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = list(nodes)
        self._turn = itertools.count()
        self._down_until = dict.fromkeys(range(len(self._nodes)), 0.0)
        self.retries = 0

    def _next(self) -> Node:
        """The next process in turn, passing over one that failed in the last second (as
        nginx's ``max_fails=1 fail_timeout=1s``) unless every one did."""
        now = time.monotonic()
        for _ in range(len(self._nodes)):
            node = self._nodes[next(self._turn) % len(self._nodes)]
            if self._down_until[node.index] <= now:
                return node
        return node

    async def forward(self, attempt: Callable[[Node], Awaitable[T | None]]) -> T:
        """``attempt`` on the next process, and on the next after a failure, until one answers.

        Raises:
            Refused: Every try failed for :data:`RETRY_FOR_S`.
        """
        deadline = time.monotonic() + RETRY_FOR_S
        for tries in itertools.count(1):
            node = self._next()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                answered = await attempt(node)
                if answered is not None:
                    return answered
            self._down_until[node.index] = time.monotonic() + 1.0
            self.retries += 1
            if time.monotonic() > deadline:
                raise Refused(f"no process took the message in {RETRY_FOR_S:.0f} s")
            await asyncio.sleep(min(0.02 * tries, 0.5))  # the platforms back off too
        raise AssertionError("unreachable")
