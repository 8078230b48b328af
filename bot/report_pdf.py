"""Print the HTML report to PDF with headless Chromium, the way a browser prints it on A4."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["PdfError", "find_chromium", "html_to_pdf"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


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

    The page is loaded from a private temporary folder with every host name unresolvable,
    so printing never reaches the network, and Chromium runs with a throwaway profile.

    Raises:
        PdfError: Chromium failed or took longer than ``seconds``.
    """
    with tempfile.TemporaryDirectory(prefix="makerdesk-pdf-") as folder:
        page = Path(folder) / "report.html"
        out = Path(folder) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        args = [
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={Path(folder) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
        ]
        if os.geteuid() == 0:
            # Chromium refuses to sandbox itself as root (containers, CI); the page is our own
            # file with no scripts and no network, which is what makes this acceptable.
            args.append("--no-sandbox")
        process = await asyncio.create_subprocess_exec(
            chromium,
            *args,
            page.as_uri(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(process.communicate(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PdfError(f"Chromium 打印超时（{seconds:.0f} 秒）") from None
        if process.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["无输出"]
            raise PdfError(f"Chromium 打印失败（退出码 {process.returncode}）：{last[0]}")
        return out.read_bytes()
