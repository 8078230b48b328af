"""Reload without restart: a faulty knowledge base is refused and the old one keeps serving."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import urlopen

import pytest

from bot.app import create_bot
from bot.messages import Channel, IncomingMessage, Sender
from bot.settings import load_settings
from knowledge.service import KnowledgeService, build
from tests.support.desk import PLATFORMS
from tests.support.knowledge import ENTRY, write_faq
from tests.support.processes import run_bot

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NEW_ENTRY = ENTRY.format(
    id="onsite-days",
    question="服务小组每周来几天？",
    variant="现场办公几天",
    answer="每周不少于1个工作日。",
)


async def test_reload_picks_up_a_new_entry(faq_dir: Path) -> None:
    service = KnowledgeService(build(faq_dir), NOW)
    write_faq(faq_dir, "b.yaml", NEW_ENTRY)
    report = await service.reload(NOW)
    assert report.ok
    assert report.entries == 3
    assert service.current.match("服务小组每周来几天").best.entry.id == "onsite-days"  # type: ignore[union-attr]
    assert service.loaded_at == NOW


async def test_faulty_reload_keeps_serving_the_old_base(faq_dir: Path) -> None:
    service = KnowledgeService(build(faq_dir), NOW)
    old = service.current
    bad = write_faq(
        faq_dir, "b.yaml", "- id: broken\n  question: 有答案吗\n  answer:\n  source: x\n"
    )
    report = await service.reload(datetime(2026, 11, 24, tzinfo=UTC))
    assert not report.ok
    assert [str(f) for f in report.faults] == [f"{bad}:3: 字段“answer”不能为空"]
    assert service.current is old
    assert service.loaded_at == NOW


async def test_reload_command_is_for_admins_only(faq_dir: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text("admins:\n  - {name: 管理员, telegram: 9001}\n", encoding="utf-8")
    settings = load_settings(
        **PLATFORMS,  # the admins write on Telegram: the bot answers only where it serves
        knowledge_dir=faq_dir,
        roster=roster,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    bot = await create_bot(settings)
    try:
        write_faq(faq_dir, "b.yaml", NEW_ENTRY)

        def reload_from(user: str) -> IncomingMessage:
            return IncomingMessage(Sender(Channel.TELEGRAM, user), user, "/reload", f"k{user}", NOW)

        refused = await bot.dispatcher.handle(reload_from("1234"))
        assert refused[0].text == "抱歉，这个操作只有管理员可以使用。"
        assert len(bot.knowledge.current.entries) == 2
        done = await bot.dispatcher.handle(reload_from("9001"))
        assert done[0].text.splitlines() == [
            "知识库已重新加载，共 3 条。",
            "名册已重新加载，共 0 个服务小组。",
            "工作日日历已重新加载。",
        ]
        assert len(bot.knowledge.current.entries) == 3
    finally:
        await bot.close()


@pytest.mark.slow
def test_sighup_reloads_the_running_bot(faq_dir: Path, tmp_path: Path) -> None:
    with run_bot(tmp_path, knowledge_dir=str(faq_dir)) as bot:

        def entries() -> int:
            with urlopen(f"{bot.url}/healthz", timeout=5) as response:
                return int(json.load(response)["knowledge"]["entries"])

        assert entries() == 2
        write_faq(faq_dir, "b.yaml", "- id: broken\n  question: [\n")
        bot.process.send_signal(signal.SIGHUP)
        _wait_for(lambda: "knowledge reload refused" in bot.output())
        assert entries() == 2
        write_faq(faq_dir, "b.yaml", NEW_ENTRY)
        bot.process.send_signal(signal.SIGHUP)
        _wait_for(lambda: entries() == 3)
        # The signals are handled on uvloop's loop, where it is installed (see test_event_loop).
        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        assert f"event loop: {loop}" in bot.output()


async def test_a_roster_typo_is_refused_with_its_line_and_the_old_roster_serves(
    faq_dir: Path, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text("admins:\n  - {name: 管理员, telegram: 9001}\n", encoding="utf-8")
    settings = load_settings(
        **PLATFORMS,  # the admins write on Telegram: the bot answers only where it serves
        knowledge_dir=faq_dir,
        roster=roster,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    bot = await create_bot(settings)
    try:
        old = bot.services.roster.current
        roster.write_text("admins:\n  - {name: 管理员, telegarm: 9001}\n", encoding="utf-8")
        message = IncomingMessage(Sender(Channel.TELEGRAM, "9001"), "9001", "/reload", "k1", NOW)
        done = await bot.dispatcher.handle(message)
        lines = done[0].text.splitlines()
        assert lines[1] == "名册有 1 处问题，仍在使用原来的名册："
        assert lines[2].startswith(f"{roster}:2: ")
        assert "telegarm" in lines[2]
        assert bot.services.roster.current is old
    finally:
        await bot.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)
