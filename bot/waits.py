"""Waiting for the first of several things, for the loops that run beside the channels."""

from __future__ import annotations

import asyncio

__all__ = ["first_of"]


async def first_of(*events: asyncio.Event, within: float) -> None:
    """Wait until any of ``events`` is set, or ``within`` seconds have passed."""
    # A loop waits on `stop` too: waiting on its wake event alone kept every process up to an
    # idle interval (a second) from exiting.
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
