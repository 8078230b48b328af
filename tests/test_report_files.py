"""The report as a file: the HTML page's charts against the counted figures, the PDF Chromium
prints of it, and ``/report`` in chat (each file a job of the file maker, sent once made).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from bot.app import Bot
from bot.clock import ManualClock
from bot.delivery import Delivered, DeliveryError
from bot.domain import categories
from bot.file_maker import LEASE, MAX_ATTEMPTS, FileMaker
from bot.messages import Channel, OutgoingMessage, Sender
from bot.reports.files import ReportFile, ReportMaker, parse_spec
from bot.reports.html import CHARTS, report_html
from bot.reports.pdf import PdfError, find_chromium, html_to_pdf
from bot.reports.period import Quarter
from bot.sender import OutboxSender
from storage import made_files
from storage.models import OutboxStatus
from tests.support.cli import Cli
from tests.support.desk import MONDAY, ROSTER, Platform, bot_for, rows, say
from tests.support.fake_telegram import FakeTelegram, Upload
from tests.support.reports import (
    ADMIN,
    END_OF_YEAR,
    MEMBER,
    Q4,
    SUPERVISOR,
    a_quarter,
    bars,
    charts,
    chromium,
    report_of,
)
from tests.support.telegram import TOKEN, ZHANG, running_bot, sent_to, settled


async def test_the_charts_show_the_counted_figures(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    report = await report_of(running, END_OF_YEAR)
    html = report_html(report, running.services.roster.current)
    drawn = charts(html)
    assert list(drawn) == list(CHARTS)

    on_time = bars(drawn[CHARTS[0]], "#2f7d5b")
    expected = {
        name: report.groups[group]
        for group, name in (("g1", "服务一组"), ("g2", "服务二组"))
        if report.groups[group].on_time
    }
    assert [value for value, _ in on_time] == [f.on_time_rate for f in expected.values()]
    for (_, tip), (name, f) in zip(on_time, expected.items(), strict=True):
        assert tip == f"{name}：{f.on_time_rate:.0%}（{len(f.on_time)}/{len(f.resolved)}）"

    by_category = bars(drawn[CHARTS[1]], "#3566a8")
    assert sorted(value for value, _ in by_category) == sorted(
        len(ids) for ids in report.total.categories.values()
    )
    assert sum(value for value, _ in by_category) == len(report.total.received) == 5
    names = {categories.by_id(c).zh for c in report.total.categories}
    assert {tip.split("：")[0] for _, tip in by_category} == names

    weekly = drawn[CHARTS[2]]
    assert sum(v for v, _ in bars(weekly, "#3566a8")) == len(report.total.received)
    assert sum(v for v, _ in bars(weekly, "#2f7d5b")) == len(report.total.resolved) == 3
    # All five arrived in the week of Monday 11-23; the late one was resolved on 12-10.
    assert [tip for _, tip in bars(weekly, "#3566a8")] == ["11/23 起一周收到 5 件"]
    assert ("12/7 起一周办结 1 件") in [tip for _, tip in bars(weekly, "#2f7d5b")]
    assert len(weekly.findall(".//{*}text")) >= 14 + 4  # 14 weeks labelled, legend, axis


@pytest.mark.slow
async def test_the_pdf_prints_on_a4_with_its_charts(bot: tuple[Bot, ManualClock]) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    report = await report_of(running, END_OF_YEAR)
    html = report_html(report, running.services.roster.current)
    printed = await html_to_pdf(html, chromium())
    if os.environ.get("DUMP_REPORT"):
        Path(os.environ["DUMP_REPORT"]).with_suffix(".html").write_text(html, encoding="utf-8")
        Path(os.environ["DUMP_REPORT"]).with_suffix(".pdf").write_bytes(printed)
    pdf = PdfReader(io.BytesIO(printed))

    # The summary and the charts fill the first page, the tables the second.
    assert len(pdf.pages) == 2
    for page in pdf.pages:
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
    # PDF fonts map some characters to look-alikes (工 to the Kangxi radical ⼯): NFKC undoes it.
    first, second = (unicodedata.normalize("NFKC", page.extract_text()) for page in pdf.pages)
    assert "本季度共收到工单 5 件" in first  # in a Chinese font that prints
    assert all(unicodedata.normalize("NFKC", title) in first for title in CHARTS)
    assert "各服务专员" in second
    assert "超期工单(1 件)" in second

    # Each chart is in the PDF as a tagged figure named by its title, and drawn.
    figures = list(_figures(pdf.trailer["/Root"]["/StructTreeRoot"]))
    assert [alt for alt in figures if alt in CHARTS] == list(CHARTS)
    drawing = b"".join(page.get_contents().get_data() for page in pdf.pages).decode("latin-1")
    fills = {
        "#{:02x}{:02x}{:02x}".format(*(round(float(c) * 255) for c in rgb.split()))
        for rgb in re.findall(r"([\d.]+ [\d.]+ [\d.]+) rg", drawing)
    }
    assert {"#2f7d5b", "#3566a8"} <= fills  # the bars, in the charts' colours


def _figures(node: Any) -> Iterator[str]:
    node = node.get_object()
    if not isinstance(node, dict):
        return
    if node.get("/S") == "/Figure" and "/Alt" in node:
        yield str(node["/Alt"])
    kids = node.get("/K")
    for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
        yield from _figures(kid)


@pytest.mark.slow
async def test_a_supervisor_gets_the_report_as_a_file_others_are_refused(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await a_quarter(running, clock)
    clock.advance(timedelta(minutes=1))  # the report counts what happened before its moment
    refused = await say(running, MEMBER, "/report")
    assert [m.text for m in refused] == ["抱歉，季报只有督导和管理员可以获取。"]
    assert "用法" in (await say(running, SUPERVISOR, "/report 2026Q5"))[0].text
    assert "还没开始" in (await say(running, SUPERVISOR, "/report 2027Q1"))[0].text

    asked = await say(running, SUPERVISOR, "/report csv")
    assert [m.text for m in asked] == ["好的，正在生成宝坻区的2026Q4季报，稍候以文件发给您。"]
    await say(running, ADMIN, "/report 2026Q4")
    queued = [
        (
            row.chat_id,
            row.status,
            OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload),
        )
        for row in await rows(running)
        if row.payload.get("attachments")
    ]
    assert [
        (chat, status, parse_spec(m.attachments[0].made or "")) for chat, status, m in queued
    ] == [
        ("9101", OutboxStatus.WAITING, (Q4, "csv", "baodi")),
        ("9001", OutboxStatus.WAITING, (Q4, "pdf", None)),
    ]
    assert queued[0][2].text.startswith("📑 2026年第四季度 · 宝坻区")
    metrics = await running.services.metrics.exposition(
        running.database, clock.now(), running.knowledge.match_cache
    )
    assert b'makerdesk_outbox_backlog{channel="telegram",status="waiting"} 2.0' in metrics

    platform = Files()
    sender = OutboxSender(
        running.database, running.clock, {Channel.TELEGRAM: platform}, running.services.roster
    )
    await sender.deliver_due()
    assert platform.files == []  # the sender never makes a file: it waits for the maker

    assert await running.file_maker.make_due() == 2
    while await sender.deliver_due():
        pass
    # Two chats: their messages go side by side, in either order.
    (pdf_name, pdf_body), (csv_name, csv_body) = sorted(platform.files)
    assert csv_name == "季报-2026Q4-宝坻区.csv"
    assert csv_body.startswith("\ufeff季度,层级,名称".encode())
    assert "2026Q4,区,宝坻区,5,3,2," in csv_body.decode("utf-8-sig")
    assert pdf_name == "季报-2026Q4-全市.pdf"
    assert pdf_body.startswith(b"%PDF-")


class Files(Platform):
    """A platform that keeps the files it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, bytes]] = []

    async def deliver(self, message: OutgoingMessage) -> Delivered:
        pending = self.failures.get(message.chat_id)
        if pending:
            raise pending.pop(0)
        for attachment in message.attachments:
            assert attachment.content is not None
            assert attachment.name is not None
            self.files.append((attachment.name, attachment.content))
        return await super().deliver(message)


