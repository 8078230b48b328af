"""The PDF printer and the HTML report locked down (no local file, no script), a full disk,
and one print at a time.

No entrepreneur's text reaches the report today (audit #9), so these tests plant what such
text could one day carry: frames, images, objects and style sheets pointing at files of
``tmp_path`` holding the word SECRET, scripts that write JS-RAN, a refresh to a file. The
printer must show none of it, and the HTML report, opened from disk in a browser that
runs scripts and lets a file page load files, must show none of it either (its CSP).
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.clock import ManualClock
from bot.reports.files import ReportMaker, report_spec
from bot.reports.html import report_html
from bot.reports.pdf import PdfError, PdfPrinter, html_to_pdf
from bot.reports.period import Quarter
from tests.support.databases import tmpfs
from tests.support.desk import MONDAY, ROSTER, bot_for
from tests.support.reports import END_OF_YEAR, a_quarter, chromium, report_of

FIGURES = "本季度共收到工单 5 件，办结 3 件，其中按期办结 2 件（按期率 66.7%）"
"""The first line of the counted quarter's summary (``a_quarter``)."""
SUMMARY_BACKGROUND = "#f3f6f9"
"""Drawn only when the report's own style sheet applies."""


def plant(folder: Path, refresh: bool = True) -> str:
    """HTML that shows files of ``folder`` and runs scripts, wherever a browser lets it."""
    folder.mkdir(exist_ok=True)
    (folder / "frame.txt").write_text("SECRET-FRAME", encoding="utf-8")
    (folder / "object.txt").write_text("SECRET-OBJECT", encoding="utf-8")
    (folder / "image.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">'
        '<text x="0" y="20">SECRET-IMAGE</text></svg>',
        encoding="utf-8",
    )
    (folder / "style.css").write_text('body::after { content: "SECRET-STYLE"; }', "utf-8")
    (folder / "moved.txt").write_text("SECRET-REFRESH", encoding="utf-8")
    url = folder.as_uri()
    planted = [
        f'<iframe src="{url}/frame.txt"></iframe>',
        f'<object data="{url}/object.txt" type="text/plain"></object>',
        f'<img src="{url}/image.svg">',
        f'<embed src="{url}/image.svg" type="image/svg+xml">',
        f'<svg width="300" height="40"><image href="{url}/image.svg" width="300" height="40"/>'
        "</svg>",
        f'<link rel="stylesheet" href="{url}/style.css">',
        f"<style>@import url({url}/style.css);</style>",
        "<script>document.write('JS-RAN')</script>",
        '<img src="data:," onerror="document.body.append(\'JS-RAN\')">',
    ]
    if refresh:
        # No CSP stops a refresh: only the printer's blank page, which may not open a file.
        planted.append(f'<meta http-equiv="refresh" content="0; url={url}/moved.txt">')
    return "\n".join(planted)


def pdf_text(printed: bytes) -> str:
    """The PDF's text, look-alike characters mapped back (NFKC), all whitespace removed."""
    pages = PdfReader(io.BytesIO(printed)).pages
    text = unicodedata.normalize("NFKC", "".join(page.extract_text() for page in pages))
    return "".join(text.split())


def colours(printed: bytes) -> set[str]:
    """The fill colours the PDF paints with."""
    drawing = b"".join(
        page.get_contents().get_data() for page in PdfReader(io.BytesIO(printed)).pages
    ).decode("latin-1")
    return {
        "#{:02x}{:02x}{:02x}".format(*(round(float(c) * 255) for c in rgb.split()))
        for rgb in re.findall(r"([\d.]+ [\d.]+ [\d.]+) rg", drawing)
    }


