"""The fake WeChat platform answers like api.weixin.qq.com and signs like WeChat's webhook."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import (
    ClickEvent,
    ScanEvent,
    SubscribeEvent,
    SubscribeScanEvent,
    UnsubscribeEvent,
    ViewEvent,
)
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import ImageMessage, TextMessage, VoiceMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.clock import ManualClock
from tests.support.fake_wechat import (
    ACCOUNT,
    CUSTOM_SEND,
    CUSTOM_TYPING,
    MEDIA_GET,
    MEDIA_UPLOAD,
    MENU_CREATE,
    MENU_DELETE,
    MENU_GET,
    STABLE_TOKEN,
    SUBSCRIBE_SEND,
    TEMPLATE_SEND,
    TOKEN,
    Call,
    FakeWeChat,
    Mode,
    Posted,
    RejectedReply,
    Tamper,
    WeChatPlatform,
    event_xml,
    image_xml,
    msg_signature,
    new_aes_key,
    new_openid,
    parse_xml,
    sign,
    text_xml,
    voice_xml,
)

Json = dict[str, Any]

APP_ID, SECRET = "wx123", "s3cret"
USER, OTHER = "oUser1", "oUser2"
BOT_TOKEN = "makerdesk-token"  # the Token configured beside the server URL
CREDENTIALS = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}


def text(openid: str, content: str) -> Json:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def template(openid: str, template_id: str = "TPL_ACCEPTED") -> Json:
    data = {"thing1": {"value": "工位申请"}, "time2": {"value": "2024-05-06"}}
    return {"touser": openid, "template_id": template_id, "url": "https://example.cn/r/7",
            "data": data}  # fmt: skip


@dataclass
class Api:
    """A bare client of the fake, as the bot's adapter would call it."""

    fake: FakeWeChat
    session: aiohttp.ClientSession
    token: str = ""

    async def get(self, path: str, **params: str) -> Json:
        async with self.session.get(self.fake.root + path, params=params) as response:
            assert response.status == 200  # WeChat answers errors with 200 too
            body: Json = await response.json()
            return body

    async def post(self, path: str, body: object, **params: str) -> Json:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        async with self.session.post(self.fake.root + path, params=params, data=data) as response:
            assert response.status == 200
            answer: Json = await response.json()
            return answer

    async def fetch_token(self) -> str:
        answer = await self.get(TOKEN, **CREDENTIALS)
        self.token = answer["access_token"]
        return self.token

    async def stable(self, force_refresh: bool = False) -> Json:
        return await self.post(STABLE_TOKEN, {**CREDENTIALS, "force_refresh": force_refresh})

    async def call(self, path: str, body: object = None, *, token: str | None = None) -> Json:
        params = {"access_token": self.token if token is None else token}
        if body is None:
            return await self.get(path, **params)
        return await self.post(path, body, **params)

    async def send(self, body: Json | bytes, *, token: str | None = None) -> Json:
        return await self.call(CUSTOM_SEND, body, token=token)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(app_id=APP_ID, app_secret=SECRET) as server:
        yield server


@pytest.fixture
async def api(fake: FakeWeChat) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        client = Api(fake, session)
        await client.fetch_token()
        yield client


def assert_error(answer: Json, errcode: int, wording: str) -> None:
    assert answer["errcode"] == errcode, answer
    assert answer["errmsg"].startswith(wording), answer
    assert " rid: " in answer["errmsg"]  # WeChat tags every error with a request id
    assert set(answer) == {"errcode", "errmsg"}


# ====================================================================== tokens


async def test_a_second_token_fetch_supersedes_the_first(fake: FakeWeChat, api: Api) -> None:
    first = api.token
    async with api.session.get(fake.root + TOKEN, params=CREDENTIALS) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; encoding=utf-8"
        answer = await response.json()
    assert set(answer) == {"access_token", "expires_in"}  # no errcode on success
    assert answer["expires_in"] == 7200
    second = answer["access_token"]
    assert second != first
    assert len(second) > 100
    assert_error(await api.send(text(USER, "旧"), token=first), 40001, "invalid credential")
    assert await api.send(text(USER, "新"), token=second) == {"errcode": 0, "errmsg": "ok"}
    assert fake.token_fetches == 2
    assert fake.valid_tokens() == [second]


async def test_superseded_and_old_tokens_follow_the_clock() -> None:
    clock = ManualClock(datetime(2024, 5, 6, 9, 0, tzinfo=UTC))
    async with (
        FakeWeChat(APP_ID, SECRET, clock=clock, token_grace=300) as fake,
        aiohttp.ClientSession() as session,
    ):
        api = Api(fake, session)
        old, new = await api.fetch_token(), await api.fetch_token()
        assert (await api.send(text(USER, "a"), token=old))["errcode"] == 0  # within the grace
        clock.advance(timedelta(seconds=301))
        assert (await api.send(text(USER, "b"), token=old))["errcode"] == 40001
        stable = await api.stable()
        assert stable["expires_in"] == 7200
        clock.advance(timedelta(seconds=1000))
        again = await api.stable()
        assert again == {"access_token": stable["access_token"], "expires_in": 6200}
        clock.advance(timedelta(seconds=6199))
        assert (await api.send(text(USER, "c"), token=stable["access_token"]))["errcode"] == 0
        clock.advance(timedelta(seconds=1))
        expired = await api.send(text(USER, "d"), token=stable["access_token"])
        assert_error(expired, 42001, "access_token expired")
        assert_error(await api.send(text(USER, "e"), token=new), 42001, "access_token expired")
        renewed = await api.stable()
        assert renewed["access_token"] != stable["access_token"]
        assert (await api.send(text(USER, "f"), token=renewed["access_token"]))["errcode"] == 0


