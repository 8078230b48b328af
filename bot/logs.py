"""Log lines: text for a terminal, or JSON lines for a log collector (``BOT_LOG_FORMAT``).

Every line written while a message about a service request is handled carries the request's
number (``request`` in JSON, ``[2026-0001]`` in text), so one request's story can be read
across processes with one search.

No secret reaches a line, whatever ``BOT_LOG_LEVEL`` says: the libraries that print tokens,
URLs or SQL parameters when chatty are held at INFO or WARNING, and every line (ours and the
libraries', message, arguments and traceback) passes a filter that writes ``***`` over the
secrets the bot was given or derived (:func:`register_secret`), over anything shaped like a
Telegram bot token, an ``access_token=``, a password in a URL or a mobile number, and over the
parameters SQLAlchemy prints with a failed statement.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

__all__ = [
    "REQUEST",
    "JsonLines",
    "Outage",
    "about",
    "concerning",
    "configure",
    "handler",
    "redact",
    "register_secret",
]

REQUEST: ContextVar[str | None] = ContextVar("makerdesk_request", default=None)
"""The number of the request the current message is about, if any."""

QUIET = {
    # Their DEBUG lines carry the Bot API URL (the token in its path) and every call's
    # parameters: the webhook secret, and the people's texts.
    "telegram": logging.INFO,
    # One INFO line per request with its full URL: the Bot API's has the token in it.
    "httpx": logging.WARNING,
    "httpcore": logging.INFO,
    "hpack": logging.WARNING,
    "h2": logging.INFO,
    # Every statement with its parameters: questions, phone numbers, chat ids.
    "aiosqlite": logging.INFO,
    "sqlalchemy": logging.WARNING,
    "asyncpg": logging.INFO,
    # A line for each plugin it sets up and each migration step, on every command that opens the
    # database: noise to the admins' tools. The bot says in one line what an upgrade changed.
    "alembic": logging.WARNING,
    # Calls of api.weixin.qq.com, access token in the query string.
    "wechatpy": logging.INFO,
    "aiohttp.client": logging.WARNING,
    # Each request line with its query string (a console sign-in link's token).
    "aiohttp.access": logging.WARNING,
    "asyncio": logging.INFO,
}
"""Third-party loggers and the most they may say, whatever the bot's own level."""

_HIDDEN = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A Telegram bot token, in the API's URLs (/bot<token>/, /file/bot<token>/) or anywhere.
    (re.compile(r"(/(?:file/)?bot)[0-9]+:[^/\s'\"]+"), rf"\1{_HIDDEN}"),
    (re.compile(r"(?<![0-9])[0-9]+:[A-Za-z0-9_-]{30,}"), _HIDDEN),
    # Secrets in query strings (WeChat's access_token and AppSecret) and in dict or JSON reprs.
    (
        re.compile(r"(?i)((?:access_token|secret|secret_token|appsecret)=)[^&\s'\"]+"),
        rf"\1{_HIDDEN}",
    ),
    (
        re.compile(
            r"(?i)(['\"](?:access_token|secret|secret_token|appsecret)['\"]\s*:\s*['\"])[^'\"]+"
        ),
        rf"\1{_HIDDEN}",
    ),
    # The password of a database URL: scheme://user:password@host.
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\1{_HIDDEN}@"),
    # A mainland mobile number, whatever carried it.
    (re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"), _HIDDEN),
    # What a failed statement was given: SQLAlchemy appends its parameters, PostgreSQL names
    # the values of a violated key. Both are the people's words.
    (re.compile(r"(\[parameters: ).*"), rf"\1{_HIDDEN}]"),
    (re.compile(r"(DETAIL: ).*"), rf"\1{_HIDDEN}"),
)
"""Secrets found by their shape, with what they become."""

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_registered: re.Pattern[str] | None = None
"""The registered secrets as one pattern, longest first (so no part of one is left over)."""


def register_secret(value: str | None) -> None:
    """From now on, write ``***`` wherever ``value`` would appear in a log line.

    The bot registers the secrets it is given (:func:`configure`) and those it derives, where
    it derives them (the Telegram webhook secret). ``None`` and blank values are ignored.
    """
    global _registered  # noqa: PLW0603 - one registry for every handler in the process
    if value is None or not value.strip():
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _registered = re.compile("|".join(re.escape(secret) for secret in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret and every secret-shaped string as ``***``."""
    registered = _registered
    if registered is not None:
        text = registered.sub(_HIDDEN, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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


class Outage:
    """Says once that a loop cannot reach the database, and once that it can again.

    A loop that retries every second (the outbox sender) would otherwise write a traceback a
    second for as long as the database is down, and bury everything else in the log.
    """

    def __init__(self, logger: logging.Logger, loop: str) -> None:
        """Speak for ``loop`` (``outbox``, ``scheduler``) through ``logger``."""
        self._logger = logger
        self._loop = loop
        self._down = False

    def failed(self, error: BaseException) -> None:
        """A round failed because the database is unavailable."""
        if not self._down:
            self._logger.warning(
                "%s: the database is unavailable (%s); trying again every round",
                self._loop,
                type(error).__name__,
            )
        self._down = True

    def succeeded(self) -> None:
        """A round went through."""
        if self._down:
            self._logger.info("%s: the database is back", self._loop)
        self._down = False


class _Request(logging.Filter):
    """Puts the current request's number on every record (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request = REQUEST.get()
        return True


class _Quiet(logging.Filter):
    """Drops the lines of :data:`QUIET` loggers below their cap.

    Their levels are capped too (:func:`configure`), which spares making the records; this
    holds even when a library sets its own loggers' levels (SQLAlchemy's ``echo``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        while True:
            cap = QUIET.get(name)
            if cap is not None:
                return record.levelno >= cap
            if "." not in name:
                return True
            name = name.rpartition(".")[0]


class _Redact(logging.Filter):
    """Writes ``***`` over the secrets in a record's message, arguments and traceback."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments are merged first: their str() may hold a secret their type hides.
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format: logging would print them raw as an error.
            message = f"{record.msg} (its arguments did not fit; not shown)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
        if record.exc_text:  # the traceback as the redacting filter left it
            entry["error"] = record.exc_text
        elif record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def handler(stream: TextIO, json_lines: bool = False) -> logging.Handler:
    """A handler that writes to ``stream`` as text or as JSON lines, request numbers included.

    Its lines are redacted (:func:`redact`), and the :data:`QUIET` loggers keep to their caps.
    """
    writer = logging.StreamHandler(stream)
    writer.addFilter(_Quiet())
    writer.addFilter(_Request())
    writer.addFilter(_Redact())
    writer.setFormatter(
        JsonLines() if json_lines else _Text("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    return writer


def configure(level: str, json_lines: bool = False, secrets: Iterable[str | None] = ()) -> None:
    """Send every log line to stderr, as text or as JSON lines, with ``secrets`` as ``***``.

    Args:
        level: The bot's level name (``BOT_LOG_LEVEL``); the :data:`QUIET` libraries say no
            more than their caps even at ``DEBUG``.
        json_lines: One JSON object a line instead of text.
        secrets: The values no line may show: tokens, AppSecret, keys (see
            :func:`register_secret`).
    """
    for secret in secrets:
        register_secret(secret)
    logging.basicConfig(level=level, handlers=[handler(sys.stderr, json_lines)], force=True)
    floor = logging.getLogger().level
    for name, cap in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, cap))
