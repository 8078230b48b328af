"""Demo mode, the demo roster with its pick-anyone console sign-in, never runs where it is unsafe.

Without ``BOT_ROSTER`` the bot starts only on a loopback address with no platform channel, and
says at start-up that it is a demo; anywhere else ``python -m bot run`` stops with a message
that says to set ``BOT_ROSTER``. The demo roster ships inside the package, so an installed
wheel runs the same way from any folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import create_bot, demo_refusals, is_loopback, roster_file
from bot.clock import ManualClock
from bot.domain.roster.load import DEMO_ROSTER
from bot.server import build_application
from bot.settings import load_settings
from tests.support import ROOT
from tests.support.cli import Cli
from tests.support.desk import MONDAY
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import BotProcess, bot_env, clean_env, free_port, run_bot

TELEGRAM_TOKEN = "7012345678:AAHk3Z9xQ-demo-mode-test-token-000000"
START_UP = 60
"""Seconds a process may take to start (or to refuse to)."""


def start_up(tmp_path: Path, *command: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot COMMAND`` without ``BOT_ROSTER``; fails if it is still running."""
    env = bot_env(tmp_path, **settings)
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot", *(command or ("run",))],
            check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=START_UP, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as running:
        raise AssertionError(f"it started instead of refusing:\n{running.stderr!r}") from None