@pytest.mark.parametrize("endpoint", [TOKEN, STABLE_TOKEN])
@pytest.mark.parametrize(
    ("change", "errcode", "wording"),
    [
        ({"appid": "wxOTHER"}, 40013, "invalid appid"),
        ({"secret": "nope"}, 40125, "invalid appsecret"),
        ({"appid": ""}, 41002, "appid missing"),
        ({"secret": ""}, 41004, "appsecret missing"),
        ({"grant_type": "password"}, 40002, "invalid grant_type"),
    ],
)
async def test_token_endpoints_refuse_bad_credentials(
    fake: FakeWeChat, endpoint: str, change: dict[str, str], errcode: int, wording: str
) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(fake, session)
        params = CREDENTIALS | change
        if endpoint == TOKEN:
            answer = await api.get(TOKEN, **params)
        else:
            answer = await api.post(STABLE_TOKEN, params)
    assert_error(answer, errcode, wording)
    assert fake.valid_tokens() == []
    assert fake.token_fetches == 1


async def test_stable_token_stays_until_forced(fake: FakeWeChat, api: Api) -> None:
    first = await api.stable()
    assert first["access_token"] != api.token
    assert (await api.stable())["access_token"] == first["access_token"]
    forced = await api.stable(force_refresh=True)
    assert forced["access_token"] != first["access_token"]
    assert forced["expires_in"] == 7200
    # The replaced one keeps working for a while (WeChat: 5 minutes), the new one is now current.
    assert (await api.send(text(USER, "x"), token=first["access_token"]))["errcode"] == 0
    assert (await api.stable())["access_token"] == forced["access_token"]
    # The two endpoints' tokens are kept apart: fetching one never breaks the other.
    plain = api.token
    await api.fetch_token()
    assert (await api.stable())["access_token"] == forced["access_token"]
    assert (await api.send(text(USER, "y"), token=forced["access_token"]))["errcode"] == 0
    assert (await api.send(text(USER, "z"), token=plain))["errcode"] == 40001
    assert fake.token_fetches == 7
    # Only POST JSON is understood.
    assert_error(await api.post(STABLE_TOKEN, b""), 44002, "empty post data")
    assert_error(await api.post(STABLE_TOKEN, b"grant_type=x"), 47001, "data format error")


async def test_expired_and_revoked_tokens(fake: FakeWeChat, api: Api) -> None:
    stable = (await api.stable())["access_token"]
    fake.expire_tokens()
    for token in (api.token, stable):
        assert_error(await api.send(text(USER, "x"), token=token), 42001, "access_token expired")
    renewed = (await api.stable())["access_token"]
    assert renewed != stable  # an expired stable token is not handed out again
    await api.fetch_token()
    assert (await api.send(text(USER, "y")))["errcode"] == 0
    fake.revoke_tokens()
    for token in (api.token, renewed):
        assert_error(await api.send(text(USER, "z"), token=token), 40001, "invalid credential")
    assert fake.valid_tokens() == []


async def test_missing_or_unknown_tokens_do_not_use_up_scripted_failures(
    fake: FakeWeChat, api: Api
) -> None:
    fake.fail_next(CUSTOM_SEND, 45009)
    async with api.session.post(fake.root + CUSTOM_SEND, json=text(USER, "x")) as response:
        assert_error(await response.json(), 41001, "access_token missing")
    assert_error(await api.send(text(USER, "x"), token="bogus"), 40001, "invalid credential")
    assert fake.calls[-1].body == text(USER, "x")  # a refused call still shows what was sent
    assert_error(await api.send(text(USER, "x")), 45009, "reach max api daily quota limit")
    assert (await api.send(text(USER, "x")))["errcode"] == 0


async def test_token_delay_shows_concurrent_fetchers(fake: FakeWeChat, api: Api) -> None:
    fake.token_delay = 0.2
    started = time.monotonic()
    tokens = await asyncio.gather(*(api.fetch_token() for _ in range(3)))
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.5  # each waited, all at once (one after another would be 0.6)
    assert fake.token_fetches == 4
    # Naive concurrent fetchers break each other: only the last token issued still works.
    assert len(set(tokens)) == 3
    (survivor,) = fake.valid_tokens()
    assert survivor in tokens

    # One fetch shared by concurrent senders is what the counter can prove.
    lock, cached = asyncio.Lock(), list[str]()

    async def send(i: int) -> Json:
        async with lock:
            if not cached:
                cached.append(await api.fetch_token())
        return await api.send(text(USER, f"第{i}条"), token=cached[0])

    answers = await asyncio.gather(*(send(i) for i in range(5)))
    assert [a["errcode"] for a in answers] == [0] * 5
    assert fake.token_fetches == 5


# ====================================================================== customer-service messages


async def test_custom_messages_are_recorded(fake: FakeWeChat, api: Api) -> None:
    before = time.monotonic()
    for body in (text(USER, "您好"), text(OTHER, "另一位"), text(USER, "第二条")):
        assert await api.send(body) == {"errcode": 0, "errmsg": "ok"}
    assert [m["text"]["content"] for m in fake.custom_messages(USER)] == ["您好", "第二条"]
    assert len(fake.custom_messages()) == 3
    call = fake.calls_of("message/custom/send")[0]
    assert isinstance(call, Call)
    assert (call.path, call.query, call.body) == (CUSTOM_SEND, {"access_token": api.token},
                                                  text(USER, "您好"))  # fmt: skip
    assert call.result == {"errcode": 0, "errmsg": "ok"}
    assert before <= call.at <= time.monotonic()
    assert (call.ok, call.touser, call.errcode) == (True, USER, 0)


