"""Settings: environment first, then .env; a bad value names its variable."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from bot.app import create_bot
from bot.clock import ManualClock
from bot.server import serve
from bot.settings import SettingsError, load_settings
from tests.support.desk import MONDAY


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [
        "BOT_DATABASE_URL",
        "BOT_HTTP_PORT",
        "BOT_HTTP_HOST",
        "BOT_ROSTER",
        "BOT_TELEGRAM_TOKEN",
        "BOT_ENV_FILE",  # the tests set it empty; here the .env file is read as it ships
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_serve_the_local_web_chat_on_sqlite() -> None:
    settings = load_settings()
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8080
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.telegram_token is None


def test_dotenv_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("BOT_HTTP_PORT=9000\nBOT_HTTP_HOST=0.0.0.0\n", encoding="utf-8")
    monkeypatch.setenv("BOT_HTTP_PORT", "9100")
    settings = load_settings()
    assert settings.http_port == 9100
    assert settings.http_host == "0.0.0.0"


def test_bot_env_file_names_the_file_and_empty_reads_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("BOT_HTTP_PORT=9000\n", encoding="utf-8")
    (tmp_path / "staging.env").write_text("BOT_HTTP_PORT=9200\n", encoding="utf-8")
    monkeypatch.setenv("BOT_ENV_FILE", "staging.env")
    assert load_settings().http_port == 9200
    monkeypatch.setenv("BOT_ENV_FILE", "")
    assert load_settings().http_port == 8080


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOT_HTTP_PORT", "70000"),
        ("BOT_HTTP_PORT", "eighty"),
        ("BOT_DATABASE_URL", "mysql://root@localhost/db"),
        ("BOT_ROSTER", "/no/such/roster.yaml"),
        ("BOT_TELEGRAM_API_URL", "api.telegram.org"),
        ("BOT_LOG_LEVEL", "LOUD"),
        ("BOT_MATCH_CACHE_SIZE", "-1"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


WECOM = {
    "BOT_WECOM_CORP_ID": "ww1436e0e65a779aee",
    "BOT_WECOM_AGENT_ID": "1000002",
    "BOT_WECOM_SECRET": "wecom-secret",
    "BOT_WECOM_TOKEN": "wecom-token",
    "BOT_WECOM_AES_KEY": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
}


def test_wecom_is_configured_all_together_or_not_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings().wecom
    for name, value in WECOM.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.wecom, settings.wecom_agent_id) == (True, 1000002)
    assert settings.wecom_api_url == "https://qyapi.weixin.qq.com"
    monkeypatch.delenv("BOT_WECOM_TOKEN")
    with pytest.raises(SettingsError, match="BOT_WECOM_TOKEN") as refused:
        load_settings()
    assert "BOT_WECOM_SECRET" not in str(refused.value)  # only what is missing is named
    monkeypatch.setenv("BOT_WECOM_TOKEN", "wecom-token")
    monkeypatch.setenv("BOT_WECOM_AES_KEY", "too-short")
    with pytest.raises(SettingsError, match="BOT_WECOM_AES_KEY"):
        load_settings()


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TELEGRAM_TOKEN", "123456:very-secret-token")
    settings = load_settings()
    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings.model_dump())


async def test_port_zero_serves_on_a_port_the_system_picks_and_prints_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], faq_dir: Path
) -> None:
    monkeypatch.setenv("BOT_HTTP_PORT", "0")
    settings = load_settings(knowledge_dir=faq_dir)
    assert settings.http_port == 0
    bot = await create_bot(settings, ManualClock(MONDAY))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(bot, stop))
    printed = ""
    try:
        async with asyncio.timeout(30):
            while "listening on" not in printed:
                await asyncio.sleep(0.01)  # serve() is starting on this loop; let it run
                printed += capsys.readouterr().out
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", printed)
        assert match is not None, printed
        assert int(match[2]) != 0
        async with aiohttp.ClientSession() as client, client.get(f"{match[1]}/healthz") as answer:
            assert answer.status == 200
    finally:
        stop.set()
        await serving
        await bot.close()
