"""The console's hotline desk over real HTTP: the form's choices, its checks in plain words,
who may record a call, and the caller's phone number kept out of the log.

The server is the bot's own aiohttp application on 127.0.0.1 with the demo roster, on a real
SQLite or PostgreSQL database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.channels.console.hotline import normal_phone
from bot.texts.console import CONSOLE_TEXTS, HOTLINE_ZH
from storage import Database
from storage.models import OutboxMessage, Request
from tests.support.console import Console, demo_signin, serve

G1_SPACE = "baodi-pku"  # on duty: baodi-g1 (张伟 zhangwei, 李娜 lina)
G2_SPACE = "baodi-tsinghua"  # on duty: baodi-g2 (王芳 wangfang, 刘洋 liuyang)
PHONE = "138 1234 5678"
FORM = {
    "intake": "hotline",
    "caller": "赵先生",
    "phone": PHONE,
    "space": G1_SPACE,
    "category": "policy",
    "text": "想了解小微企业房租补贴怎么申请",
}


@pytest.fixture
async def site(database: Database, faq_dir: Path) -> AsyncIterator[Console]:
    async with serve(database.url, faq_dir) as console:
        yield console


async def record(site: Console, web_id: str, **changes: Any) -> tuple[int, dict[str, Any]]:
    client = await demo_signin(site, web_id)
    try:
        body = {**FORM, "id": uuid.uuid4().hex, **changes}
        async with client.post("/console/api/hotline", json=body) as response:
            return response.status, await response.json()
    finally:
        await client.close()


async def requests_stored(site: Console) -> int:
    async with site.bot.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Request)) or 0)


def test_phone_numbers_of_either_shape_are_taken_and_others_are_not() -> None:
    assert normal_phone("138 1234 5678") == "13812345678"
    assert normal_phone("+86 138-1234-5678") == "13812345678"
    assert normal_phone("022-12345678") == "022-12345678"
    assert normal_phone("0571 8765432") == "05718765432"
    for wrong in ("12345", "23812345678", "1381234567", "138123456789", "abc", "022-123"):
        assert normal_phone(wrong) is None, wrong


async def test_a_member_records_a_call_and_gets_the_number_and_due_date_to_read_out(
    site: Console, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("bot", "handlers", "storage"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = await demo_signin(site, "zhangwei")
    try:
        async with client.get("/console/api/hotline") as response:
            assert response.status == 200
            form = await response.json()
        assert G1_SPACE in [s["id"] for s in form["spaces"]]
        assert G2_SPACE not in [s["id"] for s in form["spaces"]]  # another group's today
        assert [i["id"] for i in form["intakes"]] == ["hotline", "visit"]
        body = {**FORM, "id": uuid.uuid4().hex}
        async with client.post("/console/api/hotline", json=body) as response:
            assert response.status == 200, await response.text()
            taken = await response.json()
        # The same form sent again (a lost answer) records nothing more.
        async with client.post("/console/api/hotline", json=body) as response:
            assert response.status == 200
            again = await response.json()
    finally:
        await client.close()
    number, due = taken["request"]["number"], taken["request"]["due_date"]
    assert taken["request"]["intake"] == "热线电话"
    assert f"工单已登记：{number}" in taken["messages"][0]
    assert due in taken["messages"][0]
    assert again["messages"] == taken["messages"]
    assert "request" not in again
    assert await requests_stored(site) == 1
    async with site.bot.database.sessions() as session:
        stored = await session.scalar(select(Request))
        assert stored is not None
        assert (stored.channel, stored.phone) == ("hotline", "13812345678")
        # Only the console's own answer and the group's card: nothing for the caller.
        chats = set(await session.scalars(select(OutboxMessage.chat_id)))
    assert "" not in chats
    assert "13812345678" not in caplog.text
    assert "1234 5678" not in caplog.text
    assert "赵先生" not in caplog.text


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"intake": "email"}, HOTLINE_ZH.intake_needed),
        ({"caller": "  "}, HOTLINE_ZH.caller_needed),
        ({"caller": "赵" * 33}, HOTLINE_ZH.caller_too_long.format(limit=32)),
        ({"phone": ""}, HOTLINE_ZH.phone_needed),
        ({"phone": "1234567"}, HOTLINE_ZH.phone_shape),
        ({"space": "nowhere"}, HOTLINE_ZH.space_unknown),
        ({"category": "gossip"}, HOTLINE_ZH.category_unknown),
        ({"text": ""}, HOTLINE_ZH.text_needed),
        ({"text": 12}, HOTLINE_ZH.text_needed),
        ({"id": "x"}, CONSOLE_TEXTS.bad_request),
    ],
)
async def test_a_form_with_something_wrong_is_refused_in_plain_words(
    site: Console, changes: dict[str, Any], error: str
) -> None:
    status, body = await record(site, "zhangwei", **changes)
    assert (status, body) == (400, {"error": error})
    assert await requests_stored(site) == 0


async def test_only_a_member_of_the_space_s_duty_group_records_a_call(site: Console) -> None:
    # 王芳's group is not on duty for 张伟's space: the desk says whose it is.
    status, body = await record(site, "wangfang")
    assert status == 403
    assert "baodi" not in body["error"]
    assert "今天由" in body["error"]
    # A supervisor or an admin acts for no group: no form at all.
    for web_id in ("duty-baodi", "admin"):
        status, body = await record(site, web_id)
        assert (status, body) == (403, {"error": HOTLINE_ZH.members_only})
    assert await requests_stored(site) == 0
    # Signed out: the sign-in refusal.
    async with (
        site.client() as stranger,
        stranger.post("/console/api/hotline", json=FORM) as response,
    ):
        assert response.status == 401