@pytest.mark.parametrize(
    ("content", "errcode"),
    [
        ("a" * 2048, 0),
        ("中" * 682 + "ab", 0),  # 2048 bytes of UTF-8
        ("a" * 2049, 45002),
        ("中" * 683, 45002),  # 683 characters, 2049 bytes
        ("", 44004),
    ],
)
async def test_text_is_limited_to_2048_bytes(
    fake: FakeWeChat, api: Api, content: str, errcode: int
) -> None:
    # ensure_ascii: the request has \\uXXXX escapes; WeChat counts the text, not the escapes.
    data = json.dumps(text(USER, content)).encode()
    answer = await api.send(data)
    assert answer["errcode"] == errcode
    assert len(fake.custom_messages()) == (1 if errcode == 0 else 0)


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"msgtype": "text", "text": {"content": "x"}}, 40003),
        ({"touser": USER, "msgtype": "sms", "sms": {"content": "x"}}, 40008),
        ({"touser": USER, "msgtype": "text"}, 47001),
        ({"touser": USER, "msgtype": "image", "image": {"media_id": "nope"}}, 40007),
        ({"touser": USER, "msgtype": "msgmenu", "msgmenu": {"list": []}}, 47001),
        (b"", 44002),
        (b"{not json", 47001),
    ],
)
async def test_malformed_custom_messages(
    fake: FakeWeChat, api: Api, body: Json | bytes, errcode: int
) -> None:
    answer = await api.send(body)
    assert answer["errcode"] == errcode
    assert fake.custom_messages() == []


async def test_msgmenu_and_typing(fake: FakeWeChat, api: Api) -> None:
    menu = {"touser": USER, "msgtype": "msgmenu", "msgmenu": {
        "head_content": "您对本次服务是否满意呢？",
        "list": [{"id": "101", "content": "满意"}, {"id": "102", "content": "不满意"}],
        "tail_content": "欢迎再次光临"}}  # fmt: skip
    assert (await api.send(menu))["errcode"] == 0
    assert fake.custom_messages(USER) == [menu]
    assert (await api.call(CUSTOM_TYPING, {"touser": USER, "command": "Typing"}))["errcode"] == 0
    bad = await api.call(CUSTOM_TYPING, {"touser": USER, "command": "typing"})
    assert bad["errcode"] == 47001
    assert len(fake.custom_messages()) == 1  # typing is not a message


@pytest.mark.parametrize(
    ("errcode", "wording"),
    [
        (45015, "response out of time limit or subscription is canceled"),
        (45047, "out of response count limit"),
        (43004, "require subscribe"),
        (45009, "reach max api daily quota limit"),
        (-1, "system error"),
    ],
)
async def test_scripted_failures(fake: FakeWeChat, api: Api, errcode: int, wording: str) -> None:
    fake.fail_next(CUSTOM_SEND, errcode, times=2, openid=USER)
    assert (await api.send(text(OTHER, "别人不受影响")))["errcode"] == 0
    for attempt in ("一", "二"):
        assert_error(await api.send(text(USER, attempt)), errcode, wording)
    assert (await api.send(text(USER, "三")))["errcode"] == 0
    assert [m["text"]["content"] for m in fake.custom_messages(USER)] == ["三"]
    assert [c.errcode for c in fake.calls_of(CUSTOM_SEND)] == [0, errcode, errcode, 0]


async def test_scripted_failures_elsewhere(fake: FakeWeChat, api: Api) -> None:
    fake.fail_next("message/custom/send", 45015, errmsg="exactly this")
    assert await api.send(text(USER, "x")) == {"errcode": 45015, "errmsg": "exactly this"}
    fake.fail_next(TOKEN, -1)
    assert_error(await api.get(TOKEN, **CREDENTIALS), -1, "system error")
    await api.fetch_token()
    fake.fail_next("cgi-bin/message/template/send", 43004)
    assert (await api.call(TEMPLATE_SEND, template(USER)))["errcode"] == 43004
    with pytest.raises(ValueError, match="no endpoint"):
        fake.fail_next("message/custom/sned", 45015)


async def test_the_48_hour_window(fake: FakeWeChat, api: Api) -> None:
    fake.outside_window(USER)
    for _ in range(3):
        assert_error(await api.send(text(USER, "x")), 45015, "response out of time limit")
    typing = await api.call(CUSTOM_TYPING, {"touser": USER, "command": "Typing"})
    assert typing["errcode"] == 45015
    assert (await api.send(text(OTHER, "y")))["errcode"] == 0
    # Templates are what reaches a user outside the window.
    assert (await api.call(TEMPLATE_SEND, template(USER)))["errcode"] == 0
    fake.inside_window(USER)
    assert (await api.send(text(USER, "z")))["errcode"] == 0
    assert [m["text"]["content"] for m in fake.custom_messages()] == ["y", "z"]


# ====================================================================== template, subscribe


