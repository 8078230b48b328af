"""Reading a request's body whole, under a size cap and a time limit.

aiohttp's ``request.content.read(n)`` returns what is buffered so far, not the whole body: a
body that reaches the server in several TCP segments (any body over one segment on the open
Internet, a proxy that streams, nginx spooling a large body) would be read cut short. Every
endpoint that reads a body reads it here instead, to its end or not at all.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["BODY_TIMEOUT", "BodyIncomplete", "BodyTooLarge", "read_body"]

BODY_TIMEOUT = 10.0
"""Seconds a client may take to send a body once its headers are in.

Telegram and WeChat post a few kilobytes at once; a body still incomplete after this is a
stalled or hostile client, and holding its connection open would let a few hundred of them
tie up the server.
"""


class BodyTooLarge(Exception):
    """The body is over the endpoint's cap (said by Content-Length, or found while reading)."""

    def __init__(self, size: int, limit: int) -> None:
        """``size``: what was declared or read so far (at least ``limit + 1``)."""
        super().__init__(f"{size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


class BodyIncomplete(Exception):
    """The body did not arrive whole: the client stalled or closed the connection early."""


async def read_body(request: web.Request, limit: int, seconds: float | None = None) -> bytes:
    """The whole body of ``request`` (exactly Content-Length bytes, or the whole chunked body).

    Args:
        request: The request whose body to read.
        limit: The most bytes the endpoint accepts.
        seconds: How long the whole body may take to arrive (:data:`BODY_TIMEOUT`).

    Raises:
        BodyTooLarge: More than ``limit`` bytes were declared or sent; reading stops there.
        BodyIncomplete: The body stalled for ``seconds`` or the connection ended before its
            end. The caller must not acknowledge the request as handled.
    """
    seconds = BODY_TIMEOUT if seconds is None else seconds
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            # readany() waits for data and returns b"" only at the body's true end; aiohttp's
            # parser raises if the connection closes before Content-Length bytes arrived.
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(size, limit)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyIncomplete(f"no whole body within {seconds:g} s ({size} bytes came)") from None
    except (ConnectionError, ClientPayloadError, HttpProcessingError) as error:
        raise BodyIncomplete(f"the body broke off after {size} bytes ({error!r})") from None
    if declared is not None and size != declared:
        raise BodyIncomplete(f"{size} of {declared} declared bytes came")
    return b"".join(chunks)
