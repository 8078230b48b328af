r"""JSON on the channels' hot paths: orjson, with the standard library for what orjson refuses.

Every message in and every answer out goes through here (the Telegram webhook's update and its
answer, the web chat's and the console's requests and answers). orjson reads an update in
about a quarter of the standard library's time and writes faster still. Where it refuses what
the standard library takes, the standard library decides, so that what is accepted, and how a
refusal looks (a ``ValueError``, or a ``RecursionError`` for deep nesting), stay as they were:
orjson refuses a lone surrogate escape (``"\ud800"``, which the web chat stores as U+FFFD),
``NaN`` and numbers beyond a double. The one difference left: orjson reads a whole number
beyond 64 bits as a float, where nothing the bot reads is a float (such an update id or chat id
is refused as the wrong type).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

__all__ = ["dumps", "json_response", "loads"]


def loads(data: bytes | str) -> Any:
    """The value ``data`` holds.

    Raises:
        ValueError: ``data`` is not JSON (``json.JSONDecodeError``), or bytes that are not
            text (``UnicodeDecodeError``), or a number with more digits than ``int()`` takes.
        RecursionError: Arrays or objects nested deeper than Python's recursion limit.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: object) -> str:
    """``value`` as compact JSON text, non-ASCII characters as they are.

    Raises:
        TypeError: ``value`` holds something JSON cannot express.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # A lone surrogate (orjson only writes valid UTF-8) or an int beyond 64 bits: escaped
        # to ASCII, the text can still be sent.
        return json.dumps(value, separators=(",", ":"))


def json_response(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``body`` as an ``application/json`` response (UTF-8), written by :func:`dumps`."""
    return web.json_response(body, status=status, headers=headers, dumps=dumps)