async def test_template_and_subscription_messages(fake: FakeWeChat, api: Api) -> None:
    first = await api.call(TEMPLATE_SEND, template(USER))
    second = await api.call(TEMPLATE_SEND, template(OTHER))
    assert (first["errcode"], first["errmsg"]) == (0, "ok")
    assert isinstance(first["msgid"], int)
    assert second["msgid"] > first["msgid"]
    assert fake.templates(USER) == [template(USER)]
    assert len(fake.templates()) == 2
    assert_error(await api.call(TEMPLATE_SEND, template(USER, "")), 40037, "invalid template_id")
    flat = template(USER) | {"data": {"thing1": "工位申请"}}
    assert_error(await api.call(TEMPLATE_SEND, flat), 47001, "data format error")
    fake.template_ids = frozenset({"TPL_ACCEPTED"})
    assert (await api.call(TEMPLATE_SEND, template(USER, "TPL_OTHER")))["errcode"] == 40037

    notice = {"touser": USER, "template_id": "TPL_ACCEPTED", "page": "pages/index",
              "data": {"thing1": {"value": "已受理"}}}  # fmt: skip
    assert await api.call(SUBSCRIBE_SEND, notice) == {"errcode": 0, "errmsg": "ok"}
    fake.fail_next(SUBSCRIBE_SEND, 43101, openid=OTHER)
    refused = await api.call(SUBSCRIBE_SEND, notice | {"touser": OTHER})
    assert_error(refused, 43101, "user refuse to accept the msg")
    assert fake.subscriptions() == [notice]
    assert fake.subscriptions(OTHER) == []
    assert len(fake.templates()) == 2
    assert fake.custom_messages() == []


# ====================================================================== menu

MENU = [
    {"type": "click", "name": "政策问答", "key": "FAQ"},
    {"name": "办事", "sub_button": [
        {"type": "view", "name": "申请工位", "url": "https://example.cn/desk"},
        {"type": "click", "name": "我的申请", "key": "MY_REQUESTS"},
        {"type": "miniprogram", "name": "小程序", "url": "https://example.cn",
         "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"},
        {"type": "scancode_push", "name": "扫码", "key": "SCAN"},
        {"type": "location_select", "name": "发送位置", "key": "WHERE"},
    ]},
    {"type": "view", "name": "官网", "url": "https://example.cn"},
]  # fmt: skip


async def test_menu_create_get_and_delete(fake: FakeWeChat, api: Api) -> None:
    assert_error(await api.call(MENU_GET), 46003, "menu no exist")
    assert await api.call(MENU_CREATE, {"button": MENU}) == {"errcode": 0, "errmsg": "ok"}
    got = await api.call(MENU_GET)
    assert set(got) == {"menu"}
    buttons = got["menu"]["button"]
    assert buttons[0] == {"type": "click", "name": "政策问答", "key": "FAQ", "sub_button": []}
    assert buttons[1]["name"] == "办事"
    assert "type" not in buttons[1]
    assert [s["sub_button"] for s in buttons[1]["sub_button"]] == [[]] * 5
    assert buttons[1]["sub_button"][2]["pagepath"] == "pages/lunar/index"
    assert fake.menu == buttons
    # What menu/get gives back can be created again unchanged.
    assert (await api.call(MENU_CREATE, {"button": buttons}))["errcode"] == 0
    assert (await api.call(MENU_GET))["menu"]["button"] == buttons
    assert (await api.call(MENU_DELETE))["errcode"] == 0
    assert (await api.call(MENU_GET))["errcode"] == 46003
    assert fake.menu is None


def click(name: str = "问答", key: str = "K") -> Json:
    return {"type": "click", "name": name, "key": key}


@pytest.mark.parametrize(
    ("buttons", "errcode"),
    [
        ([], 40016),
        ([click()] * 4, 40016),
        ([{"type": "teleport", "name": "x", "key": "K"}], 40017),
        ([click(name="众创空间服务")], 40018),  # 18 bytes; top-level names allow 16
        ([click(name="")], 40018),
        ([click(key="")], 40019),
        ([click(key="k" * 129)], 40019),
        ([{"type": "view", "name": "官网"}], 40020),
        ([{"name": "办事", "sub_button": [click()] * 6}], 40023),
        ([{"name": "办事", "sub_button": [{"type": "nope", "name": "x"}]}], 40024),
        ([{"name": "办事", "sub_button": [click(name="长" * 21)]}], 40025),
        ([{"name": "办事", "sub_button": [click(key="")]}], 40026),
        ([{"name": "办事", "sub_button": [{"type": "view", "name": "x", "url": ""}]}], 40027),
    ],
)
async def test_menu_validation(
    fake: FakeWeChat, api: Api, buttons: list[Json], errcode: int
) -> None:
    assert (await api.call(MENU_CREATE, {"button": [click("旧菜单")]}))["errcode"] == 0
    answer = await api.call(MENU_CREATE, {"button": buttons})
    assert answer["errcode"] == errcode
    assert fake.menu == [click("旧菜单") | {"sub_button": []}]  # a refused menu changes nothing


# ====================================================================== media


async def upload(
    api: Api, data: bytes, filename: str | None, media_type: str = "image", field: str = "media"
) -> Json:
    form = aiohttp.FormData()
    # A stream, not bytes: aiohttp warns (an error here) about large raw bodies.
    form.add_field(field, io.BytesIO(data), filename=filename,
                   content_type="application/octet-stream")  # fmt: skip
    async with api.session.post(
        api.fake.root + MEDIA_UPLOAD, params={"access_token": api.token, "type": media_type},
        data=form,
    ) as response:  # fmt: skip
        answer: Json = await response.json()
        return answer


