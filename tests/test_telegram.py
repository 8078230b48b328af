"""The Telegram channel end to end: the real bot process against a fake Bot API server.

Every test runs ``python -m bot run`` with ``BOT_TELEGRAM_API_URL`` pointing at
:class:`FakeTelegram` on 127.0.0.1, sends updates the way Telegram would (long polling, or the
webhook) and reads what the bot called.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from conftest import bot_env
from fake_telegram import FakeTelegram
from test_requests import ROSTER

TOKEN = "123456:TEST-token"
GROUP = -1002000000001
OTHER_GROUP = -1002000000002
ENTREPRENEUR = 5001
ZHANG = 2001
STRANGER = 9999
SECRET = "webhook-secret-for-tests"


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, fake: FakeTelegram, **settings: str
) -> AsyncIterator[BotProcess]:
    """``python -m bot run`` on a free port, started and stopped without blocking the loop."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    env = bot_env(
        tmp_path,
        roster=str(roster),
        telegram_token=TOKEN,
        telegram_api_url=fake.root,
        **settings,
    )
    log = tmp_path / f"bot-{uuid.uuid4().hex[:6]}.log"
    with log.open("w") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=sink,
            stdin=asyncio.subprocess.DEVNULL,
        )
    running = BotProcess(process, f"http://127.0.0.1:{env['BOT_HTTP_PORT']}", log)
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(600):
                if process.returncode is not None:
                    raise AssertionError(f"bot exited:\n{running.output()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.get(f"{running.url}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)  # the process is starting; nothing to wait on
            else:
                raise AssertionError(f"bot did not start:\n{running.output()}")
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def texts_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(call.params["text"]) for call in fake.sent(chat_id=chat_id)]


async def sent_to(fake: FakeTelegram, chat_id: int, contains: str) -> dict[str, Any]:
    """Wait for the bot to send ``chat_id`` a message containing ``contains``; return it."""
    call = await fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and str(c.params.get("chat_id")) == str(chat_id)
            and contains in str(c.params.get("text"))
        ),
        timeout=20,
    )
    return call.params


async def open_request(fake: FakeTelegram) -> tuple[str, int]:
    """The entrepreneur opens a request; returns its number and the card's message id."""
    fake.private_message(ENTREPRENEUR, "/new 想咨询公司注册需要哪些材料")
    await sent_to(fake, ENTREPRENEUR, "您在哪个众创空间")
    fake.callback(ENTREPRENEUR, ENTREPRENEUR, 1, "space:baodi-eco")
    confirmation = await sent_to(fake, ENTREPRENEUR, "工单已提交")
    number = str(confirmation["text"]).split("：", 1)[1].split("\n", 1)[0]
    card = await fake.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and str(c.params.get("chat_id")) == str(GROUP)
            and f"工单 {number}" in str(c.params.get("text"))
        ),
        timeout=20,
    )
    return number, int(card.result["message_id"])


async def test_a_question_is_answered_with_its_source(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
        answer = await sent_to(fake, ENTREPRENEUR, "来源：")
        assert "10个工作日" in str(answer["text"])


async def test_english_users_get_english(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(ENTREPRENEUR, "/help", language_code="en")
        await sent_to(fake, ENTREPRENEUR, "/new")
        assert all("您" not in text for text in texts_to(fake, ENTREPRENEUR))


async def test_a_request_goes_to_the_group_and_a_members_reply_comes_back(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        number, card = await open_request(fake)
        confirmation = texts_to(fake, ENTREPRENEUR)[-1]
        assert "答复期限：" in confirmation

        fake.group_message(GROUP, STRANGER, "我来回答", reply_to_message_id=card)
        await sent_to(fake, GROUP, "只有工单")
        fake.group_message(GROUP, ZHANG, "请带营业执照原件到服务站", reply_to_message_id=card)
        relayed = await sent_to(fake, ENTREPRENEUR, "服务专员张伟回复")
        assert "请带营业执照原件到服务站" in str(relayed["text"])
        assert not any("我来回答" in text for text in texts_to(fake, ENTREPRENEUR))
        # Chatter in the group that is not for the bot gets no answer.
        before = len(fake.sent(chat_id=GROUP))
        fake.group_message(GROUP, ZHANG, "大家中午吃什么？")
        # Updates are handled in order and the outbox is sent in order: once the answer to a
        # later update is out, anything the chatter had caused would be out too.
        fake.private_message(ENTREPRENEUR, "/tickets")
        await sent_to(fake, ENTREPRENEUR, number)
        assert len(fake.sent(chat_id=GROUP)) == before


async def test_the_same_update_twice_makes_one_request(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.callback(ENTREPRENEUR, ENTREPRENEUR, 1, "space:baodi-eco")
        await sent_to(fake, ENTREPRENEUR, "已记下")
        update = fake.private_message(ENTREPRENEUR, "/new 场地租金能减免吗")
        await sent_to(fake, ENTREPRENEUR, "工单已提交")
        fake.push_raw(update)
        fake.private_message(ENTREPRENEUR, "/tickets")
        await sent_to(fake, ENTREPRENEUR, "您的工单")
        cards = [t for t in texts_to(fake, GROUP) if t.startswith("🆕 工单")]
        assert len(cards) == 1
        assert sum("工单已提交" in t for t in texts_to(fake, ENTREPRENEUR)) == 1


async def test_a_restart_between_card_and_reply_still_relays(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        async with running_bot(tmp_path, fake):
            _, card = await open_request(fake)
        async with running_bot(tmp_path, fake):
            fake.group_message(GROUP, ZHANG, "材料清单已发您邮箱", reply_to_message_id=card)
            await sent_to(fake, ENTREPRENEUR, "材料清单已发您邮箱")


async def test_the_webhook_refuses_calls_without_the_secret(tmp_path: Path) -> None:
    async with (
        FakeTelegram(token=TOKEN) as fake,
        running_bot(
            tmp_path,
            fake,
            telegram_webhook_url="http://127.0.0.1:1",
            telegram_webhook_secret=SECRET,
        ) as bot,
    ):
        webhook = fake.calls_of("setWebhook")[-1].params
        assert webhook["url"] == "http://127.0.0.1:1/telegram"
        assert webhook["secret_token"] == SECRET
        update = fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{bot.url}/telegram", json=update) as refused:
                assert refused.status == 401
            headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            async with client.post(f"{bot.url}/telegram", json=update, headers=headers) as r:
                assert r.status == 401
            assert fake.sent(chat_id=ENTREPRENEUR) == []
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with client.post(f"{bot.url}/telegram", json=update, headers=headers) as ok:
                assert ok.status == 200
            async with client.post(
                f"{bot.url}/telegram", data=b"{not json", headers=headers
            ) as garbage:
                assert garbage.status == 200
        await sent_to(fake, ENTREPRENEUR, "来源：")
        assert SECRET not in bot.output()
        assert TOKEN not in bot.output()


async def test_a_refused_token_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    async with FakeTelegram(token="999:other") as fake:
        env = bot_env(tmp_path, telegram_token=TOKEN, telegram_api_url=fake.root)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 1
        assert "Telegram 拒绝了 BOT_TELEGRAM_TOKEN" in output.decode()
        assert TOKEN not in output.decode()
        assert os.environ.get("BOT_TELEGRAM_TOKEN") is None
