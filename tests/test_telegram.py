"""The Telegram channel end to end: the real bot process against a fake Bot API server.

Every test runs ``python -m bot run`` with ``BOT_TELEGRAM_API_URL`` pointing at
:class:`FakeTelegram` on 127.0.0.1, sends updates the way Telegram would (long polling, or the
webhook) and reads what the bot called.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from storage import Database
from storage.models import AnsweredQuestion, OutboxMessage, OutboxStatus
from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import bot_env
from tests.support.telegram import (
    ENTREPRENEUR,
    GROUP,
    OTHER_GROUP,
    SECRET,
    STRANGER,
    TOKEN,
    ZHANG,
    open_request,
    running_bot,
    sent_to,
    settled,
    texts_to,
)

pytestmark = pytest.mark.slow  # every test here starts a process


async def test_a_question_is_answered_with_its_source(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
        answer = await sent_to(fake, ENTREPRENEUR, "来源：")
        assert "10个工作日" in str(answer["text"])


async def kept_answers(tmp_path: Path) -> list[AnsweredQuestion]:
    """The answers the bot process kept, read from its database."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        async with database.sessions() as session:
            return list(await session.scalars(select(AnsweredQuestion)))
    finally:
        await database.close()


async def outbox_rows(tmp_path: Path) -> list[OutboxMessage]:
    """The bot process's outbox, read from its database."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        async with database.sessions() as session:
            return list(await session.scalars(select(OutboxMessage)))
    finally:
        await database.close()


async def test_an_answer_carries_thumbs_in_one_row_and_a_press_rates_it(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(ENTREPRENEUR, "服务专员多久给我回复？")
        await sent_to(fake, ENTREPRENEUR, "来源：")
        answer = fake.sent(chat_id=ENTREPRENEUR)[-1]
        keyboard = answer.params["reply_markup"]["inline_keyboard"]
        assert [[b["text"] for b in row] for row in keyboard] == [["👍有帮助", "👎没帮助"]]
        (row,) = await kept_answers(tmp_path)
        up, down = (b["callback_data"] for b in keyboard[0])
        assert (up, down) == (f"rate:{row.id}:up", f"rate:{row.id}:down")
        message_id = int(answer.result["message_id"])
        acknowledged = len(fake.calls_of("answerCallbackQuery"))

        fake.callback(ENTREPRENEUR, ENTREPRENEUR, message_id, down)
        thanks = await sent_to(fake, ENTREPRENEUR, "我们会改进这条回答")
        thanks_id = int(fake.sent(chat_id=ENTREPRENEUR)[-1].result["message_id"])
        offer = thanks["reply_markup"]["inline_keyboard"]
        assert [[(b["text"], b["callback_data"]) for b in r] for r in offer] == [
            [("提交给服务专员", "request:new")]
        ]
        assert [r.rating for r in await kept_answers(tmp_path)] == ["down"]

        # Another user presses the same button (a forwarded message): refused, nothing changes.
        fake.callback(STRANGER, STRANGER, message_id, up)
        await sent_to(fake, STRANGER, "这条回答不是发给您的")
        assert [r.rating for r in await kept_answers(tmp_path)] == ["down"]

        fake.callback(ENTREPRENEUR, ENTREPRENEUR, message_id, up)
        await sent_to(fake, ENTREPRENEUR, "很高兴能帮上忙")
        assert [r.rating for r in await kept_answers(tmp_path)] == ["up"]
        # Every press is answered, so no button is left spinning.
        await fake.wait_until(
            lambda: len(fake.calls_of("answerCallbackQuery")) == acknowledged + 3, timeout=20
        )

        # The commissioner offered after 👎 is the request intake.
        fake.callback(ENTREPRENEUR, ENTREPRENEUR, thanks_id, "request:new")
        await sent_to(fake, ENTREPRENEUR, "属于哪一类")


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
        confirmation = next(t for t in texts_to(fake, ENTREPRENEUR) if "工单已提交" in t)
        assert "答复期限：" in confirmation

        fake.group_message(GROUP, STRANGER, "我来回答", reply_to_message_id=card)
        await sent_to(fake, GROUP, "只有服务小组的成员")
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
        cards = [t for t in texts_to(fake, GROUP) if t.startswith("📋 工单")]
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
            async with client.post(
                f"{bot.url}/telegram", data=b"{not json", headers=headers
            ) as garbage:
                assert garbage.status == 200
        # With the secret, the answer comes back in the webhook's response, as a Bot API call.
        assert await fake.deliver(update, url=f"{bot.url}/telegram") == 200
        answer = await sent_to(fake, ENTREPRENEUR, "来源：")
        assert "10个工作日" in str(answer["text"])
        # Telegram sends the update again when it missed the response: the same one answer.
        assert await fake.deliver(update, url=f"{bot.url}/telegram") == 200
        assert len(texts_to(fake, ENTREPRENEUR)) == 2
        assert texts_to(fake, ENTREPRENEUR)[0] == texts_to(fake, ENTREPRENEUR)[1]
        # With the same 👍/👎, naming the one answer kept.
        first, again = (c.params["reply_markup"] for c in fake.sent(chat_id=ENTREPRENEUR))
        assert first == again
        (kept,) = await kept_answers(tmp_path)
        assert first["inline_keyboard"][0][1]["callback_data"] == f"rate:{kept.id}:down"
        # A request opened through the webhook still reaches the group, by the outbox.
        await fake.deliver(
            fake.private_message(ENTREPRENEUR, "/new 想咨询公司注册需要哪些材料"),
            url=f"{bot.url}/telegram",
        )
        await sent_to(fake, ENTREPRENEUR, "您在哪个众创空间")
        press = fake.callback(ENTREPRENEUR, ENTREPRENEUR, 1, "space:baodi-eco")
        await fake.deliver(press, url=f"{bot.url}/telegram")
        await sent_to(fake, GROUP, "📋 工单")
        # The press's first answer came back in the webhook's response, never through the
        # outbox, so a process that dies after answering cannot send it twice; the response
        # carries one, so the confirmation follows through the outbox.
        await sent_to(fake, ENTREPRENEUR, "工单已提交")
        rows = await outbox_rows(tmp_path)
        (noted,) = [r for r in rows if r.payload["text"].startswith("好的，已记下")]
        (confirmed,) = [r for r in rows if r.payload["text"].startswith("✅ 工单已提交")]
        assert (noted.status, noted.attempts, confirmed.attempts) == (
            OutboxStatus.HANDED_BACK,
            0,
            1,
        )
        # The spinner is stopped by a call of its own.
        acknowledged = await fake.wait_for(lambda c: c.method == "answerCallbackQuery")
        assert acknowledged.params["callback_query_id"] == press["callback_query"]["id"]
        assert len(fake.calls_of("answerCallbackQuery")) == 1
        assert SECRET not in bot.output()
        assert TOKEN not in bot.output()


async def test_a_refused_token_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")  # without one, the demo refusal would come first
    async with FakeTelegram(token="999:other") as fake:
        env = bot_env(
            tmp_path, roster=str(roster), telegram_token=TOKEN, telegram_api_url=fake.root
        )
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


def card_edits(fake: FakeTelegram, card: int) -> list[dict[str, Any]]:
    """The texts and keyboards the card in the duty group was edited to, in order."""
    return [
        c.params
        for c in fake.calls_of("editMessageText")
        if str(c.params.get("chat_id")) == str(GROUP) and c.params.get("message_id") == card
    ]


def labels(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_card_buttons_act_and_the_card_follows_the_status(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        number, card = await open_request(fake)
        posted = next(c.params for c in fake.sent(chat_id=GROUP) if c.result["message_id"] == card)
        assert labels(posted) == ["🙋 认领", "❓ 请补充", "✅ 办结", "↪ 转交"]
        answered = len(fake.calls_of("answerCallbackQuery"))

        fake.callback(STRANGER, GROUP, card, f"act:claim:{number}")
        await sent_to(fake, GROUP, "只有服务小组的成员")
        fake.callback(ZHANG, GROUP, card, f"act:claim:{number}")
        await fake.wait_for(lambda _: bool(card_edits(fake, card)), timeout=20)
        edited = card_edits(fake, card)[-1]
        assert "状态：办理中｜承办：张伟" in edited["text"]
        assert labels(edited) == ["❓ 请补充", "✅ 办结", "↪ 转交"]
        assert len(card_edits(fake, card)) == 1  # the stranger's press changed nothing
        # Every button press is answered, so no client is left with a spinning button.
        await fake.wait_until(
            lambda: len(fake.calls_of("answerCallbackQuery")) == answered + 2, timeout=20
        )

        # "Ask" wants words: the member is asked to reply to the card, and the reply asks.
        fake.callback(ZHANG, GROUP, card, f"act:ask:{number}")
        await sent_to(fake, GROUP, "请直接回复工单")
        fake.group_message(GROUP, ZHANG, "请补充营业执照照片", reply_to_message_id=card)
        asked = await sent_to(fake, ENTREPRENEUR, "需要您补充")
        assert "请补充营业执照照片" in str(asked["text"])
        await fake.wait_until(
            lambda: "状态：待您补充" in card_edits(fake, card)[-1]["text"], timeout=20
        )

        # The entrepreneur's answer appears in the group as a reply to the card.
        fake.private_message(ENTREPRENEUR, "营业执照号 91120000XXXX")
        follow_up = await sent_to(fake, GROUP, "📎 工单")
        assert follow_up["reply_parameters"]["message_id"] == card
        await fake.wait_until(
            lambda: "状态：办理中" in card_edits(fake, card)[-1]["text"], timeout=20
        )


async def test_the_transfer_button_moves_the_card_to_the_other_group(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        number, card = await open_request(fake)
        fake.callback(ZHANG, GROUP, card, f"act:transfer:{number}")
        choice = await sent_to(fake, GROUP, "转交给哪个服务小组")
        assert labels(choice) == ["服务二组"]
        fake.callback(ZHANG, GROUP, card, f"act:transfer:{number}:g2")
        new_card = await sent_to(fake, OTHER_GROUP, f"工单 {number}")
        assert "🙋 认领" in labels(new_card)
        await fake.wait_until(lambda: bool(card_edits(fake, card)), timeout=20)
        old = card_edits(fake, card)[-1]
        assert "已转交给服务二组" in old["text"]
        assert labels(old) == []  # the old group has nothing left to press
        await sent_to(fake, ENTREPRENEUR, "已转给服务二组")


async def test_a_photo_reply_reaches_the_entrepreneur_and_the_member_sees_a_tick(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        _, card = await open_request(fake)
        update = fake.group_message(
            GROUP, ZHANG, "这是申请表样例", reply_to_message_id=card, photo=True
        )
        photo_id = update["message"]["photo"][-1]["file_id"]
        relayed = await fake.wait_for(
            lambda c: c.method == "sendPhoto" and c.params.get("chat_id") == ENTREPRENEUR,
            timeout=20,
        )
        assert relayed.params["photo"] == photo_id  # sent on by file_id, not downloaded
        assert "这是申请表样例" in relayed.params["caption"]
        tick = await sent_to(fake, GROUP, "✓ 已送达")
        assert tick["reply_parameters"]["message_id"] == update["message"]["message_id"]
        assert not any("已完成" in t for t in texts_to(fake, GROUP))  # the ✓ says it once


async def test_a_blocked_entrepreneur_is_reported_under_the_reply_not_retried(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        _, card = await open_request(fake)
        fake.fail_next("sendMessage", chat_id=ENTREPRENEUR, error_code=403)
        update = fake.group_message(GROUP, ZHANG, "请来现场办理", reply_to_message_id=card)
        warning = await sent_to(fake, GROUP, "⚠ 没能送达创业者")
        assert "bot was blocked by the user" in str(warning["text"])
        assert warning["reply_parameters"]["message_id"] == update["message"]["message_id"]
        tries = [
            c
            for c in fake.calls_of("sendMessage")
            if c.params.get("chat_id") == ENTREPRENEUR and "请来现场办理" in c.params["text"]
        ]
        assert len(tries) == 1  # final: tried once, not for a day


async def test_start_offers_the_maker_spaces_and_open_lists_the_groups_work(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TOKEN) as fake, running_bot(tmp_path, fake):
        fake.private_message(ENTREPRENEUR, "/start")
        spaces = await sent_to(fake, ENTREPRENEUR, "您在哪个众创空间")
        assert labels(spaces) == ["节能环保工业园区众创空间", "北大科技园众创空间"]
        number, _ = await open_request(fake)
        offers = len([t for t in texts_to(fake, ENTREPRENEUR) if "您在哪个众创空间" in t])
        fake.private_message(ENTREPRENEUR, "/start")  # the space is known now: just the welcome
        await settled(fake)
        assert len([t for t in texts_to(fake, ENTREPRENEUR) if "您在哪个众创空间" in t]) == offers
        fake.group_message(GROUP, ZHANG, "/open")
        listing = await sent_to(fake, GROUP, "待办工单")
        assert number in str(listing["text"])
        fake.group_message(GROUP, STRANGER, "/open")
        await sent_to(fake, GROUP, "服务专员命令")