async def test_media_upload_and_get(fake: FakeWeChat, api: Api) -> None:
    photo = b"\xff\xd8\xff\xe0 fake jpeg"
    # ASCII: aiohttp percent-encodes other file names, and the fake records what it was sent.
    answer = await upload(api, photo, "site-visit.jpg")
    assert set(answer) == {"type", "media_id", "created_at"}
    assert answer["type"] == "image"
    assert len(answer["media_id"]) == 64
    assert abs(answer["created_at"] - time.time()) < 60
    call = fake.calls_of(MEDIA_UPLOAD)[0]
    assert call.upload is not None
    assert (call.upload.filename, call.upload.data) == ("site-visit.jpg", photo)
    params = {"access_token": api.token, "media_id": answer["media_id"]}
    async with api.session.get(fake.root + MEDIA_GET, params=params) as response:
        assert response.status == 200
        assert await response.read() == photo
        assert "site-visit.jpg" in response.headers["Content-disposition"]
    image = {"touser": USER, "msgtype": "image", "image": {"media_id": answer["media_id"]}}
    assert (await api.send(image))["errcode"] == 0
    assert_error(await api.call(MEDIA_GET + "?media_id=nope"), 40007, "invalid media_id")

    thumb = await upload(api, b"\xff\xd8thumb", "t.jpg", "thumb")
    assert set(thumb) == {"type", "thumb_media_id", "created_at"}  # sic: WeChat's key for thumbs
    seeded = fake.add_media(b"#!AMR voice", "voice", "voice.amr")
    params["media_id"] = seeded
    async with api.session.get(fake.root + MEDIA_GET, params=params) as response:
        assert await response.read() == b"#!AMR voice"


@pytest.mark.parametrize(
    ("data", "filename", "media_type", "field", "errcode"),
    [
        (b"x", "a.jpg", "file", "media", 40004),
        (b"x", "a.jpg", "image", "file", 41005),
        (b"x", "photo", "image", "media", 40005),  # no extension: WeChat cannot tell the type
        (b"x", "a.pdf", "image", "media", 40005),
        (b"x" * (64 * 1024 + 1), "t.jpg", "thumb", "media", 40006),
        (b"x" * (2 * 1024 * 1024 + 1), "v.mp3", "voice", "media", 40006),
    ],
)
async def test_media_upload_refusals(
    fake: FakeWeChat, api: Api, data: bytes, filename: str, media_type: str, field: str,
    errcode: int,
) -> None:  # fmt: skip
    assert (await upload(api, data, filename, media_type, field))["errcode"] == errcode
    assert fake.media == {}


# ====================================================================== plumbing


async def test_unknown_paths_are_404(fake: FakeWeChat, api: Api) -> None:
    async with api.session.post(fake.root + "/cgi-bin/message/mass/sendall") as response:
        assert response.status == 404
    assert fake.calls[-1].path == "/cgi-bin/message/mass/sendall"
    assert fake.calls[-1].status == 404
    assert not fake.calls[-1].ok


async def test_slow_answers_still_deliver(fake: FakeWeChat, api: Api) -> None:
    fake.slow(CUSTOM_SEND, 0.2)
    params = {"access_token": api.token}
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with api.session.post(
            fake.root + CUSTOM_SEND, params=params, json=text(USER, "迟到"),
            timeout=aiohttp.ClientTimeout(total=0.05),
        ):  # fmt: skip
            pass
    # The bot gave up, yet WeChat delivered it: a retry would send it twice.
    call = await fake.wait_for(lambda c: c.path == CUSTOM_SEND)
    assert call.ok
    assert call.at - started >= 0.2
    fake.slow(CUSTOM_SEND, 0)
    started = time.monotonic()
    assert (await api.send(text(USER, "准时")))["errcode"] == 0
    assert time.monotonic() - started < 0.2
    with pytest.raises(ValueError, match="no endpoint"):
        fake.slow("/cgi-bin/nope", 1)


async def test_wait_for_sees_calls_made_later(fake: FakeWeChat, api: Api) -> None:
    waiter = asyncio.create_task(fake.wait_for(lambda c: c.touser == OTHER))
    await api.send(text(USER, "不是这条"))
    await api.send(text(OTHER, "这条"))
    call = await asyncio.wait_for(waiter, 1)  # woken by the call, not by its 5 s deadline
    assert call.body == text(OTHER, "这条")
    with pytest.raises(TimeoutError, match="no matching WeChat API call"):
        await fake.wait_for(lambda c: c.path == MENU_CREATE, timeout=0.05)
    await fake.wait_until(lambda: len(fake.custom_messages()) == 2)


def test_runs_in_a_thread_for_synchronous_tests() -> None:
    with FakeWeChat(app_id=APP_ID, app_secret=SECRET).in_thread() as fake:
        query = urllib.parse.urlencode(CREDENTIALS)
        with urllib.request.urlopen(f"{fake.root}{TOKEN}?{query}", timeout=5) as response:
            token = json.load(response)["access_token"]
        fake.fail_next(CUSTOM_SEND, 45047)
        request = urllib.request.Request(
            f"{fake.root}{CUSTOM_SEND}?access_token={token}",
            data=json.dumps(text(USER, "同步")).encode(),
            headers={"Content-Type": "application/json"},
        )
        for expected in (45047, 0):
            with urllib.request.urlopen(request, timeout=5) as response:
                assert json.load(response)["errcode"] == expected
        call = fake.wait_for_sync(lambda c: c.ok and c.path == CUSTOM_SEND)
        assert call.body == text(USER, "同步")
        assert fake.token_fetches == 1