def assert_refused(done: subprocess.CompletedProcess[str], *named: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "BOT_ROSTER" in done.stderr
    assert "管理员" in done.stderr  # why: anyone could sign in as admin
    assert "anyone could sign in as admin" in done.stderr
    for name in named:
        assert name in done.stderr


@pytest.mark.slow
def test_a_public_address_without_a_roster_stops_start_up(tmp_path: Path) -> None:
    done = start_up(tmp_path, http_host="0.0.0.0")
    assert_refused(done, "BOT_HTTP_HOST=0.0.0.0")
    assert not (tmp_path / "bot.db").exists()  # refused before anything was set up


@pytest.mark.slow
async def test_telegram_without_a_roster_stops_start_up_before_calling_telegram(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TELEGRAM_TOKEN) as telegram:
        env = bot_env(tmp_path, telegram_token=TELEGRAM_TOKEN, telegram_api_url=telegram.root)
        # Not subprocess.run: the fake Bot API answers on this test's loop meanwhile.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), START_UP)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("it started instead of refusing") from None
        assert telegram.calls == []
    done = subprocess.CompletedProcess(["run"], process.returncode, out.decode(), err.decode())
    assert_refused(done, "BOT_TELEGRAM_TOKEN")
    assert TELEGRAM_TOKEN not in done.stderr


@pytest.mark.slow
def test_wechat_without_a_roster_stops_start_up(tmp_path: Path) -> None:
    done = start_up(
        tmp_path,
        wechat_token="wechat-token-for-tests",
        wechat_app_id="wx1234567890abcdef",
        wechat_app_secret="app-secret-for-tests",
        wechat_api_url=f"http://127.0.0.1:{free_port()}",
    )
    assert_refused(done, "BOT_WECHAT_TOKEN")
    assert "wechat-token-for-tests" not in done.stderr


@pytest.mark.parametrize("command", [("console", "link", "admin"), ("report",)])
def test_the_tools_use_no_demo_roster_where_the_bot_would_not(
    tmp_path: Path, command: tuple[str, ...], cli: Cli
) -> None:
    settings = bot_env(tmp_path, http_host="0.0.0.0")
    done = cli(*command, **{k: v for k, v in settings.items() if k.startswith("BOT_")})
    assert_refused(done, "BOT_HTTP_HOST=0.0.0.0")
    assert done.stdout == ""  # no link, no report


@pytest.mark.slow
async def test_on_loopback_with_no_channel_the_demo_runs_and_says_so(tmp_path: Path) -> None:
    with run_bot(tmp_path) as bot:
        async with (
            aiohttp.ClientSession(bot.url) as visitor,
            visitor.post("/console/api/demo-signin", json={"web_id": "admin"}) as signed_in,
        ):
            assert signed_in.status == 200
        output = bot.output()
    (warning,) = [line for line in output.splitlines() if "demo mode" in line]
    assert " WARNING " in warning
    assert str(DEMO_ROSTER) in warning
    assert "on this machine only" in warning


async def test_beside_a_platform_channel_the_console_never_opens_demo_sign_in(
    tmp_path: Path, faq_dir: Path
) -> None:
    """However the bot is built (here in-process, past the CLI's refusal), no open sign-in."""
    settings = load_settings(
        knowledge_dir=faq_dir,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        roster=None,
        wechat_token="wechat-token-for-tests",
        wechat_app_id="wx1234567890abcdef",
        wechat_app_secret="app-secret-for-tests",
    )
    bot = await create_bot(settings, ManualClock(MONDAY))
    server = TestServer(build_application(bot), host="127.0.0.1")
    await server.start_server()
    try:
        assert not bot.demo
        async with aiohttp.ClientSession(str(server.make_url(""))) as visitor:
            async with visitor.post("/console/api/demo-signin", json={"web_id": "admin"}) as r:
                assert r.status == 404
            async with visitor.get("/console/api/requests") as board:
                body = await board.json()
                assert board.status == 401
                assert body["demo"] is False
                assert "people" not in body
    finally:
        await server.close()
        await bot.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("10.0.0.1", False),
        ("makerdesk.example.cn", False),
        ("localhost.example.cn", False),
    ],
)
def test_loopback_is_127_0_0_0_8_or_1_or_localhost(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_roster_serves_anywhere_and_the_refusal_lists_every_reason(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    shutil.copy(DEMO_ROSTER, roster)
    public = {
        "http_host": "0.0.0.0",
        "telegram_token": TELEGRAM_TOKEN,
        "wechat_token": "wechat-token-for-tests",
    }
    assert roster_file(load_settings(roster=roster, **public)) == roster
    reasons = demo_refusals(load_settings(roster=None, **public))
    assert len(reasons) == 3
    assert roster_file(load_settings(roster=None)) == DEMO_ROSTER


# --- an installed wheel, run from an empty folder ---------------------------------------------


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of its sources and unpacked (a wheel is a zip)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    for package in ("bot", "handlers", "knowledge", "storage"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(source)],
        check=False, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("makerdesk-*.whl")
    unpacked = work / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked


@contextlib.contextmanager
def installed_bot(site: Path, folder: Path) -> Iterator[tuple[str, Path]]:
    """``python -m bot run`` from the unpacked wheel, in ``folder``, with no setting but a port."""
    env = clean_env()
    env.update(PYTHONPATH=str(site), BOT_HTTP_PORT="0", PYTHONUNBUFFERED="1")
    with BotProcess(env, folder, folder.parent / "installed-bot.log").running() as running:
        yield running.url, running.log


@pytest.mark.slow
async def test_an_installed_wheel_runs_the_demo_from_any_folder(
    unpacked_wheel: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "anywhere"
    folder.mkdir()  # empty: no knowledge/, no roster, no .env
    with installed_bot(unpacked_wheel, folder) as (url, log):
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat:
            async with chat.get("/healthz") as health:
                assert (await health.json())["knowledge"]["entries"] > 0
            async with chat.post("/api/messages", json={"text": "服务专员多久给我回复？"}) as r:
                assert r.status == 200
                answer = "\n".join(m["text"] for m in (await r.json())["messages"])
            assert "10个工作日" in answer
        output = log.read_text(encoding="utf-8")
    # The bot that answered is the wheel's: its demo roster is the one inside the wheel.
    assert f"{unpacked_wheel / 'bot' / 'data' / 'demo_roster.yaml'}" in output
    # Its one new file: the default database, in the folder it was started in.
    assert sorted(p.name for p in folder.iterdir()) == ["makerdesk.db"]