def squashed(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@pytest.mark.slow
async def test_the_printer_shows_no_local_file_and_runs_no_script(tmp_path: Path) -> None:
    # A page with no CSP of its own: what holds here is the printer.
    page = f"<!doctype html><p>VISIBLE</p>{plant(tmp_path / 'files')}<p>STILL-VISIBLE</p>"
    text = pdf_text(await html_to_pdf(page, chromium()))
    assert "VISIBLE" in text
    assert "STILL-VISIBLE" in text
    assert "SECRET" not in text
    assert "JS-RAN" not in text


@pytest.fixture
async def report_page(request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path) -> str:
    """The HTML report of a counted quarter (``a_quarter``)."""
    async with bot_for(request, tmp_path, faq_dir, ROSTER, ManualClock(MONDAY), "sqlite") as (
        running,
        clock,
    ):
        await a_quarter(running, clock)
        report = await report_of(running, END_OF_YEAR)
        return report_html(report, running.services.roster.current)


@pytest.mark.slow
async def test_the_report_prints_its_figures_and_nothing_planted(
    report_page: str, tmp_path: Path
) -> None:
    planted = report_page.replace("</body>", plant(tmp_path / "files") + "</body>")
    printed = await html_to_pdf(planted, chromium())
    text = pdf_text(printed)
    assert squashed(FIGURES) in text
    assert "SECRET" not in text
    assert "JS-RAN" not in text
    assert SUMMARY_BACKGROUND in colours(printed)


@pytest.mark.slow
async def test_the_html_report_opened_from_disk_loads_no_file_and_runs_no_script(
    report_page: str, tmp_path: Path
) -> None:
    """A supervisor opens the HTML report in a browser: scripts on, file pages may load files.

    What holds is the report's own CSP. (A refresh is not planted: no CSP stops it.)
    """
    planted = report_page.replace("</body>", plant(tmp_path / "files", refresh=False) + "</body>")
    folder = tmp_path / "download"
    folder.mkdir()
    page = folder / "季报-2026Q4-全市.html"
    page.write_text(planted, encoding="utf-8")
    printed = folder / "printed.pdf"
    args = [
        chromium(),
        "--headless",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={printed}",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    browser = await asyncio.create_subprocess_exec(
        *args, page.as_uri(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    assert await asyncio.wait_for(browser.wait(), 120) == 0
    text = pdf_text(printed.read_bytes())
    assert squashed(FIGURES) in text
    assert "SECRET" not in text
    assert "JS-RAN" not in text
    assert SUMMARY_BACKGROUND in colours(printed.read_bytes())


# --- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def full_disk() -> Iterator[Path]:
    """A tiny tmpfs (64 KiB, 8 inodes), to fill up."""
    with tmpfs("64k", inodes=8) as disk:
        yield disk


def fill(disk: Path, *, inodes: bool) -> None:
    """Fill ``disk``'s space; and its inodes too, so that not even a folder can be made."""
    try:
        with (disk / "space").open("wb") as hog:
            while True:
                hog.write(b"\0" * 4096)
                hog.flush()
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    for n in range(100 if inodes else 0):
        try:
            (disk / f"inode-{n}").mkdir()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            return
    assert not inodes, "the tmpfs has more inodes than asked for"


def use_temporary_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch, *, chromium_too: bool = False
) -> None:
    """Make temporary folders (Chromium's profile) in ``folder``; Chromium its own files too.

    Chromium puts a socket in its temporary folder: under a folder deep in ``tmp_path`` its
    path is longer than a socket's may be, and Chromium stops.
    """
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    if chromium_too:
        monkeypatch.setenv("TMPDIR", str(folder))


@pytest.mark.slow
@pytest.mark.parametrize("inodes", [False, True], ids=["no-space", "no-inodes"])
async def test_a_full_disk_still_gives_the_supervisor_a_report(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    faq_dir: Path,
    full_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    inodes: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The PDF when it can be printed; else the HTML, as for a missing Chromium (audit #13)."""
    async with bot_for(request, tmp_path, faq_dir, ROSTER, ManualClock(MONDAY), "sqlite") as (
        running,
        clock,
    ):
        await a_quarter(running, clock)
        fill(full_disk, inodes=inodes)
        use_temporary_folder(full_disk, monkeypatch, chromium_too=True)
        made = await ReportMaker(running.services, chromium()).make(
            report_spec(Quarter(2026, 4), "pdf", None)
        )
    if inodes:
        # Not even Chromium's profile folder can be made: no PDF, so the HTML goes.
        assert made.name == "季报-2026Q4-全市.html"
        assert made.content.startswith(b"<!doctype html>")
        assert "No space left on device" in caplog.text
    elif made.name.endswith(".pdf"):
        # Nothing of the PDF is written to disk; Chromium prints without its profile.
        assert squashed(FIGURES) in pdf_text(made.content)
    else:
        assert made.name == "季报-2026Q4-全市.html"


# --- one print at a time ---------------------------------------------------------------------


@pytest.mark.slow
async def test_one_pdf_is_printed_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each print has a profile folder while Chromium runs: never two at once (audit #15)."""
    folder = tmp_path / "temporary"
    folder.mkdir()
    use_temporary_folder(folder, monkeypatch)
    printer = PdfPrinter(chromium())
    most = 0
    printing = True

    async def watch() -> None:
        nonlocal most
        while printing:
            most = max(most, len(list(folder.glob("makerdesk-pdf-*"))))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        printed = await asyncio.gather(
            *(printer.print(f"<!doctype html><p>PAGE-{n}</p>") for n in range(3))
        )
    finally:
        printing = False
        await watcher
    assert [pdf_text(pdf) for pdf in printed] == ["PAGE-0", "PAGE-1", "PAGE-2"]
    assert most == 1


@pytest.mark.slow
async def test_the_same_page_is_printed_once_a_changed_page_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = PdfPrinter(chromium())
    page = "<!doctype html><p>统计至 2026-12-31 24:00：收到 5 件</p>"
    first = await printer.print(page)
    # From here on no print can succeed: no folder can be made for Chromium's profile.
    use_temporary_folder(tmp_path / "missing", monkeypatch)
    assert await printer.print(page) == first
    with pytest.raises(PdfError, match="No such file or directory"):
        await printer.print(page.replace("5 件", "6 件"))