# ====================================================================== WeChat → the bot


def test_signatures_match_wechatpy() -> None:
    timestamp, nonce = "1714957200", "1320562132"
    check_signature(BOT_TOKEN, sign(BOT_TOKEN, timestamp, nonce), timestamp, nonce)
    with pytest.raises(InvalidSignatureException):
        check_signature(BOT_TOKEN, sign("other", timestamp, nonce), timestamp, nonce)
    crypto = WeChatCrypto(BOT_TOKEN, new_aes_key(), APP_ID)
    envelope = parse_xml(crypto.encrypt_message("<xml></xml>", nonce, timestamp))
    expected = msg_signature(BOT_TOKEN, timestamp, nonce, envelope["Encrypt"])
    assert envelope["MsgSignature"] == expected
    assert msg_signature(BOT_TOKEN, timestamp, nonce, envelope["Encrypt"] + "x") != expected


def test_keys_and_openids() -> None:
    key = new_aes_key()
    assert len(key) == 43
    assert len(base64.b64decode(key + "=")) == 32
    assert new_aes_key() != key
    WeChatCrypto(BOT_TOKEN, key, APP_ID)  # accepted as an EncodingAESKey
    openid = new_openid()
    assert (len(openid), openid[0]) == (28, "o")
    assert new_openid() != openid


def test_message_xml_is_wechats() -> None:
    assert text_xml(USER, "你好", 24012345678901234, create_time=1714957200) == (
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>\n"
        "<FromUserName><![CDATA[oUser1]]></FromUserName>\n"
        "<CreateTime>1714957200</CreateTime>\n"
        "<MsgType><![CDATA[text]]></MsgType>\n"
        "<Content><![CDATA[你好]]></Content>\n"
        "<MsgId>24012345678901234</MsgId>\n"
        "</xml>"
    )
    assert event_xml(USER, "subscribe", create_time=1714957200, to="gh_0123456789ab") == (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>\n"
        "<FromUserName><![CDATA[oUser1]]></FromUserName>\n"
        "<CreateTime>1714957200</CreateTime>\n"
        "<MsgType><![CDATA[event]]></MsgType>\n"
        "<Event><![CDATA[subscribe]]></Event>\n"
        "<EventKey><![CDATA[]]></EventKey>\n"
        "</xml>"
    )
    menu_tap = text_xml(USER, "满意", 1, create_time=1, bizmsgmenuid=101)
    assert menu_tap.endswith("<MsgId>1</MsgId>\n<bizmsgmenuid>101</bizmsgmenuid>\n</xml>")
    assert image_xml(USER, "MEDIA", "http://mmbiz.qpic.cn/x", 7, create_time=1).endswith(
        "<MsgType><![CDATA[image]]></MsgType>\n<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl>"
        "\n<MediaId><![CDATA[MEDIA]]></MediaId>\n<MsgId>7</MsgId>\n</xml>"
    )
    assert voice_xml(USER, "MEDIA", 8, create_time=1).endswith(
        "<MediaId><![CDATA[MEDIA]]></MediaId>\n<Format><![CDATA[amr]]></Format>\n"
        "<MsgId>8</MsgId>\n</xml>"
    )
    with pytest.raises(ValueError, match="CLICK event needs an event_key"):
        event_xml(USER, "CLICK")


def test_message_xml_parses_as_wechatpy_expects() -> None:
    message = parse_message(text_xml(USER, "a]]>b <&>", 99))
    assert isinstance(message, TextMessage)
    assert (message.content, message.id, message.source, message.target) == (
        "a]]>b <&>", 99, USER, ACCOUNT)  # fmt: skip
    assert abs(message.create_time.timestamp() - time.time()) < 60
    assert parse_xml(text_xml(USER, "满意", 1, bizmsgmenuid=101))["bizmsgmenuid"] == "101"
    assert isinstance(parse_message(event_xml(USER, "subscribe")), SubscribeEvent)
    assert isinstance(parse_message(event_xml(USER, "unsubscribe")), UnsubscribeEvent)
    by_code = parse_message(event_xml(USER, "subscribe", "qrscene_42", ticket="TICKET"))
    assert isinstance(by_code, SubscribeScanEvent)
    assert (by_code.scene_id, by_code.ticket) == ("42", "TICKET")
    scan = parse_message(event_xml(USER, "SCAN", "42", ticket="TICKET"))
    assert isinstance(scan, ScanEvent)
    assert scan.scene_id == "42"
    tap = parse_message(event_xml(USER, "CLICK", "FAQ"))
    assert isinstance(tap, ClickEvent)
    assert tap.key == "FAQ"
    view = parse_message(event_xml(USER, "VIEW", "https://example.cn", menu_id=3))
    assert isinstance(view, ViewEvent)
    assert view.url == "https://example.cn"
    image = parse_message(image_xml(USER, "MEDIA", "http://mmbiz.qpic.cn/x", 7))
    assert isinstance(image, ImageMessage)
    assert (image.media_id, image.image) == ("MEDIA", "http://mmbiz.qpic.cn/x")
    voice = parse_message(voice_xml(USER, "MEDIA", 8, fmt="amr", recognition="你好"))
    assert isinstance(voice, VoiceMessage)
    assert (voice.media_id, voice.format, voice.recognition) == ("MEDIA", "amr", "你好")


