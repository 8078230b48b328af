"""A TCP proxy on 127.0.0.1 whose faults a test switches on and off: a stalling network.

It runs on an event loop in a thread of its own, so that a test may drive it from any loop
(or none) while the bot under test talks through it from another process::

    with FaultProxy(5432) as proxy:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/postgres"
        proxy.blackhole()   # every connection, old and new, stops carrying bytes
        proxy.refuse()      # nothing listens: new connections are refused
        proxy.forward()     # back to normal; bytes held in a blackhole flow on

A blackhole is what a dead switch or a frozen database host looks like: connections open and
writes succeed, but nothing comes back. The bytes it holds are delivered when forwarding
resumes, as TCP would once the network heals.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
from typing import Self

__all__ = [
    "FaultProxy",
    "Mode",
]

_CHUNK = 64 * 1024


class Mode(enum.Enum):
    """What the proxy does with connections."""

    FORWARD = "forward"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


class FaultProxy:
    """A proxy from a free port of 127.0.0.1 to ``upstream_port`` on 127.0.0.1."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.mode = Mode.FORWARD
        self.accepted = 0
        """Connections accepted so far."""
        self.held = 0
        """Chunks of bytes a blackhole has held back so far (what the client tried to say)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy")
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def forward(self) -> None:
        """Carry bytes both ways, including those held while in a blackhole."""
        self._call(self._switch(Mode.FORWARD))

    def refuse(self) -> None:
        """A server that went down: open connections break, new ones are refused."""
        self._call(self._switch(Mode.REFUSE))

    def blackhole(self) -> None:
        """Accept connections, but carry no byte on any connection, old or new."""
        self._call(self._switch(Mode.BLACKHOLE))

    def _call(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _switch(self, mode: Mode) -> None:
        assert self._flowing is not None
        if mode is Mode.REFUSE and self._server is not None:
            self._server.close()
            self._server = None
            for writer in list(self._streams):
                writer.transport.abort()
        elif mode is not Mode.REFUSE and self._server is None:
            await self._listen()
        if mode is Mode.BLACKHOLE:
            self._flowing.clear()
        else:
            self._flowing.set()
        self.mode = mode

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._streams):
            writer.transport.abort()
        assert self._flowing is not None
        self._flowing.set()  # held pumps move on, and find their connections gone
        if self._connections:
            await asyncio.wait(self._connections, timeout=5)

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        try:
            server_in, server_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.transport.abort()
            return
        self._streams |= {client_out, server_out}
        try:
            await asyncio.gather(
                self._pump(client_in, server_out, count=True),
                self._pump(server_in, client_out, count=False),
            )
        finally:
            self._streams -= {client_out, server_out}

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool
    ) -> None:
        assert self._flowing is not None
        try:
            while data := await source.read(_CHUNK):
                if not self._flowing.is_set():
                    if count:
                        self.held += 1
                    await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.close()
