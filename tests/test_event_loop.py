"""The bot runs on uvloop where it is installed, and on asyncio's own loop where it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.server import new_event_loop

uvloop = pytest.importorskip("uvloop", reason="no uvloop here (Windows): asyncio's loop runs")


def test_uvloop_runs_where_installed() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert not isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_asyncio_runs_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now fails
    loop = new_event_loop()
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
