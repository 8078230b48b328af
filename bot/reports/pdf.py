"""Print the HTML report to PDF with headless Chromium, locked down, as a browser prints on A4.

Chromium is driven over its DevTools pipe (``--remote-debugging-pipe``: two pipes only this
process holds, no port). The page is never a file: it is written into a blank tab, with scripts
disabled for the tab. A blank tab's origin may not load ``file://`` URLs or navigate to them, so
whatever HTML ends up in a report can show no local file, and can run nothing; the report's own
CSP (:mod:`bot.reports.html`) is a second lock. Host names all resolve to nothing, so printing
never reaches the network. The PDF comes back over the pipe: nothing is written to disk but
Chromium's throwaway profile, and a full disk does not stop the PDF.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from collections import OrderedDict
from typing import Any

__all__ = ["PdfError", "PdfPrinter", "find_chromium", "html_to_pdf"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LAUNCH = 'exec 3<&0 4>&1 </dev/null >/dev/null; exec "$@"'
"""Chromium's DevTools pipe is fds 3 and 4: the shell moves the child's stdin and stdout there."""
_LONGEST_REPLY = 256 * 1024 * 1024
"""The PDF comes back as one base64 reply; a report's is a few MB at most."""


class PdfError(Exception):
    """Raised when the PDF cannot be printed; the message says why, in Chinese."""


def find_chromium(configured: str | None = None) -> str:
    """The Chromium to print with: ``configured`` (a path or a command), else one on PATH.

    Raises:
        PdfError: None is installed.
    """
    for name in (configured,) if configured else _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    wanted = configured or "chromium"
    raise PdfError(
        f"打印 PDF 需要 Chromium，找不到 {wanted}。"
        "请安装（Debian/Ubuntu：apt-get install chromium fonts-noto-cjk）"
        "或用 BOT_CHROMIUM 指定它的路径；也可以改用 --format html，在浏览器里打印。"
    )


async def html_to_pdf(html: str, chromium: str, seconds: float = 60.0) -> bytes:
    """Print ``html`` to PDF (A4, as its own ``@page`` rule asks), tagged for accessibility.

    Raises:
        PdfError: Chromium failed or took longer than ``seconds``, or the disk refused
            Chromium's profile folder.
    """
    try:
        with tempfile.TemporaryDirectory(
            prefix="makerdesk-pdf-", ignore_cleanup_errors=True
        ) as profile:
            return await _print(html, chromium, profile, seconds)
    except OSError as error:
        # A full disk (ENOSPC), a Chromium that cannot be started, a pipe it closed: the
        # callers' answer to all of them is the HTML report.
        raise PdfError(f"无法打印 PDF：{error.strerror or error}") from error


async def _print(html: str, chromium: str, profile: str, seconds: float) -> bytes:
    args = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--remote-debugging-pipe",
    ]
    if os.geteuid() == 0:
        # Chromium refuses to sandbox itself as root (containers, CI). Run the bot as a user
        # of its own and the sandbox stays on; as root, the locks above are what is left.
        args.append("--no-sandbox")
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        _LAUNCH,
        "chromium",
        chromium,
        *args,
        "about:blank",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=_LONGEST_REPLY,
        # A group of its own, so that a Chromium that failed goes with all its helpers: one
        # left behind would hold the log open, and this print (and every one after) waiting.
        start_new_session=True,
    )
    assert process.stderr is not None
    # Read all along: Chromium would stall once a full pipe buffer of its log went unread.
    log = asyncio.create_task(process.stderr.read())
    devtools = _DevTools(process)
    printed: bytes | None = None
    try:
        async with asyncio.timeout(seconds):
            printed = await devtools.print(html)
    except TimeoutError:
        raise PdfError(f"Chromium 打印超时（{seconds:.0f} 秒）") from None
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass  # Chromium quit or broke off; its log says why
    finally:
        await _end(process, devtools if printed is not None else None)
        try:
            errors = (await asyncio.wait_for(log, 5)).decode("utf-8", "replace").splitlines()
        except TimeoutError:
            errors = []
    if printed is None:
        last = errors[-1] if errors else "无输出"
        raise PdfError(f"Chromium 打印失败（退出码 {process.returncode}）：{last}")
    return printed


