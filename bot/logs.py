"""Log lines: text for a terminal, or JSON lines for a log collector (``BOT_LOG_FORMAT``).

Every line written while a message about a service request is handled carries the request's
number (``request`` in JSON, ``[2026-0001]`` in text), so one request's story can be read
across processes with one search.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["REQUEST", "JsonLines", "about", "concerning", "configure", "handler"]

REQUEST: ContextVar[str | None] = ContextVar("makerdesk_request", default=None)
"""The number of the request the current message is about, if any."""


def concerning(number: str | None) -> None:
    """Mark the rest of this message's handling (this task) as about request ``number``."""
    REQUEST.set(number)


@contextlib.contextmanager
def about(number: str | None) -> Iterator[None]:
    """Mark the lines logged inside the block as about request ``number`` (``None``: no request).

    The mark ends with the block, so a loop that works through several requests in one task
    (the outbox sender, the scheduler) never lends one request's number to the next.
    """
    token = REQUEST.set(number)
    try:
        yield
    finally:
        REQUEST.reset(token)


class _Request(logging.Filter):
    """Puts the current request's number on every record (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request = REQUEST.get()
        return True


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        number = getattr(record, "request", None)
        return line.replace(": ", f" [{number}]: ", 1) if number else line


class JsonLines(logging.Formatter):
    """One JSON object a line.

    Its keys: ``at`` (UTC), ``level``, ``logger``, ``message``, ``request`` (when there is
    one) and ``error`` (the traceback, when there is one).
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        number = getattr(record, "request", None)
        if number:
            entry["request"] = number
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def handler(stream: TextIO, json_lines: bool = False) -> logging.Handler:
    """A handler that writes to ``stream`` as text or as JSON lines, request numbers included."""
    writer = logging.StreamHandler(stream)
    writer.addFilter(_Request())
    writer.setFormatter(
        JsonLines() if json_lines else _Text("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    return writer


def configure(level: str, json_lines: bool = False) -> None:
    """Send every log line to stderr, as text or as JSON lines."""
    logging.basicConfig(level=level, handlers=[handler(sys.stderr, json_lines)], force=True)
    # httpx logs every request with its URL, and the Bot API URL carries the bot's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
