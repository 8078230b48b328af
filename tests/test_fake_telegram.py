"""The fake Bot API speaks Telegram's protocol the way python-telegram-bot expects it."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CommandHandler, ContextTypes

from tests.support.fake_telegram import Call, FakeTelegram, Upload

TOKEN = "123456:ABC-fake"
USER = 5_000_001
GROUP = -1_002_000_000_001
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("受理", callback_data="accept:7")]])


def make_bot(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=f"{fake.root}/bot", base_file_url=f"{fake.root}/file/bot")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(fake) as client:  # initialize() calls getMe
        yield client


async def test_get_me_and_the_token_check(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "makerdesk_bot", True)
    assert fake.root.startswith("http://127.0.0.1:")
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]
    with pytest.raises(InvalidToken):
        async with make_bot(fake, token="123456:WRONG"):
            pass
    assert fake.calls[-1].status == 401


async def test_send_message_with_an_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(USER, "您好", reply_markup=KEYBOARD)
    second = await bot.send_message(USER, "第二条")
    other = await bot.send_message(GROUP, "群消息")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.reply_markup == KEYBOARD
    assert first.from_user is not None
    assert first.from_user.id == 123456
    assert (first.chat.type, other.chat.type) == ("private", "supergroup")
    call = fake.sent(USER)[0]
    # PTB posts a form: fields arrive as strings and the fake decodes them by name.
    assert call.params["chat_id"] == USER
    assert call.params["reply_markup"] == KEYBOARD.to_dict()
    assert [c.params["text"] for c in fake.sent()] == ["您好", "第二条", "群消息"]


async def test_edits_follow_telegrams_rules(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "待受理", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("已受理", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, object)
    assert getattr(edited, "text", None) == "已受理"
    assert getattr(edited, "reply_markup", "gone") is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("已受理", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=99)
    marked = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=KEYBOARD)
    assert getattr(marked, "reply_markup", None) == KEYBOARD
    assert fake.messages[USER, sent.message_id]["text"] == "已受理"


async def test_updates_parse_as_ptb_objects(fake: FakeTelegram, bot: Bot) -> None:
    fake.private_message(USER, "/start hello", language_code="en")
    sent = await bot.send_message(GROUP, "请回复")
    fake.group_message(GROUP, USER, "申请材料", reply_to_message_id=sent.message_id, photo=True)
    fake.group_message(GROUP, USER, "", document=True)
    start, photo, document = await bot.get_updates()
    assert start.message is not None
    assert start.message.text == "/start hello"
    assert start.message.parse_entities() == {start.message.entities[0]: "/start"}
    assert start.message.from_user is not None
    assert start.message.from_user.language_code == "en"
    assert photo.message is not None
    assert photo.message.caption == "申请材料"
    assert photo.message.reply_to_message is not None
    assert photo.message.reply_to_message.text == "请回复"
    assert photo.message.photo[-1].width == 1280
    assert document.message is not None
    assert document.message.document is not None
    data = await (await document.message.document.get_file()).download_as_bytearray()
    assert bytes(data).startswith(b"%PDF")


async def test_callback_query_is_answered_once(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "请选择", reply_markup=KEYBOARD)
    fake.callback(USER, USER, sent.message_id, "accept:7")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.data == "accept:7"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("已受理") is True
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await query.answer()


async def test_offset_confirms_and_limit_caps(fake: FakeTelegram, bot: Bot) -> None:
    ids = [fake.private_message(USER, f"m{i}")["update_id"] for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert await bot.get_updates(offset=ids[0]) == ()  # confirmed updates are gone for good
    (info,) = [await bot.get_webhook_info()]
    assert info.pending_update_count == 0


async def test_long_poll_wakes_when_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_until(lambda: fake.polls_waiting == 1)
    started = loop.time()
    pushed = fake.private_message(USER, "在吗")
    (update,) = await asyncio.wait_for(poll, 5)
    assert update.update_id == pushed["update_id"]
    assert loop.time() - started < 5
    assert fake.calls_of("getUpdates")[-1].params["timeout"] == 30


async def test_long_poll_times_out_empty(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.get_updates(timeout=timedelta(seconds=0.2)) == ()


async def test_a_second_poller_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    # One Bot serialises its own getUpdates (pool of one), so the rival is a second process.
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_until(lambda: fake.polls_waiting == 1)
    async with make_bot(fake) as rival:
        second = asyncio.create_task(rival.get_updates(timeout=30))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        await fake.wait_until(lambda: fake.polls_waiting == 1)
        fake.private_message(USER, "hi")
        assert len(await second) == 1


async def test_redelivery_and_allowed_updates(fake: FakeTelegram, bot: Bot) -> None:
    update = fake.private_message(USER, "重复")
    (got,) = await bot.get_updates()
    assert await bot.get_updates(offset=got.update_id + 1) == ()
    fake.push_raw(update)
    (again,) = await bot.get_updates(offset=got.update_id + 1)
    assert again.update_id == got.update_id
    sent = await bot.send_message(USER, "x")
    fake.private_message(USER, "ignored")
    fake.callback(USER, USER, sent.message_id, "d")
    (only,) = await bot.get_updates(allowed_updates=[Update.CALLBACK_QUERY])
    assert only.callback_query is not None


async def test_webhook_blocks_polling(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[dict[str, object], str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((await request.json(), secret))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
        assert (fake.webhook.url, fake.webhook.secret_token) == (url, "s3cret")
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        update = fake.private_message(USER, "webhook")
        assert await fake.deliver(update) == 200
        assert received == [(update, "s3cret")]
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        assert len(await bot.get_updates()) == 1
    finally:
        await runner.cleanup()


async def test_uploads_arrive_as_multipart(fake: FakeTelegram, bot: Bot) -> None:
    doc = await bot.send_document(GROUP, b"col1,col2\n", filename="名单.csv", caption="名单")
    assert doc.document is not None
    assert (doc.document.file_name, doc.caption) == ("名单.csv", "名单")
    (call,) = fake.calls_of("sendDocument")
    upload = call.params["document"]
    assert isinstance(upload, Upload)
    assert (upload.filename, upload.data) == ("名单.csv", b"col1,col2\n")
    assert call.params["chat_id"] == GROUP
    photo = await bot.send_photo(USER, b"\x89PNG fake", caption="现场")
    assert photo.photo[-1].file_size == len(b"\x89PNG fake")
    file = await bot.get_file(doc.document.file_id)
    assert file.file_path is not None
    assert file.file_path.startswith(f"{fake.root}/file/bot{TOKEN}/")
    assert bytes(await file.download_as_bytearray()) == b"col1,col2\n"


async def test_copy_commands_and_chat(fake: FakeTelegram, bot: Bot) -> None:
    original = fake.private_message(USER, "转发给专员")["message"]
    copied = await bot.copy_message(GROUP, USER, original["message_id"])
    assert copied.message_id == 1
    assert fake.messages[GROUP, 1]["text"] == "转发给专员"
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(GROUP, USER, 999)
    commands = [BotCommand("start", "开始"), BotCommand("help", "帮助")]
    assert await bot.set_my_commands(commands, language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == tuple(commands)
    assert await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == ()
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type) == (GROUP, "supergroup")


@pytest.mark.parametrize(
    ("code", "error", "text"),
    [
        (403, Forbidden, "bot was blocked by the user"),
        (400, BadRequest, "chat not found"),
        (502, NetworkError, "Bad Gateway"),
    ],
)
async def test_scripted_errors_become_ptb_exceptions(
    fake: FakeTelegram, bot: Bot, code: int, error: type[TelegramError], text: str
) -> None:
    fake.fail_next("sendMessage", chat_id=USER, error_code=code)
    await bot.send_message(GROUP, "other chats are unaffected")
    with pytest.raises(error, match=rf"(?i){text}"):
        await bot.send_message(USER, "x")
    await bot.send_message(USER, "the next one goes through")
    assert [c.status for c in fake.calls_of("sendMessage")] == [200, code, 200]
    assert [c.params["text"] for c in fake.sent(USER)] == ["the next one goes through"]


async def test_flood_control_carries_retry_after(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PTB_TIMEDELTA, PTB 22 warns (→ error here) while building RetryAfter itself.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    fake.fail_next("sendMessage", error_code=429, retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "x")
        assert caught.value.retry_after == timedelta(seconds=7)
    await bot.send_message(USER, "ok")


async def test_wait_for_sees_calls_made_later(fake: FakeTelegram, bot: Bot) -> None:
    waiter = asyncio.create_task(
        fake.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == GROUP)
    )
    await bot.send_message(USER, "not this one")
    await bot.send_message(GROUP, "this one")
    call = await waiter
    assert isinstance(call, Call)
    assert call.params["text"] == "this one"
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda c: c.method == "sendPhoto", timeout=0.05)


async def test_plain_json_and_query_parameters(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{fake.root}/bot{TOKEN}/sendMessage"
        async with session.post(url, json={"chat_id": USER, "text": "json"}) as response:
            body = await response.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "json"
        async with session.get(f"{fake.root}/bot{TOKEN}/getUpdates?offset=5") as response:
            assert await response.json() == {"ok": True, "result": []}
        async with session.post(f"{fake.root}/bot{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"


async def test_a_ptb_application_polls_and_replies(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"欢迎 {context.args}")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{fake.root}/bot")
        .base_file_url(f"{fake.root}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=30, drop_pending_updates=True)
        fake.private_message(USER, "/start abc")
        call = await fake.wait_for(lambda c: c.method == "sendMessage")
        await app.updater.stop()
        await app.stop()
    assert call.params["text"] == "欢迎 ['abc']"
    assert fake.calls_of("deleteWebhook")[0].params["drop_pending_updates"] is True


def test_runs_in_a_thread_for_synchronous_tests() -> None:
    with FakeTelegram(token=TOKEN).in_thread() as fake:
        update = fake.private_message(USER, "同步")
        request = urllib.request.Request(
            f"{fake.root}/bot{TOKEN}/sendMessage",
            data=json.dumps({"chat_id": USER, "text": "回复"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["result"]["chat"]["id"] == USER
        call = fake.wait_for_sync(lambda c: c.method == "sendMessage")
        assert call.params["text"] == "回复"
        assert update["message"]["text"] == "同步"
