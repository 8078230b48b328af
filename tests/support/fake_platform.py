"""What the fake platforms share: serving on 127.0.0.1, running in a thread, waiting for calls.

:class:`~tests.support.fake_telegram.FakeTelegram` and
:class:`~tests.support.fake_wechat.FakeWeChat` each record the calls the bot makes; a test waits
for a call or a condition here, woken whenever the fake records something rather than polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, Self, TypeVar

from aiohttp import web

__all__ = ["OUTBOX_HEADER", "FakePlatform", "outbox_id"]

OUTBOX_HEADER = "X-MakerDesk-Outbox"
"""The header the bot's HTTP clients put on a call that delivers an outbox row (its id)."""

CallT = TypeVar("CallT")


def outbox_id(request: web.Request) -> int | None:
    """The outbox row ``request`` says it delivers (``X-MakerDesk-Outbox``), if it says one."""
    value = request.headers.get(OUTBOX_HEADER, "")
    return int(value) if value.isdigit() else None


class FakePlatform(Generic[CallT]):
    """An HTTP fake of a platform's API that records its calls (:attr:`calls`)."""

    api_name: ClassVar[str]
    """How the platform's API is named in a timeout's message."""
    thread_name: ClassVar[str]
    """The name of the thread :meth:`in_thread` runs the fake on."""

    def __init__(self) -> None:
        self.calls: list[CallT] = []
        self._lock = threading.Lock()  # scripting and builders may run on a test's own thread
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.root = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and set :attr:`root`."""
        raise NotImplementedError

    async def _serve(self, app: web.Application, **runner: Any) -> None:
        """Serve ``app`` on a free port of 127.0.0.1, with ``runner``'s AppRunner options."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None, **runner)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Wake every waiter and shut the server down."""
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[Self]:
        """Run the fake on an event loop in a background thread, for synchronous tests."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self.thread_name, daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        """Wake every waiter (long polls, ``wait_for``); callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._changed.set()
            self._changed = asyncio.Event()
        else:
            loop.call_soon_threadsafe(self._notify)

    async def _wait_change(self, deadline: float) -> bool:
        """Wait for the next change; False once ``deadline`` (loop time) has passed."""
        event = self._changed
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), remaining)
        return True

    async def wait_for(
        self,
        predicate: Callable[[CallT], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' deadline, not a pass-through
        since: int = 0,
    ) -> CallT:
        """The first call from index ``since`` on that satisfies ``predicate``, waiting for it."""
        found: list[CallT] = []

        def match() -> bool:
            with self._lock:
                found.extend(c for c in self.calls[since:] if predicate(c))
            return bool(found)

        try:
            await self.wait_until(match, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no matching {self.api_name} call in {timeout}s; saw {self.calls}"
            ) from None
        return found[0]

    async def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' deadline, not a pass-through
    ) -> None:
        """Wait until ``condition()`` holds, re-checking whenever the fake's state changes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if not await self._wait_change(deadline):
                raise TimeoutError(f"condition not met within {timeout}s")

    def wait_for_sync(
        self, predicate: Callable[[CallT], bool], *, timeout: float = 5.0, since: int = 0
    ) -> CallT:
        """:meth:`wait_for` from a thread other than the fake's (see :meth:`in_thread`)."""
        assert self._loop is not None, "the fake is not running"
        coro = self.wait_for(predicate, timeout=timeout, since=since)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout + 5)
