"""What reached the chats: the fake platforms' records and the answers in HTTP responses.

The tests' fake Telegram Bot API and fake WeChat API record every message the bot sends, each
with the outbox row its call named (a card's edit counts, even one Telegram refused as "not
modified"); the poster adds what came back in a response (a Telegram webhook's method call, a
WeChat passive reply) with the key of the message it posted. The people wait on the
:class:`Inbox` for their answers, and the checker weighs its arrivals.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.faults.checker import Arrival
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import CUSTOM_SEND, FakeWeChat

ANSWER_WAIT_S = 60.0
"""How long a person waits for an answer before the message counts as lost, beyond the outbox
lease (what a killed process had taken waits for it)."""
POLL_S = 0.005
_CARD = re.compile(r"工单 (\d{4}-\d{4})")


class Inbox:
    """Every message that reached a chat, from the fakes' records and the HTTP responses."""

    def __init__(self, telegram: FakeTelegram, wechat: FakeWeChat) -> None:
        self._telegram = telegram
        self._wechat = wechat
        self.arrivals: list[Arrival] = []
        """Everything, in the order it was noted: what the oracle weighs."""
        self.by_chat: dict[str, list[Arrival]] = defaultdict(list)
        self.reached: set[int] = set()
        """The outbox rows a platform has accepted a call for (by the id the call named)."""
        self._cards: dict[str, Arrival] = {}
        self._new_card = asyncio.Event()
        self._changed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._telegram_read = 0
        self._wechat_read = 0
        # Telegram's fake stamps calls with the wall clock; latency runs on the monotonic one.
        self._wall_to_monotonic = time.monotonic() - time.time()

    def add(self, arrival: Arrival) -> None:
        """Note ``arrival`` and wake whoever waits on its chat."""
        self.arrivals.append(arrival)
        self.by_chat[arrival.chat].append(arrival)
        if arrival.outbox_id is not None:
            self.reached.add(arrival.outbox_id)
        if arrival.message_id is not None and (card := _CARD.search(arrival.text)):
            self._cards.setdefault(card.group(1), arrival)
            self._new_card.set()
        self._changed[arrival.chat].set()

    def read_fakes(self) -> None:
        """Take what the fakes recorded since the last call."""
        calls = self._telegram.calls
        for call in calls[self._telegram_read :]:
            if call.method not in ("sendMessage", "editMessageText"):
                continue
            if call.status != 200 and not self._unchanged(call.params):
                continue
            message_id = call.result.get("message_id") if isinstance(call.result, dict) else None
            at = call.at.timestamp() + self._wall_to_monotonic
            text = str(call.params.get("text", ""))
            chat = str(call.params.get("chat_id"))
            self.add(Arrival(chat, text, at, message_id, outbox_id=call.outbox_id))
        self._telegram_read = len(calls)
        wechat_calls = self._wechat.calls
        for wechat_call in wechat_calls[self._wechat_read :]:
            if wechat_call.path != CUSTOM_SEND or not wechat_call.ok or not wechat_call.body:
                continue
            content = (wechat_call.body.get("text") or {}).get("content", "")
            self.add(
                Arrival(
                    str(wechat_call.touser),
                    str(content),
                    wechat_call.at,
                    outbox_id=wechat_call.outbox_id,
                )
            )
        self._wechat_read = len(wechat_calls)

    async def watch(self, stop: asyncio.Event) -> None:
        """Read the fakes every few milliseconds until ``stop`` is set."""
        while not stop.is_set():
            self.read_fakes()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)
        self.read_fakes()

    def _unchanged(self, params: dict[str, Any]) -> bool:
        """An edit Telegram refused as "not modified": the chat already shows its text."""
        key = (params.get("chat_id"), params.get("message_id"))
        shown = self._telegram.messages.get(key)  # type: ignore[arg-type]
        return shown is not None and shown.get("text") == params.get("text")

    def mark(self, chat: str) -> int:
        """Where ``chat``'s messages stand now, to wait for one after it."""
        return len(self.by_chat[chat])

    async def expect(
        self, chat: str, wanted: Callable[[str], bool], since: int, wait_s: float = ANSWER_WAIT_S
    ) -> Arrival:
        """The first message to ``chat`` after ``since`` that is ``wanted``.

        Raises:
            TimeoutError: None came within ``wait_s``.
        """
        async with asyncio.timeout(wait_s):
            while True:
                event = self._changed[chat]
                event.clear()
                found = next((a for a in self.by_chat[chat][since:] if wanted(a.text)), None)
                if found is not None:
                    return found
                await event.wait()

    async def card(self, number: str, wait_s: float = ANSWER_WAIT_S) -> Arrival:
        """The card of request ``number`` in its duty group (the first copy, should there be two).

        Raises:
            TimeoutError: It did not come within ``wait_s``.
        """
        async with asyncio.timeout(wait_s):
            while number not in self._cards:
                self._new_card.clear()
                await self._new_card.wait()
        return self._cards[number]