@dataclass
class Received:
    query: dict[str, str]
    body: str
    message: Any


Reply = Callable[["Receiver", Any, Mapping[str, str]], web.Response]


@dataclass
class Receiver:
    """The bot's end in miniature: it checks what WeChat sends with wechatpy, as the adapter will.

    It answers a text reply, encrypted when the request was; ``reply`` answers otherwise, and
    ``gate`` (if set) holds every POST until it opens, which it does by itself once ``open_at``
    messages have arrived.
    """

    aes_key: str | None = None
    reply: Reply | None = None
    gate: asyncio.Event | None = None
    open_at: int | None = None
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    @property
    def crypto(self) -> WeChatCrypto:
        assert self.aes_key is not None
        return WeChatCrypto(BOT_TOKEN, self.aes_key, APP_ID)

    def reject(self, reason: str) -> web.Response:
        self.rejected.append(reason)
        return web.Response(status=403, text=reason)

    async def handle(self, request: web.Request) -> web.Response:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            check_signature(BOT_TOKEN, query.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            return self.reject("signature")
        if request.method == "GET":
            return web.Response(text=query["echostr"])
        body = await request.text()
        plain = body
        if query.get("encrypt_type") == "aes":
            try:
                plain = self.crypto.decrypt_message(
                    body, query.get("msg_signature", ""), timestamp, nonce
                )
            except InvalidSignatureException:
                return self.reject("msg_signature")
            except InvalidAppIdException:
                return self.reject("appid")
            except Exception:  # a wrong key yields garbage: bad padding, lengths, UTF-8
                return self.reject("decrypt")
        message = parse_message(plain)
        self.received.append(Received(dict(query), body, message))
        opens = self.open_at is not None and len(self.received) >= self.open_at
        if self.gate is not None and opens:
            self.gate.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return (self.reply or Receiver.echo)(self, message, query)
        finally:
            self.in_flight -= 1

    def echo(self, message: Any, query: Mapping[str, str]) -> web.Response:
        content = f"收到：{getattr(message, 'content', message.type)}"
        xml = TextReply(source=message.target, target=message.source, content=content).render()
        if query.get("encrypt_type") == "aes":
            xml = self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
        return web.Response(text=xml, content_type="application/xml")


Serve = Callable[[Receiver], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_route("*", "/wechat", receiver.handle)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/wechat"

    yield start
    for runner in runners:
        await runner.cleanup()


async def platform_for(
    serve: Serve, mode: Mode, **receiver: Any
) -> tuple[WeChatPlatform, Receiver]:
    key = new_aes_key() if mode != "plain" else None
    bot = Receiver(aes_key=key, **receiver)
    url = await serve(bot)
    return WeChatPlatform(url, BOT_TOKEN, APP_ID, aes_key=key, mode=mode), bot


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_round_trip(serve: Serve, mode: Mode) -> None:
    platform, bot = await platform_for(serve, mode)
    posted = await platform.post(text_xml(USER, "你好", 24012345678901234))
    assert isinstance(posted, Posted)
    assert posted.status == 200
    assert posted.reply is not None
    assert {k: v for k, v in posted.reply.items() if k != "CreateTime"} == {
        "ToUserName": USER, "FromUserName": ACCOUNT, "MsgType": "text", "Content": "收到：你好",
    }  # fmt: skip
    assert posted.reply["CreateTime"].isdigit()
    assert posted.encrypted is (mode != "plain")
    (seen,) = bot.received
    assert (seen.message.content, seen.message.id, seen.message.source) == (
        "你好", 24012345678901234, USER)  # fmt: skip
    keys = ["signature", "timestamp", "nonce", "openid"]
    if mode != "plain":
        keys += ["encrypt_type", "msg_signature"]
        assert seen.query["encrypt_type"] == "aes"
    assert list(seen.query) == keys
    assert seen.query["openid"] == USER
    assert seen.query["nonce"].isdigit()
    assert abs(int(seen.query["timestamp"]) - time.time()) < 60
    fields = set(parse_xml(seen.body))
    expected = {
        "plain": {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId"},
        "compatible": {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId",
                       "Encrypt"},
        "safe": {"ToUserName", "Encrypt"},
    }  # fmt: skip
    assert fields == expected[mode]
    assert "你好" not in seen.body or mode != "safe"


async def test_given_timestamp_and_nonce_are_used(serve: Serve) -> None:
    platform, bot = await platform_for(serve, "safe")
    posted = await platform.post(event_xml(USER, "CLICK", "FAQ"), timestamp="1714957200",
                                 nonce="123456789")  # fmt: skip
    assert posted.status == 200
    assert (posted.query["timestamp"], posted.query["nonce"]) == ("1714957200", "123456789")
    assert isinstance(bot.received[0].message, ClickEvent)
    assert posted.reply is not None
    assert posted.reply["Content"] == "收到：event"


@pytest.mark.parametrize(
    ("mode", "tamper", "reasons"),
    [
        ("plain", "signature", {"signature"}),
        ("plain", "unsigned", {"signature"}),
        ("safe", "signature", {"signature"}),
        ("safe", "unsigned", {"signature"}),
        ("safe", "msg_signature", {"msg_signature"}),
        ("compatible", "msg_signature", {"msg_signature"}),
        ("safe", "appid", {"appid"}),
        # Another key decrypts to garbage; which check trips first depends on the garbage.
        ("safe", "aes", {"decrypt", "appid"}),
        ("compatible", "aes", {"decrypt", "appid"}),
    ],
)
async def test_tampered_posts_fail_the_bots_checks(
    serve: Serve, mode: Mode, tamper: Tamper, reasons: set[str]
) -> None:
    platform, bot = await platform_for(serve, mode)
    posted = await platform.post(text_xml(USER, "你好", 1), tamper=tamper)
    assert (posted.status, posted.reply) == (403, None)
    assert len(bot.rejected) == 1
    assert bot.rejected[0] in reasons
    assert bot.received == []
    if tamper == "unsigned":
        assert "signature" not in posted.query
        assert "msg_signature" not in posted.query


async def test_tampering_needs_a_mode_it_applies_to(serve: Serve) -> None:
    platform, _ = await platform_for(serve, "plain")
    with pytest.raises(ValueError, match="needs an encrypted mode"):
        await platform.post(text_xml(USER, "x", 1), tamper="aes")
    with pytest.raises(ValueError, match="needs an aes_key"):
        WeChatPlatform("http://127.0.0.1:1/wechat", BOT_TOKEN, APP_ID, mode="safe")


def answer(body: str, status: int = 200) -> Reply:
    return lambda bot, message, query: web.Response(status=status, text=body)


def encrypted(token: str = BOT_TOKEN, key: str | None = None) -> Reply:
    def reply(bot: Receiver, message: Any, query: Mapping[str, str]) -> web.Response:
        xml = TextReply(source=message.target, target=message.source, content="x").render()
        crypto = WeChatCrypto(token, key or bot.aes_key, APP_ID)
        return web.Response(text=crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))

    return reply


def plain_reply(bot: Receiver, message: Any, query: Mapping[str, str]) -> web.Response:
    xml = TextReply(source=message.target, target=message.source, content="明文").render()
    return web.Response(text=xml)


@pytest.mark.parametrize(
    ("mode", "reply", "problem"),
    [
        ("safe", plain_reply, "safe mode needs an encrypted reply"),
        ("safe", encrypted(token="other"), "MsgSignature does not match"),
        ("safe", encrypted(key=new_aes_key()), "does not decrypt"),
        ("plain", answer("<xml><MsgType>text</MsgType></xml>"), "lacks"),
        ("plain", answer("好的"), "not XML"),
    ],
)
async def test_replies_wechat_would_refuse(
    serve: Serve, mode: Mode, reply: Reply, problem: str
) -> None:
    platform, _ = await platform_for(serve, mode, reply=reply)
    with pytest.raises(RejectedReply, match=problem):
        await platform.post(text_xml(USER, "你好", 1))


@pytest.mark.parametrize(
    ("mode", "reply", "status", "encrypted_reply"),
    [
        ("safe", answer("success"), 200, None),
        ("safe", answer(""), 200, None),
        ("plain", answer("oops", status=500), 500, None),
        ("compatible", plain_reply, 200, False),  # compatible mode takes either form
        ("compatible", None, 200, True),
    ],
)
async def test_replies_wechat_accepts(
    serve: Serve, mode: Mode, reply: Reply | None, status: int, encrypted_reply: bool | None
) -> None:
    platform, _ = await platform_for(serve, mode, reply=reply)
    posted = await platform.post(text_xml(USER, "你好", 1))
    assert posted.status == status
    if encrypted_reply is None:
        assert posted.reply is None
    else:
        assert posted.reply is not None
        assert posted.reply["ToUserName"] == USER
        assert posted.encrypted is encrypted_reply


async def test_verify_url(serve: Serve) -> None:
    platform, bot = await platform_for(serve, "safe")
    checked = await platform.verify_url("8204961023")
    assert (checked.status, checked.body_text, checked.reply) == (200, "8204961023", None)
    assert list(checked.query) == ["signature", "echostr", "timestamp", "nonce"]
    for tamper in ("signature", "unsigned"):
        refused = await platform.verify_url("1", tamper=tamper)
        assert refused.status == 403
    assert bot.rejected == ["signature", "signature"]


@pytest.mark.parametrize("concurrent", [False, True])
async def test_retries_repeat_the_same_message(serve: Serve, concurrent: bool) -> None:
    # The bot holds every answer until three posts are in: only concurrent ones get there.
    gate = asyncio.Event() if concurrent else None
    platform, bot = await platform_for(serve, "safe", gate=gate, open_at=3)
    posts = await asyncio.wait_for(
        platform.post_retries(text_xml(USER, "重复", 777), concurrent=concurrent), 5
    )
    assert [p.status for p in posts] == [200, 200, 200]
    assert bot.most_in_flight == (3 if concurrent else 1)
    assert len({r.body for r in bot.received}) == 1  # byte for byte the same body
    assert {r.message.id for r in bot.received} == {777}
    assert len({r.query["nonce"] for r in bot.received}) == 3
    assert len({r.query["timestamp"] for r in bot.received}) == 1


async def test_a_late_answer_is_no_answer(serve: Serve) -> None:
    gate = asyncio.Event()
    key = new_aes_key()
    bot = Receiver(aes_key=key, gate=gate)
    platform = WeChatPlatform(await serve(bot), BOT_TOKEN, APP_ID, key, "safe", timeout=0.1)
    try:
        posted = await platform.post(text_xml(USER, "慢", 1))
        assert (posted.status, posted.body_text, posted.reply) == (None, "", None)
        assert len(bot.received) == 1  # it arrived; the answer was what came too late
    finally:
        gate.set()