class Counted:
    """Makes reports with the bot's own maker, counting what it was asked to make."""

    def __init__(self, bot: Bot, broken: int = 0) -> None:
        self._reports = ReportMaker(bot.services)
        self._broken = broken
        self.made: list[str] = []

    async def make(self, spec: str) -> ReportFile:
        self.made.append(spec)
        if self._broken:
            self._broken -= 1
            raise OSError("disk full")
        return await self._reports.make(spec)


def _maker(bot: Bot, source: Counted, woken: list[str] | None = None) -> FileMaker:
    return FileMaker(
        bot.database,
        bot.clock,
        source,
        on_made=None if woken is None else lambda: woken.append("sender"),
    )


async def _status(bot: Bot) -> list[tuple[OutboxStatus, str | None]]:
    return [(row.status, row.last_error) for row in await rows(bot) if row.chat_id == "9001"]


async def test_a_file_is_made_once_however_often_its_message_is_retried(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await say(running, ADMIN, "/report html")
    source, woken = Counted(running), list[str]()
    assert await _maker(running, source, woken).make_due() == 1
    assert woken == ["sender"]

    platform = Files()
    platform.failures["9001"] = [DeliveryError("timed out"), DeliveryError("timed out")]
    sender = OutboxSender(
        running.database, clock, {Channel.TELEGRAM: platform}, running.services.roster
    )
    for _ in range(3):
        await sender.deliver_due()
        clock.advance(timedelta(minutes=1))
    assert [name for name, _ in platform.files] == ["季报-2026Q4-全市.html"]
    assert source.made == ["report:2026Q4:html:"]


async def test_a_file_that_cannot_be_made_is_tried_again_not_lost(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await say(running, ADMIN, "/report html")
    source = Counted(running, broken=1)
    maker = _maker(running, source)
    assert await maker.make_due() == 1
    assert (await _status(running))[-1] == (OutboxStatus.WAITING, None)
    assert await maker.make_due() == 0  # not before its retry is due

    clock.advance(timedelta(seconds=10))
    assert await maker.make_due() == 1
    platform = Files()
    sender = OutboxSender(
        running.database, clock, {Channel.TELEGRAM: platform}, running.services.roster
    )
    await sender.deliver_due()
    assert [name for name, _ in platform.files] == ["季报-2026Q4-全市.html"]
    assert platform.files[0][1].startswith(b"<!doctype html>")
    assert len(source.made) == 2


async def test_a_file_that_never_gets_made_is_said_so_in_plain_words(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await say(running, ADMIN, "/report html")
    maker = _maker(running, Counted(running, broken=MAX_ATTEMPTS))
    for wait in (0, 10, 20, 40, 80):
        clock.advance(timedelta(seconds=wait))
        assert await maker.make_due() == 1
    clock.advance(timedelta(hours=1))
    assert await maker.make_due() == 0

    platform = Files()
    sender = OutboxSender(
        running.database, clock, {Channel.TELEGRAM: platform}, running.services.roster
    )
    while await sender.deliver_due():
        pass
    assert platform.files == []
    assert platform.delivered[-1] == (
        "9001",
        "抱歉，这份文件没能生成：📑 2026年第四季度 · 全市。原因已记录，管理员会查看。"
        "请稍后再试；季报也可以在服务专员控制台（/console）下载。",
    )
    assert (await _status(running))[-2:] == [
        (OutboxStatus.FAILED, "file not made: OSError"),
        (OutboxStatus.SENT, None),
    ]


async def test_a_maker_that_died_mid_file_leaves_it_to_the_next(
    bot: tuple[Bot, ManualClock],
) -> None:
    running, clock = bot
    await say(running, ADMIN, "/report csv")
    sessions = running.database.sessions
    # The first maker takes the job and stalls (or is killed) before storing anything.
    (stalled,) = await made_files.claim_due(sessions, now=clock.now(), lease=LEASE)
    source = Counted(running)
    assert await _maker(running, source).make_due() == 0  # still under the first one's lease

    clock.advance(LEASE)
    (second,) = await made_files.claim_due(sessions, now=clock.now(), lease=LEASE)
    assert second.attempts == 2

    async def store(job: made_files.Job, content: bytes) -> int | None:
        async with running.database.transaction() as session:
            return await made_files.store(
                session, job, name="x.csv", media_type="text/csv", content=content, now=clock.now()
            )

    assert await store(stalled, b"late") is None  # its lease is over: the second maker's now
    message_id = await store(second, b"fresh")
    assert message_id is not None
    assert await store(second, b"again") is None
    async with sessions() as session:
        assert [f.content for f in (await made_files.files_of(session, message_id)).values()] == [
            b"fresh"
        ]


def test_printing_without_chromium_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PdfError, match="apt-get install chromium"):
        find_chromium(str(tmp_path / "no-such-chromium"))


@pytest.mark.slow
async def test_on_telegram_the_report_arrives_as_a_document(tmp_path: Path) -> None:
    chromium()
    quarter = Quarter.of(datetime.now(UTC))  # the bot runs on the real clock
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(9101, "/report")
        await sent_to(fake, 9101, "正在生成宝坻区的")
        sent = await fake.wait_for(lambda c: c.method == "sendDocument", timeout=60)
        assert sent.params["chat_id"] == 9101
        assert sent.params["caption"].startswith(f"📑 {quarter.label} · 宝坻区")
        upload = sent.params["document"]
        assert isinstance(upload, Upload)
        assert upload.filename == f"季报-{quarter}-宝坻区.pdf"
        pdf = PdfReader(io.BytesIO(upload.data))
        figures = list(_figures(pdf.trailer["/Root"]["/StructTreeRoot"]))
        assert [alt for alt in figures if alt in CHARTS] == list(CHARTS)

        fake.private_message(ZHANG, "/report")
        await sent_to(fake, ZHANG, "只有督导和管理员")
        await settled(fake)
        assert len(fake.calls_of("sendDocument")) == 1


@pytest.mark.slow
def test_the_command_writes_html_and_pdf(tmp_path: Path, cli: Cli) -> None:
    environment = {"BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("report", "--quarter", "2026Q4", *args, **environment)

    page = tmp_path / "q4.html"
    assert report("--format", "html", "--out", str(page)).returncode == 0
    assert charts(page.read_text(encoding="utf-8")).keys() == set(CHARTS)
    unprinted = report("--format", "pdf")
    assert (unprinted.returncode, unprinted.stderr.strip()) == (
        2,
        "PDF 请用 --out 指定文件，例如 --out 季报.pdf",
    )
    environment["BOT_CHROMIUM"] = str(tmp_path / "no-chromium")
    missing = report("--format", "pdf", "--out", str(tmp_path / "q4.pdf"))
    assert missing.returncode == 1
    assert "apt-get install chromium" in missing.stderr
    assert not (tmp_path / "q4.pdf").exists()
    del environment["BOT_CHROMIUM"]
    chromium()
    printed = report("--format", "pdf", "--out", str(tmp_path / "q4.pdf"))
    assert printed.returncode == 0, printed.stderr
    assert len(PdfReader(tmp_path / "q4.pdf").pages) == 1  # a quarter with nothing in it


async def test_on_wechat_the_bot_says_where_to_get_the_file(
    request: pytest.FixtureRequest, tmp_path: Path, faq_dir: Path
) -> None:
    roster = ROSTER.replace(
        "{name: 区科委值班, telegram: 9101}", "{name: 区科委值班, telegram: 9101, wechat: o-duty}"
    )
    assert roster != ROSTER
    clock = ManualClock(MONDAY)
    async with bot_for(request, tmp_path, faq_dir, roster, clock, "sqlite") as (running, _):
        (answer,) = await say(running, Sender(Channel.WECHAT, "o-duty"), "/report")
        assert "服务专员控制台（/console）下载" in answer.text
        assert not any(row.payload.get("attachments") for row in await rows(running))
