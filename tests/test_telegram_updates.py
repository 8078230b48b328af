"""The slim update reader takes from every update what reading it through PTB took.

:func:`~bot.channels.telegram.updates.read_update` reads a few fields straight from the JSON;
:func:`tests.support.ptb_updates.ptb_read` is the reading it replaced (``Update.de_json``, then
the type checks, then the internal message). For the updates the fake Bot API makes, and for
those updates with a field the bot reads given the wrong type or left out, both give the same
internal message, the same button to stop the spinner of, or both refuse the update.

Where they differ on purpose (only for input Telegram never sends), :func:`_ptb_expected` says
so: the reference result is adjusted there, and nowhere else.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.channels.telegram.updates import Received, read_update
from tests.support.fake_telegram import FakeTelegram, Json
from tests.support.ptb_updates import ptb_read

BOT_ID = 123456
GROUP = -1002000000001
USER = 5001
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def _samples() -> dict[str, Json]:
    """Updates of every shape the bot meets, made by the fake Bot API as Telegram makes them."""
    fake = FakeTelegram(token=f"{BOT_ID}:TEST")
    card = fake._outgoing({"chat_id": GROUP}, text="#2026-0001 想咨询公司注册")
    answer = fake._outgoing({"chat_id": USER}, text="服务小组有 5 人。", reply_markup=None)
    peer = fake.group_message(GROUP, 2002, "我来看看")["message"]
    samples: dict[str, Json] = {
        "text": fake.private_message(USER, "服务小组有几个人？"),
        "text-spaces": fake.private_message(USER, "  服务小组有几个人？\n"),
        "command": fake.private_message(USER, "/new 想咨询公司注册"),
        "english": fake.private_message(USER, "/start", language_code="en-GB", first_name="Li"),
        "empty-language": fake.private_message(USER, "你好", language_code=""),
        "callback": fake.callback(USER, USER, answer["message_id"], "rate:1:up"),
        "callback-long-data": fake.callback(USER, USER, answer["message_id"], "x" * 300),
        "callback-no-data": _without(
            fake.callback(USER, USER, answer["message_id"], "a"), "callback_query", "data"
        ),
        "callback-empty-data": fake.callback(USER, USER, answer["message_id"], ""),
        "callback-unknown-message": fake.callback(2001, GROUP, 999, "act:claim:1"),
        "callback-no-message": _without(
            fake.callback(USER, USER, 1, "space:x"), "callback_query", "message"
        ),
        "photo-caption": fake.group_message(GROUP, 2001, "#2026-0001 现场照片", photo=True),
        "photo-no-caption": fake.group_message(GROUP, 2001, "", photo=True),
        "document": fake.group_message(GROUP, 2001, "/claim 2026-0001", document=True),
        "group-chatter": fake.group_message(GROUP, 2001, "今天谁值班？"),
        "group-command": fake.group_message(GROUP, 2001, "/claim 2026-0001"),
        "group-hash": fake.group_message(GROUP, 2001, "#2026-0001 已联系"),
        "group-reply-to-card": fake.group_message(
            GROUP, 2001, "已联系", reply_to_message_id=card["message_id"]
        ),
        "group-reply-to-peer": fake.group_message(
            GROUP, 2001, "好的", reply_to_message_id=peer["message_id"]
        ),
        "group-reply-to-unknown": fake.group_message(GROUP, 2001, "好", reply_to_message_id=77),
        "group-photo-reply-to-card": fake.group_message(
            GROUP, 2001, "", photo=True, reply_to_message_id=card["message_id"]
        ),
    }
    text = samples["text"]
    message = text["message"]
    samples |= {
        "edited": {"update_id": 1, "edited_message": message | {"edit_date": 1_764_000_100}},
        "channel-post": {
            "update_id": 2,
            "channel_post": _without(message, "from")
            | {"chat": {"id": -1001, "type": "channel", "title": "公告"}},
        },
        "from-a-bot": _with(text, ["message", "from", "is_bot"], True),
        "no-sender": _without(text, "message", "from"),
        "last-name": _with(text, ["message", "from", "last_name"], "小明"),
        "text-and-caption": _with(text, ["message", "caption"], "说明"),  # text comes first
        "empty-text-and-caption": _with(
            _with(text, ["message", "caption"], " 说明 "), ["message", "text"], ""
        ),
        "group-type": _with(text, ["message", "chat"], {"id": GROUP, "type": "group"}),
        "sticker": _without(text, "message", "text")
        | {"message": _without(message, "text") | {"sticker": _STICKER}},
        "voice": _with(text, ["message", "voice"], _file(duration=3, file_size=900)),
        "video": _with(
            text,
            ["message", "video"],
            _file(duration=3, width=640, height=480, file_name="现场.mp4", file_size=None),
        ),
        "document-and-photo": fake.group_message(GROUP, 2001, "/new 材料", document=True)
        | {"update_id": 3},
        "poll": {"update_id": 4, "poll": _POLL},
        "my-chat-member": {
            "update_id": 5,
            "my_chat_member": {
                "chat": {"id": GROUP, "type": "supergroup", "title": "众创空间服务群"},
                "from": FakeTelegram.user(2001),
                "date": 1_764_000_000,
                "old_chat_member": {"status": "left", "user": fake.bot_user},
                "new_chat_member": {"status": "member", "user": fake.bot_user},
            },
        },
        "only-an-id": {"update_id": 6},
        "null-message": {"update_id": 7, "message": None},
        "null-query": {"update_id": 8, "callback_query": None, "message": message},
    }
    samples["document-and-photo"]["message"]["photo"] = samples["photo-caption"]["message"]["photo"]
    return samples


_POLL = {
    "id": "1", "question": "哪天开会？", "total_voter_count": 0, "is_closed": False,
    "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
    "allows_revoting": False, "members_only": False,
    "options": [
        {"text": "周一", "voter_count": 0, "persistent_id": "a"},
        {"text": "周二", "voter_count": 0, "persistent_id": "b"},
    ],
}  # fmt: skip


_STICKER = {
    "file_id": "CAACsticker", "file_unique_id": "sticker", "type": "regular", "width": 512,
    "height": 512, "is_animated": False, "is_video": False,
}  # fmt: skip


def _file(**fields: Any) -> Json:
    return {"file_id": "BQACfile", "file_unique_id": "unique"} | fields


def _without(update: Json, *path: str) -> Json:
    """``update`` with the key at ``path`` removed (a copy)."""
    changed = copy.deepcopy(update)
    *parents, last = path
    inner = changed
    for key in parents:
        inner = inner[key]
    del inner[last]
    return changed


def _with(update: Json, path: list[str], value: object) -> Json:
    """``update`` with ``value`` at ``path`` (a copy)."""
    changed = copy.deepcopy(update)
    *parents, last = path
    inner = changed
    for key in parents:
        inner = inner[key]
    inner[last] = value
    return changed


SAMPLES = _samples()


def _ptb_expected(update: Json) -> Received | None:
    """What the PTB path took from ``update``, where the slim reader means to do the same.

    Five differences are meant, all for input Telegram never sends. An update of a kind the
    bot does not take (an edited message, a poll) is acknowledged unread whatever it holds (PTB
    parsed it, and refused it when broken: the webhook answered "ok" either way). A button
    press whose ``id`` is not a string is refused (PTB sent it on to ``answerCallbackQuery`` as
    it was), and so is a ``photo`` that is not a list (PTB took ``""`` or ``{}`` as no photo)
    and a file whose ``file_id`` is not a string (PTB made it one with ``str()``, so that the
    reference's own check for it never saw anything else). And an id written ``true`` or
    ``false`` is refused (PTB took it for 1 or 0; a chat id ``True`` then failed the webhook's
    answer with a 500).
    """
    expected = ptb_read(update, BOT_ID, NOW)
    if isinstance(update.get("update_id"), bool):
        return None
    if (
        isinstance(update.get("update_id"), int)
        and update.get("message") is None
        and update.get("callback_query") is None
    ):
        return Received(None)
    query = update.get("callback_query")
    if isinstance(query, dict) and not isinstance(query.get("id"), str):
        return None
    given = [update.get("message"), query.get("message") if isinstance(query, dict) else None]
    given += [m.get("reply_to_message") for m in given if isinstance(m, dict)]
    messages: list[dict[str, Any]] = [m for m in given if isinstance(m, dict)]
    people = [m.get("from") for m in messages] + [
        query.get("from") if isinstance(query, dict) else None
    ]
    ids = [m.get("message_id") for m in messages]
    ids += [m["chat"].get("id") for m in messages if isinstance(m.get("chat"), dict)]
    ids += [p.get("id") for p in people if isinstance(p, dict)]
    if any(isinstance(i, bool) for i in ids):
        return None
    if any(not isinstance(m.get("photo"), list | None) for m in messages):
        return None
    files = [f for m in messages for f in [*(m.get("photo") or ()), *map(m.get, _FILE_KINDS)]]
    if any(isinstance(f, dict) and not isinstance(f.get("file_id"), str) for f in files):
        return None
    return expected


_FILE_KINDS = ("document", "voice", "video")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_slim_reader_takes_what_ptb_took(name: str) -> None:
    update = SAMPLES[name]
    assert read_update(copy.deepcopy(update), BOT_ID, NOW) == ptb_read(update, BOT_ID, NOW)


def test_the_samples_cover_every_outcome() -> None:
    results = [ptb_read(update, BOT_ID, NOW) for update in SAMPLES.values()]
    taken = [r.message for r in results if r is not None and r.message is not None]
    assert any(r is not None and r.message is None and r.query_id is None for r in results)
    assert any(r is not None and r.message is None and r.query_id is not None for r in results)
    assert any(m.choice for m in taken)
    assert any(m.reply_to and m.quoted for m in taken)
    assert {a.kind for m in taken for a in m.attachments} == {"photo", "document", "voice", "video"}
    assert any(m.sender.display_name == "张三 小明" for m in taken)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_polled_update_is_read_as_the_webhook_reads_it(name: str) -> None:
    # The poller hands over PTB's Update as ``to_dict()``: the round trip loses nothing read.
    update = SAMPLES[name]
    polled = Update.de_json(copy.deepcopy(update), None).to_dict()
    assert read_update(polled, BOT_ID, NOW) == read_update(update, BOT_ID, NOW)


# --- the samples with a field the bot reads broken ---------------------------------------------

READ = frozenset(
    {"update_id", "message", "callback_query", "message_id", "chat", "id", "type", "from",
     "is_bot", "first_name", "last_name", "language_code", "text", "caption", "photo",
     "document", "voice", "video", "file_id", "file_size", "file_name", "reply_to_message",
     "data"}
)  # fmt: skip
"""Keys whose value the bot reads (somewhere: ``id`` is a chat's, a user's and a press's)."""
REQUIRED = frozenset({"date", "chat_instance", "file_unique_id", "width", "height", "duration"})
"""Keys the bot does not read but Telegram always sends, so PTB refused an update without them."""

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


def _paths(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every key path in ``value`` (list items by index)."""
    found: list[tuple[str | int, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        found.append((*path, key))
        found.extend(_paths(inner, (*path, key)))
    return found


_CONTENT = ("text", "caption", "photo", "document", "voice", "video", "from")
_FILE = ("file_size", "file_name")
INSERTS: dict[tuple[str | int, ...], tuple[str, ...]] = {
    ("message",): (*_CONTENT, "reply_to_message"),
    ("message", "reply_to_message"): _CONTENT,
    ("callback_query",): ("data", "message"),
    ("callback_query", "message"): _CONTENT,
}
"""Where a key the bot reads may be added, by the path of the object it is added to."""


def _inserts(path: tuple[str | int, ...]) -> tuple[str, ...]:
    if path in INSERTS:
        return INSERTS[path]
    if path[-1] == "from":
        return ("last_name", "language_code")
    if path[-1] in _FILE_KINDS or path[-2:-1] == ("photo",):
        return _FILE
    return ()


@st.composite
def _broken(draw: st.DrawFn) -> Json:
    """A sample with one field the bot reads replaced, added, or (if Telegram sends it) removed.

    Only inside what the bot reads: a sticker's or an edited message's fields are not. A key the
    bot does not read but Telegram always sends (a message's ``date``) is only removed.
    """
    update = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    paths = [p for p in _paths(update) if all(k in READ | REQUIRED or k in range(9) for k in p)]
    hosts = [p for p in paths if _inserts(p) and isinstance(_at(update, p), dict)]
    if hosts and draw(st.integers(0, 2)) == 0:
        path = draw(st.sampled_from(hosts))
        key: str | int = draw(st.sampled_from(_inserts(path)))
        inner = _at(update, path)
        inner[key] = draw(_values)
        return update
    *parents, key = draw(st.sampled_from(paths))
    inner = _at(update, tuple(parents))
    if key in REQUIRED or (draw(st.booleans()) and not isinstance(key, int)):
        del inner[key]
    else:
        inner[key] = draw(_values)
    return update


def _at(update: Json, path: tuple[str | int, ...]) -> Any:
    inner: Any = update
    for key in path:
        inner = inner[key]
    return inner


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(update=_broken())
def test_a_broken_update_is_refused_or_taken_as_ptb_did(update: Json) -> None:
    assert read_update(copy.deepcopy(update), BOT_ID, NOW) == _ptb_expected(update)
