"""Telegram end to end: the real bot process on the test roster with Telegram at the fake Bot
API (:func:`running_bot`), and waiting for what it sends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import BotProcess, serving_async

__all__ = [
    "ENTREPRENEUR",
    "GROUP",
    "OTHER_GROUP",
    "SECRET",
    "STRANGER",
    "TOKEN",
    "ZHANG",
    "open_request",
    "running_bot",
    "sent_to",
    "settled",
    "texts_to",
]

TOKEN = "123456:TEST-token"
GROUP = -1002000000001
OTHER_GROUP = -1002000000002
ENTREPRENEUR = 5001
ZHANG = 2001
STRANGER = 9999
SECRET = "webhook-secret-for-tests"


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, fake: FakeTelegram, **settings: str
) -> AsyncIterator[BotProcess]:
    """``python -m bot run`` on the test roster, with Telegram at ``fake``."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    async with serving_async(
        tmp_path, roster=str(roster), telegram_token=TOKEN, telegram_api_url=fake.root, **settings
    ) as running:
        yield running


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
    await settled(fake)
    return number, int(card.result["message_id"])


async def settled(fake: FakeTelegram) -> None:
    """Wait until the bot has handled and sent everything before now.

    Updates are handled in order and the outbox is sent in order, so once the answer to a
    fresh ``/help`` is out, so is everything before it, with its bookkeeping (a card's id).
    """
    before = len(fake.sent(chat_id=ENTREPRENEUR))
    fake.private_message(ENTREPRENEUR, "/help")
    await fake.wait_until(lambda: len(fake.sent(chat_id=ENTREPRENEUR)) > before, timeout=20)