async def _end(process: asyncio.subprocess.Process, devtools: _DevTools | None) -> None:
    """Close the browser through ``devtools`` (``None``: it failed), or kill its group."""
    if devtools is not None:
        await devtools.close()
        with contextlib.suppress(TimeoutError):
            # Closed, it ends its helpers and quits within a second or two.
            await asyncio.wait_for(process.wait(), 10)
    if process.returncode is None:
        # Not reaped yet, so the group is still Chromium's and no other's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


class _DevTools:
    """One DevTools conversation over Chromium's pipe: JSON messages, each ended by a NUL."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._commands = process.stdin
        self._replies = process.stdout
        self._ids = itertools.count(1)

    async def print(self, html: str) -> bytes:
        """Print ``html`` in a blank tab with scripts off, then close the browser."""
        target = await self._call("Target.createTarget", url="about:blank")
        attached = await self._call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        tab = attached["sessionId"]
        await self._call("Emulation.setScriptExecutionDisabled", tab, value=True)
        frames = await self._call("Page.getFrameTree", tab)
        await self._call(
            "Page.setDocumentContent", tab, frameId=frames["frameTree"]["frame"]["id"], html=html
        )
        printed = await self._call(
            "Page.printToPDF",
            tab,
            printBackground=True,
            preferCSSPageSize=True,
            generateTaggedPDF=True,
        )
        return base64.b64decode(printed["data"])

    async def close(self) -> None:
        """Ask the browser to quit; it may go before it answers, so no answer is awaited."""
        with contextlib.suppress(ConnectionError):
            await self._send(next(self._ids), "Browser.close", None, {})

    async def _call(self, method: str, tab: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command (to ``tab``'s session, else to the browser) and wait for its answer.

        Raises:
            PdfError: Chromium answered with an error.
        """
        number = next(self._ids)
        await self._send(number, method, tab, params)
        while True:
            reply = json.loads((await self._replies.readuntil(b"\0"))[:-1])
            if reply.get("id") != number:
                continue  # an event, which we did not ask for
            if "error" in reply:
                message = reply["error"].get("message", "")
                raise PdfError(f"Chromium 打印失败：{method}：{message}")
            result: dict[str, Any] = reply["result"]
            return result

    async def _send(
        self, number: int, method: str, tab: str | None, params: dict[str, Any]
    ) -> None:
        command: dict[str, Any] = {"id": number, "method": method, "params": params}
        if tab is not None:
            command["sessionId"] = tab
        self._commands.write(json.dumps(command).encode("utf-8") + b"\0")
        await self._commands.drain()


class PdfPrinter:
    """Prints PDFs one at a time, and hands out again the PDF of a page it printed lately.

    A print takes Chromium a second or more of both cores and a few hundred MB; six at once took
    7.5 s each (audit #15). Printing one at a time, each waits its turn instead, and requests
    for the very same page, as when several supervisors open the quarter's link together, get
    one print. The page is the key: any change in the figures or the moment they are counted
    up to is a new page, so a PDF handed out again is never out of date.
    """

    def __init__(self, chromium: str | None = None, *, at_once: int = 1, kept: int = 4) -> None:
        """Print with ``chromium`` (found on PATH when unset); keep the ``kept`` latest PDFs."""
        self._chromium = chromium
        self._turns = asyncio.Semaphore(at_once)
        self._kept = kept
        self._printed: OrderedDict[bytes, bytes] = OrderedDict()

    def can_print(self) -> bool:
        """Whether a PDF can be printed here (Chromium is installed)."""
        try:
            find_chromium(self._chromium)
        except PdfError:
            return False
        return True

    async def print(self, html: str) -> bytes:
        """``html`` as a PDF.

        Raises:
            PdfError: Chromium is missing or failed, or the disk is full.
        """
        page = hashlib.sha256(html.encode("utf-8")).digest()
        pdf = self._printed.get(page)
        if pdf is None:
            async with self._turns:
                # Looked up again once the turn comes: the print waited for may be this page.
                pdf = self._printed.get(page) or await html_to_pdf(
                    html, find_chromium(self._chromium)
                )
        self._printed[page] = pdf
        self._printed.move_to_end(page)
        while len(self._printed) > self._kept:
            self._printed.popitem(last=False)
        return pdf
