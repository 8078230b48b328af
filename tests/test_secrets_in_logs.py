"""No secret and no entrepreneur's words reach the log, even at ``BOT_LOG_LEVEL=DEBUG``.

The end-to-end test runs the real ``python -m bot run`` with Telegram (by webhook, against
:class:`FakeTelegram`) and WeChat (safe mode, against :class:`FakeWeChat`) configured, goes
through a whole exchange on both, then reads the process's log for every secret and every word
the people typed. The unit tests put the redacting filter in front of records the way libraries
make them: with ``%`` arguments, with a traceback, with SQLAlchemy's statement errors.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import create_async_engine

from bot import logs
from tests.support.databases import scratch_postgres
from tests.support.desk import ROSTER
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import FakeWeChat, WeChatPlatform, new_aes_key, text_xml
from tests.support.fake_wecom import MESSAGE_SEND, FakeWeCom, MsgCrypt, WeComPlatform
from tests.support.fake_wecom import text_xml as wecom_text_xml
from tests.support.processes import serving_async

TOKEN = "7012345678:AAHk3Z9xQ-secret_token-for-the-log-test"
"""Shaped like a real bot token, so the pattern that finds unregistered ones is tried too."""
APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret-that-must-not-be-logged"
WECHAT_TOKEN = "wechat-token-that-must-not-be-logged"
GROUP = -1002000000001
ZHANG = 2001
TELEGRAM_USER = 5001
OPENID = "oENTREPRENEUR0000000000000042"

QUESTION = "服务专员多久给我回复？"
PHONE = "13812345678"
REQUEST_TEXT = f"想咨询公司注册需要哪些材料，麻烦打我电话 {PHONE}"
REPLY = "请带营业执照原件和法人身份证到服务站办理"
WECHAT_QUESTION = "服务小组有几个人？"
SPACE = "space:baodi-eco"
WECOM_CORP_ID = "ww1436e0e65a779aee"
WECOM_SECRET = "wecom-secret-that-must-not-be-logged"
WECOM_TOKEN = "wecom-token-that-must-not-be-logged"
WECOM_QUESTION = "服务专员多久给我反馈结果？"


@contextlib.asynccontextmanager
async def bot_process(tmp_path: Path, **settings: str) -> AsyncIterator[tuple[str, Path]]:
    """``python -m bot run`` with ``settings``; its URL and its log (stdout and stderr)."""
    async with serving_async(tmp_path, **settings) as running:
        yield running.url, running.log


@pytest.mark.slow
async def test_a_whole_exchange_at_debug_logs_no_secret_and_no_ones_words(
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    aes_key, wecom_aes_key = new_aes_key(), new_aes_key()
    async with (
        FakeTelegram(token=TOKEN) as telegram,
        FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as wechat_api,
        FakeWeCom(WECOM_CORP_ID, WECOM_SECRET) as wecom_api,
    ):
        async with bot_process(
            tmp_path,
            roster=str(roster),
            log_level="DEBUG",
            telegram_token=TOKEN,
            telegram_api_url=telegram.root,
            # The public address Telegram would post to; updates are posted to the process.
            telegram_webhook_url="http://127.0.0.1:1",
            wechat_token=WECHAT_TOKEN,
            wechat_app_id=APP_ID,
            wechat_app_secret=APP_SECRET,
            wechat_aes_key=aes_key,
            wechat_api_url=wechat_api.root,
            wecom_corp_id=WECOM_CORP_ID,
            wecom_agent_id=str(wecom_api.agent_id),
            wecom_secret=WECOM_SECRET,
            wecom_token=WECOM_TOKEN,
            wecom_aes_key=wecom_aes_key,
            wecom_api_url=wecom_api.root,
        ) as (url, log):
            # No BOT_TELEGRAM_WEBHOOK_SECRET: the bot derives one from the token.
            derived_secret = str(telegram.calls_of("setWebhook")[-1].params["secret_token"])
            webhook = f"{url}/telegram"
            wechat = WeChatPlatform(f"{url}/wechat", WECHAT_TOKEN, APP_ID, aes_key, "safe")

            # A question on Telegram, answered in the webhook's response.
            asked = telegram.private_message(TELEGRAM_USER, QUESTION)
            assert await telegram.deliver(asked, url=webhook) == 200
            await telegram.wait_for(lambda c: "来源：" in str(c.params.get("text")), timeout=20)

            # A question on WeChat, answered passively; then a request with a phone number.
            answered = await wechat.post(text_xml(OPENID, WECHAT_QUESTION, msg_id=1))
            assert answered.reply is not None
            assert "至少2人" in str(answered.reply["Content"])
            await wechat.post(text_xml(OPENID, f"提交工单 {REQUEST_TEXT}", msg_id=2))
            space = text_xml(OPENID, "节能环保工业园区众创空间", msg_id=3, bizmsgmenuid=SPACE)
            chosen = await wechat.post(space)
            assert chosen.reply is not None
            found = re.search(r"工单已提交：(\d{4}-\d{4})", str(chosen.reply["Content"]))
            assert found, chosen.reply
            number = found.group(1)

            # The card reaches the duty group on Telegram; a member answers it there.
            card = await telegram.wait_for(
                lambda c: (
                    c.method == "sendMessage"
                    and str(c.params.get("chat_id")) == str(GROUP)
                    and f"工单 {number}" in str(c.params.get("text"))
                ),
                timeout=20,
            )
            answer = telegram.group_message(
                GROUP, ZHANG, REPLY, reply_to_message_id=int(card.result["message_id"])
            )
            assert await telegram.deliver(answer, url=webhook) == 200

            # The answer is pushed to the entrepreneur through WeChat's API, with a token.
            await wechat_api.wait_until(
                lambda: any(
                    REPLY in m["text"]["content"]
                    for m in wechat_api.custom_messages(OPENID)
                    if m["msgtype"] == "text"
                ),
                timeout=20,
            )
            # A question from a WeCom member, answered by app message with a token of its own.
            crypt = MsgCrypt(WECOM_TOKEN, wecom_aes_key, WECOM_CORP_ID)
            wecom = WeComPlatform(f"{url}/wecom", crypt)
            stamp = str(int(time.time()))
            asked = wecom_text_xml(WECOM_CORP_ID, "ZhangWei", WECOM_QUESTION, 1)
            assert (await wecom.post(asked, stamp, "1597212914")).status == 200
            call = await wecom_api.wait_for(lambda c: c.path == MESSAGE_SEND, timeout=20)
            access_tokens = [*wechat_api.valid_tokens(), call.query["access_token"]]
        # The process has stopped: everything it logged is in the file.
        output = log.read_text(encoding="utf-8")

    assert access_tokens
    assert "DEBUG" in output  # the log was as chatty as it gets
    assert f"request {number} opened" in output
    secrets = {
        "the bot token": TOKEN,
        "the token's secret part": TOKEN.split(":", 1)[1],
        "the derived webhook secret": derived_secret,
        "the WeChat token": WECHAT_TOKEN,
        "the AppSecret": APP_SECRET,
        "the EncodingAESKey": aes_key,
        "the WeCom Secret": WECOM_SECRET,
        "the WeCom Token": WECOM_TOKEN,
        "the WeCom EncodingAESKey": wecom_aes_key,
        "the WeCom question": WECOM_QUESTION,
        **{f"access token {i}": token for i, token in enumerate(access_tokens)},
        "the phone number": PHONE,
        "the Telegram question": QUESTION,
        "the WeChat question": WECHAT_QUESTION,
        "the request's text": REQUEST_TEXT,
        "the reply": REPLY,
    }
    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, f"{leaked} in the log:\n{output}"


FORGED = "2026-12-07 09:00:00,000 WARNING bot.channels.console.auth: console: admin signed in"


@pytest.mark.slow
async def test_our_own_lines_carry_no_typed_words_and_no_forged_lines(tmp_path: Path) -> None:
    typed = "宝坻区还没建成的那个空间"
    async with bot_process(tmp_path) as (url, log):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(url, cookie_jar=jar) as chat:

            async def say(status: int = 200, **body: str) -> None:
                async with chat.post("/api/messages", json=body) as response:
                    assert response.status == status

            await say(text="/new 想咨询公司注册需要哪些材料")
            await say(text=typed)  # no such maker space: asked again, and logged
            # A client id that ends one log line and starts a forged one, sent twice: refused
            # before anything is logged about it.
            await say(400, text="/help", id=f"x\n{FORGED}")
            await say(400, text="/help", id=f"x\n{FORGED}")
        output = log.read_text(encoding="utf-8")
    assert "unknown maker space" in output
    assert typed not in output
    assert not any(line.startswith(FORGED) for line in output.splitlines()), output


# --- the filter on its own -----------------------------------------------------------------


@pytest.fixture
def redacted() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through :func:`bot.logs.handler`, with two secrets registered."""
    stream = io.StringIO()
    writer = logs.handler(stream)
    logger = logging.getLogger(f"test.secrets.{uuid.uuid4().hex[:6]}")
    logger.addHandler(writer)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logs.register_secret("webhook-secret-0123456789abcdef")
    logs.register_secret("wx-app-secret-abcdef")
    try:
        yield logger, stream
    finally:
        logger.removeHandler(writer)


