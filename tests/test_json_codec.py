"""The channels' JSON (orjson) reads and refuses what the standard library did."""

from __future__ import annotations

import json

import pytest

from bot.channels.json_codec import dumps, loads


@pytest.mark.parametrize(
    "text",
    [
        '{"update_id": 1, "message": {"text": "服务小组有几个人？", "chat": {"id": -100200}}}',
        r'{"text": "/new 想咨询\u0000公司注册\ud800材料", "id": "a1"}',  # orjson refuses these
        r'"\udfff"',
        '{"a": NaN, "b": Infinity, "c": 1e400}',
        '{"a": 1, "a": 2}',
        " [1, 2.5, true, null] ",
    ],
)
def test_what_json_reads_is_read_the_same(text: str) -> None:
    expected = json.loads(text)
    assert repr(loads(text)) == repr(expected)
    assert repr(loads(text.encode())) == repr(expected)


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        ("", ValueError),
        ("{", ValueError),
        (b"\xff\xfe{", ValueError),
        ('{"text": ' + "9" * 5000 + "}", ValueError),  # more digits than int() takes
        ("[" * 50_000, RecursionError),
    ],
)
def test_what_json_refuses_is_refused_the_same(data: str | bytes, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        json.loads(data)
    with pytest.raises(refusal):
        loads(data)


def test_answers_keep_their_characters() -> None:
    body = {"text": "来源：服务指南 ✓", "chat_id": -1002000000001, 3: [1.5, None, True]}
    written = dumps(body)
    assert "来源：服务指南 ✓" in written
    assert json.loads(written) == json.loads(json.dumps(body))


def test_an_answer_orjson_cannot_write_is_written_escaped() -> None:
    written = dumps({"text": "a\ud800b", "big": 2**70})
    assert written.isascii()
    assert json.loads(written) == {"text": "a\ud800b", "big": 2**70}
