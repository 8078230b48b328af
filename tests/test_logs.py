"""Log lines as JSON (``BOT_LOG_FORMAT=json``) carry the request a message is about."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from conftest import run_bot


async def test_json_lines_name_the_request_and_only_while_it_is_handled(tmp_path: Path) -> None:
    with run_bot(tmp_path, log_format="json") as bot:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(bot.url, cookie_jar=jar) as chat:

            async def say(**body: str) -> list[str]:
                async with chat.post("/api/messages", json=body) as response:
                    assert response.status == 200
                    return [m["text"] for m in (await response.json())["messages"]]

            await say(text="/new 想咨询公司注册需要哪些材料")
            opened = "\n".join(await say(choice="space:baodi-eco"))
            number = opened.split("工单已提交：", 1)[1][:9]
            await say(text="/cancel")  # a message about no request: the mark is gone
            await say(choice="req:rate:2099-9999:5")  # someone else's, or no one's

        lines = _lines_until(bot.log, lambda entry: "2099-9999" in entry["message"])
    assert all({"at", "level", "logger", "message"} <= line.keys() for line in lines)
    (opening,) = [line for line in lines if line["message"].startswith(f"request {number} opened")]
    assert opening["request"] == number
    assert opening["at"].endswith("+00:00")
    assert all(line.get("request") in (None, number) for line in lines)
    refusal = next(line for line in lines if "2099-9999" in line["message"])
    assert "request" not in refusal  # no such request: nothing to mark


def _lines_until(log: Path, seen: Any) -> list[dict[str, Any]]:
    """The log's JSON lines, once one satisfies ``seen`` (the process writes as it goes)."""
    for _ in range(100):
        text = log.read_text(encoding="utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        if any(seen(line) for line in lines):
            return lines
        time.sleep(0.1)  # the bot's own process flushes its log; nothing else to wait on
    raise AssertionError(f"not logged:\n{log.read_text(encoding='utf-8')}")