def test_secrets_in_the_arguments_and_the_traceback_become_stars(
    redacted: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = redacted
    try:
        raise ConnectionError(
            f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed; "
            "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
            "&appid=wx1&secret=wx-app-secret-abcdef"
        )
    except ConnectionError:
        logger.exception(
            "calling %s with %r",
            "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=86_abcDEF-123_x",
            {"secret_token": "webhook-secret-0123456789abcdef", "phone": PHONE},
        )
    logger.debug("Set Bot API URL: http://127.0.0.1:8081/bot%s", TOKEN)
    text = stream.getvalue()
    for secret in (
        TOKEN.split(":", 1)[1],
        "webhook-secret-0123456789abcdef",
        "wx-app-secret-abcdef",
        "86_abcDEF-123_x",
        PHONE,
    ):
        assert secret not in text
    assert "access_token=***" in text
    assert "/bot***/sendMessage" in text
    assert "Traceback" in text  # the traceback is kept, only its secrets go
    assert "calling https://api.weixin.qq.com/cgi-bin/message/custom/send" in text


def test_json_lines_are_redacted_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.secrets.{uuid.uuid4().hex[:6]}")
    logger.addHandler(logs.handler(stream, json_lines=True))
    logger.propagate = False
    logs.register_secret("json-secret-0123456789")
    try:
        raise ValueError("json-secret-0123456789")
    except ValueError:
        logger.error("failed with %s", "json-secret-0123456789", exc_info=True)
    assert "json-secret-0123456789" not in stream.getvalue()
    assert '"message": "failed with ***"' in stream.getvalue()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_an_sql_error_logs_its_statement_but_not_its_parameters(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redacted: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = redacted
    async with contextlib.AsyncExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
        else:  # PostgreSQL names the duplicate value in its DETAIL line
            server = request.getfixturevalue("postgres_server")
            url = await stack.enter_async_context(scratch_postgres(server))
        engine = create_async_engine(url)
        stack.push_async_callback(engine.dispose)
        async with engine.begin() as connection:
            await connection.execute(sqlalchemy.text("CREATE TABLE t (text TEXT UNIQUE)"))
        insert = sqlalchemy.text("INSERT INTO t (text) VALUES (:text)")
        for _ in range(2):
            try:
                async with engine.begin() as connection:
                    await connection.execute(insert, {"text": QUESTION})
            except sqlalchemy.exc.IntegrityError:
                logger.exception("outbox round failed; trying again")
    text = stream.getvalue()
    assert "outbox round failed" in text
    assert "INSERT INTO t" in text  # the statement stays: it says what failed
    assert QUESTION not in text


def test_configure_caps_the_libraries_that_log_secrets_whatever_the_level() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("DEBUG")
        for name in ("telegram", "httpx", "httpcore", "aiosqlite", "sqlalchemy.engine", "asyncio"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger("bot").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
