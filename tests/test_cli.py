"""`python -m bot ask` answers like the bot, in the JSON shape DESIGN promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from bot.settings import load_settings
from storage.database import MIGRATIONS
from tests.support.cli import Cli, run_cli

KEYS = {"q", "matched", "kind", "language", "faq_id", "score", "answer", "source", "suggestions"}


@pytest.mark.slow
def test_json_answer_shape() -> None:
    result = run_cli("ask", "--json", "服务专员多久给我回复？")  # the command's smoke test
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert set(record) == KEYS
    assert record["q"] == "服务专员多久给我回复？"
    assert record["matched"] is True
    assert isinstance(record["faq_id"], str)
    assert isinstance(record["score"], float)
    assert "10个工作日" in record["answer"]
    assert record["source"].startswith("津科创〔2015〕51号")
    assert record["suggestions"] == []


def test_stdin_mode_one_question_a_line(cli: Cli) -> None:
    result = cli("ask", "--json", stdin="今天天气怎么样\n\n众创空间面积多大\n")
    assert result.returncode == 0, result.stderr
    weather, ambiguous = (json.loads(line) for line in result.stdout.splitlines())
    assert weather["matched"] is False
    assert weather["faq_id"] is None
    assert weather["source"] is None
    assert weather["suggestions"] == []
    assert weather["kind"] == "off-topic"
    assert weather["answer"].startswith("这个我帮不上忙")
    assert (ambiguous["matched"], ambiguous["kind"]) == (False, "suggested")
    assert 1 <= len(ambiguous["suggestions"]) <= 3
    assert set(ambiguous["suggestions"][0]) == {"faq_id", "question", "score"}


def test_plain_output_cites_the_source(cli: Cli) -> None:
    result = cli("ask", "服务小组有几个人")
    assert result.returncode == 0, result.stderr
    assert "来源：津科创〔2015〕51号" in result.stdout


def test_bad_setting_names_the_variable(cli: Cli) -> None:
    result = cli("ask", "hi", BOT_HTTP_PORT="eighty")
    assert result.returncode == 2
    assert "BOT_HTTP_PORT" in result.stderr
    result = cli("ask", "hi", BOT_DATABASE_URL="mysql://x")
    assert result.returncode == 2
    assert "BOT_DATABASE_URL" in result.stderr


@pytest.mark.slow
def test_no_test_reads_a_developers_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    # What a developer following the README may have in the folder the tests run in.
    (tmp_path / ".env").write_text("BOT_DATABASE_URL=mysql://from-a-dotenv\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().database_url.startswith("sqlite+aiosqlite://")  # in process
    due = ("workdays", "due", "2025-03-03T10:00+08:00")
    assert cli(*due).returncode == 0  # a command run in process (in tmp_path)
    result = run_cli(*due, cwd=tmp_path)  # a command run as a process
    assert result.returncode == 0, result.stderr


def test_a_command_that_opens_the_database_says_one_line_about_its_schema_then_none(
    cli: Cli, tmp_path: Path
) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    first = cli("kb", "unanswered", BOT_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert [line.split(" INFO ", 1)[1] for line in first.stderr.splitlines()] == [
        f"storage.database: database schema upgraded from empty to {head}"
    ]
    again = cli("kb", "unanswered", BOT_DATABASE_URL=url)
    assert (again.returncode, again.stderr) == (0, "")
