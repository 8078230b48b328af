"""Load and faults: bot processes on one PostgreSQL, killed at random, nothing lost or doubled.

A burst of entrepreneurs on Telegram and WeChat, and the commissioners answering them, reach
``python -m bot run`` processes that share one scratch PostgreSQL database. In the faulty phase
one of two processes is killed with ``SIGKILL`` at random points of the run and started again at
once, as systemd's ``Restart=always`` would. At the end, what the platforms received is
compared with what the database says was sent, message by message.

Everything runs on 127.0.0.1, in this process unless said otherwise:

* **the platforms**: the tests' fake Telegram Bot API (:class:`FakeTelegram`) and fake WeChat
  API (:class:`FakeWeChat`), which record every message the bot sends, each with the outbox row
  its call named (``X-MakerDesk-Outbox``); plus what came back in HTTP responses (a Telegram
  webhook's method call, a WeChat passive reply), recorded by the poster with the key of the
  message it posted. Together they are the :class:`Inbox`.
* **the load balancer** (:class:`Balancer`): each post goes to the next process in turn; a
  refused or broken connection, a timeout or a 5xx is tried again on the next one after a
  short pause, with the same update id or MsgId. That is a reverse proxy in front and the
  platform's own redelivery behind it, and it is what makes a kill survivable at all: a
  message a dying process took is delivered again, and the dedup key makes the second
  handling answer with the first one's reply.
* **the processes** (:class:`Node`): ``python -m bot run`` as shipped, Telegram by webhook,
  WeChat in safe (encrypted) mode, the shipped knowledge base and a city's roster
  (:func:`city_roster`: 96 maker spaces in 8 districts, a duty group with its own Telegram chat
  for each, since Telegram lets a bot post only 20 messages a minute in one group).
* **the people** (:func:`entrepreneur`, through a :class:`TelegramVoice` or a
  :class:`WeChatVoice`): each entrepreneur picks a maker space and asks two questions of the
  check set the knowledge base answers; one in :data:`REQUEST_EVERY` then opens a request with
  a tag of their own in its text and waits for the commissioner's answer, which a member of the
  duty group gives by replying to the request's card in the Telegram group, or (one in four) by
  ``#number`` from WeChat. Each message waits for its answer before the next, as a person would;
  ``concurrency`` entrepreneurs go at once.
* **the deadlines**: before the processes start, requests are opened in this process on a
  clock set weeks back, so they are overdue when the processes start; both processes'
  schedulers then race to send their overdue notices and escalations.
* **the killer** (faulty phase): at ``kills`` random points of the stream of inbound messages,
  ``SIGKILL`` to a random process, then started again. Right after each kill it notes the rows
  **in flight**: those a platform already has (by id) that the database does not yet record as
  sent. Only these may the dead process have delivered without recording it.

The check at the end, once the outbox is empty (or ``drain_s`` has passed):

* **requests**: created = asked (each entrepreneur's tag appears in exactly one request);
* **deliveries**, by the outbox row's id (:func:`judge`): every row the bot wrote during the
  phase reached its chat exactly once. A copy is a platform call that named the row (a card's
  edit counts, also one Telegram refused as "not modified"; a long WeChat message counts by its
  first part) or, for a row handed back in a webhook's response, that response to the message
  the row answers. No copy, or a row not ``sent`` at the end, is a lost message. A second copy
  is **in doubt** only if the row was in flight at a kill, and each kill explains at most one
  extra copy of each row in flight then: the platform had accepted it, the process died before
  it could record that, and another process sent it again when the lease ran out (Telegram and
  WeChat take no idempotency key, so no sender can close that window). Any other second copy,
  notices and escalations included, is **doubled otherwise**: a defect. A message that reached
  a chat naming no row of the phase, or another row's chat or text, is unexplained: a defect.
* **latency** of each inbound message: from its first post to the arrival of its answer (the
  commissioner's reply counts when it reaches the entrepreneur); **throughput**: inbound
  messages over the time from the first post to the last answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import func, select

from bench.figures import print_markdown
from bench.load import questions
from bench.procs import POSTGRES_URL, SHIPPED_FAQ, scratch_database
from bot.app import create_bot
from bot.channels.wechat.render import TEXT_LIMIT, render_text, split_text
from bot.clock import SHANGHAI, ManualClock
from bot.messages import Channel, IncomingMessage, OutgoingMessage, Sender
from bot.settings import load_settings
from storage import Database
from storage.models import OutboxMessage, OutboxStatus, Request

# The fake platforms and the process runner are the tests': the harness drives the bot as they do.
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import CUSTOM_SEND, FakeWeChat, WeChatPlatform, new_aes_key, text_xml
from tests.support.processes import BotProcess, clean_env

TOKEN = "424242:faults-harness-token"
WECHAT_TOKEN = "faults-harness"
WECHAT_AES_KEY = new_aes_key()
"""Safe mode, as production runs: in plain mode no commissioner may answer on WeChat."""
APP_ID = "wxfaultsharness01"
APP_SECRET = "faults-harness-secret"
DISTRICTS = 8
SPACES_PER_DISTRICT = 12
SPACES = DISTRICTS * SPACES_PER_DISTRICT
"""A city's worth: every maker space with a duty group of its own."""
REQUEST_EVERY = 5
"""One entrepreneur in five opens a request; the others ask and go."""


def group_chat(space: int) -> int:
    """The Telegram chat of the duty group of maker space ``space``."""
    return -1003000000000 - space


def member(space: int, which: int) -> int:
    """The Telegram id of member ``which`` (0 or 1) of ``space``'s duty group."""
    return 30_000 + 2 * space + which


def wechat_member(space: int) -> str:
    """The WeChat openid of the first member of ``space``'s duty group."""
    return f"o-faults-member-{space:03d}"


def city_roster() -> str:
    """:data:`DISTRICTS` districts, :data:`SPACES` maker spaces, a duty group for each."""
    lines = ["districts:"]
    for d in range(DISTRICTS):
        lines += [
            f"  - id: d{d}",
            f"    name: 第{d + 1}区",
            f"    supervisors: [{{name: 督导{d + 1}, telegram: {9100 + d}}}]",
            f"    supervisors_chat: {{telegram: {-1009100000000 - d}}}",
        ]
    lines.append("spaces:")
    lines += [
        f"  - {{id: s{i}, name: 第{i + 1}众创空间, district: d{i // SPACES_PER_DISTRICT}}}"
        for i in range(SPACES)
    ]
    lines.append("groups:")
    for i in range(SPACES):
        lines += [
            f"  - id: g{i}",
            f"    name: 服务{i + 1}组",
            f"    district: d{i // SPACES_PER_DISTRICT}",
            f"    chat: {{telegram: {group_chat(i)}}}",
            "    members:",
            f"      - {{name: 专员{2 * i + 1}, telegram: {member(i, 0)}, "
            f"wechat: {wechat_member(i)}}}",
            f"      - {{name: 专员{2 * i + 2}, telegram: {member(i, 1)}}}",
            f"    onsite: {{s{i}: mon}}",
        ]
    lines += ["admins:", "  - {name: 管理员, telegram: 9001}"]
    return "\n".join(lines) + "\n"


def _starts(prefix: str) -> Callable[[str], bool]:
    return lambda text: text.startswith(prefix)


def inbound_of(index: int) -> int:
    """Inbound messages of entrepreneur ``index``: space and two questions, and a request
    with its answer for one in :data:`REQUEST_EVERY`."""
    return 5 if index % REQUEST_EVERY == 0 else 3


HEALTH_WAIT_S = 60.0
ANSWER_WAIT_S = 60.0
"""How long a person waits for an answer before the message counts as lost, beyond the outbox
lease (what a killed process had taken waits for it)."""
RETRY_FOR_S = 90.0
"""How long a message is posted again (to the next process) before it counts as refused."""
KILL_SETTLE_S = 0.3
"""After a kill, how long the fakes may take to answer what the dead process had already written
to their sockets, before the rows in flight are noted (they share this process's busy loop)."""
POLL_S = 0.005
_NUMBER = re.compile(r"工单已提交：(\d{4}-\d{4})")
_CARD = re.compile(r"工单 (\d{4}-\d{4})")
T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """One phase: how many people, processes and kills."""

    entrepreneurs: int
    """Half on Telegram, half on WeChat; four inbound messages each."""
    processes: int = 2
    kills: int = 5
    concurrency: int = 48
    """Entrepreneurs going at once."""
    overdue: int = 20
    """Requests opened weeks ago, overdue when the processes start."""
    lease_s: float = 60.0
    """``BOT_OUTBOX_LEASE`` of the processes."""
    drain_s: float = 120.0
    """After the last answer, how long the outbox may take to empty."""
    seed: int = 7

    @property
    def label(self) -> str:
        """How the phase reads in the table."""
        kills = f", {self.kills} kills" if self.kills else ""
        return f"{self.processes} process{'es' if self.processes > 1 else ''}{kills}"


@dataclass(frozen=True)
class Arrival:
    """A message that reached a chat."""

    chat: str
    text: str
    at: float
    """``time.monotonic()`` when it reached the platform (or came back in a response)."""
    message_id: int | None = None
    outbox_id: int | None = None
    """The outbox row the platform call named (``X-MakerDesk-Outbox``), if it named one."""
    inbound: str | None = None
    """For an answer in a webhook's response: the key of the message posted
    (``telegram:<update_id>``, ``wechat:<MsgId>``), which the rows handed back carry."""


@dataclass(frozen=True)
class Written:
    """An outbox row, as the oracle weighs it."""

    id: int
    chat: str
    status: str
    text: str
    """What every copy of it shows, for the report."""


@dataclass
class Kill:
    """One ``SIGKILL`` and the rows it may have left delivered but not recorded."""

    at: float
    """``time.monotonic()`` of the kill."""
    node: int
    in_flight: frozenset[int]
    """Rows a platform already had (by id) and the database did not record as sent, right after
    the kill: the only rows whose delivery the dead process may not have recorded."""
    in_doubt: int = 0
    """Extra copies the comparison attributed to this kill: at most one per row in flight."""


@dataclass
class Doubled:
    """An outbox row that reached its chat more than once."""

    outbox_id: int
    chat: str
    text: str
    copies: int
    kills: list[int] = field(default_factory=list)
    """The kills (by index) the copies beyond the first are attributed to, one each."""
    otherwise: int = 0
    """Copies beyond the first that no kill explains: a defect."""


@dataclass
class Outcome:
    """What one phase measured."""

    plan: Plan
    inbound: int = 0
    retried_posts: int = 0
    asked: int = 0
    created: int = 0
    duplicate_requests: int = 0
    missing_requests: int = 0
    unanswered: list[str] = field(default_factory=list)
    rows: int = 0
    delivered: int = 0
    """Rows that reached their chat (once, or more)."""
    doubled: list[Doubled] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    notices: int = 0
    kills: list[Kill] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    """``time.monotonic()`` when the first message was posted."""
    wall_s: float = 0.0
    drain_s: float = 0.0
    logged_errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Inbound messages answered a second."""
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def percentile(self, share: float) -> float:
        """The latency below which ``share`` of the answers came."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def in_flight(self) -> int:
        """Rows in flight at the kills, all kills together."""
        return sum(len(kill.in_flight) for kill in self.kills)

    @property
    def in_doubt(self) -> int:
        """Extra copies of rows in flight at a kill, attributed to it."""
        return sum(len(d.kills) for d in self.doubled)

    @property
    def doubled_otherwise(self) -> int:
        """Extra copies no kill explains: a defect."""
        return sum(d.otherwise for d in self.doubled)

    @property
    def sound(self) -> bool:
        """Nothing lost, nothing doubled but what a kill left in doubt, every request once."""
        return (
            self.created == self.asked
            and not self.duplicate_requests
            and not self.missing_requests
            and not self.unanswered
            and not self.lost
            and not self.unexplained
            and not self.doubled_otherwise
            and all(kill.in_doubt <= len(kill.in_flight) for kill in self.kills)
        )


# ---------------------------------------------------------------- what reached the chats


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


# ---------------------------------------------------------------- the processes


class Node:
    """One ``python -m bot run`` process, started again after each kill (on a port of its
    choosing each time: :attr:`url` follows it)."""

    def __init__(self, index: int, env: dict[str, str], folder: Path) -> None:
        self.index = index
        self.url = ""
        self._env = env | {"BOT_HTTP_PORT": "0"}
        self._folder = folder
        self.process: BotProcess | None = None
        self.starts = 0
        self.logs: list[Path] = []

    async def start(self) -> None:
        """Start the process and wait until it answers its health check.

        Raises:
            AssertionError: It exited or did not answer within :data:`HEALTH_WAIT_S`.
        """
        self.starts += 1
        log = self._folder / f"node{self.index}-{self.starts}.log"
        self.logs.append(log)
        self.process = BotProcess(self._env, self._folder, log, start_up=HEALTH_WAIT_S)
        await self.process.start_async()
        self.url = self.process.url

    async def kill(self) -> None:
        """``SIGKILL``: no shutdown, no flush, open transactions and connections cut."""
        assert self.process is not None
        await self.process.kill_async()

    async def stop(self) -> None:
        """``SIGTERM``, as a service manager stops it; ``SIGKILL`` if it does not go."""
        if self.process is not None:
            await self.process.stop_async()

    def complaints(self) -> list[str]:
        """The lines at ERROR or above it logged, in all its lives."""
        found = []
        for log in self.logs:
            text = log.read_text(encoding="utf-8", errors="replace")
            found += [
                line for line in text.splitlines() if " ERROR " in line or "Traceback" in line
            ]
        return found


class Refused(Exception):
    """No process took a message within :data:`RETRY_FOR_S`."""


class Balancer:
    """The reverse proxy in front and the platform's redelivery behind, in one."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = list(nodes)
        self._turn = itertools.count()
        self._down_until = dict.fromkeys(range(len(self._nodes)), 0.0)
        self.retries = 0

    def _next(self) -> Node:
        """The next process in turn, passing over one that failed in the last second (as
        nginx's ``max_fails=1 fail_timeout=1s``) unless every one did."""
        now = time.monotonic()
        for _ in range(len(self._nodes)):
            node = self._nodes[next(self._turn) % len(self._nodes)]
            if self._down_until[node.index] <= now:
                return node
        return node

    async def forward(self, attempt: Callable[[Node], Awaitable[T | None]]) -> T:
        """``attempt`` on the next process, and on the next after a failure, until one answers.

        Raises:
            Refused: Every try failed for :data:`RETRY_FOR_S`.
        """
        deadline = time.monotonic() + RETRY_FOR_S
        for tries in itertools.count(1):
            node = self._next()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                answered = await attempt(node)
                if answered is not None:
                    return answered
            self._down_until[node.index] = time.monotonic() + 1.0
            self.retries += 1
            if time.monotonic() > deadline:
                raise Refused(f"no process took the message in {RETRY_FOR_S:.0f} s")
            await asyncio.sleep(min(0.02 * tries, 0.5))  # the platforms back off too
        raise AssertionError("unreachable")


# ---------------------------------------------------------------- the people


@dataclass
class Crowd:
    """What the people share: the platforms, the balancer, the questions, the tallies."""

    telegram: FakeTelegram
    wechat: FakeWeChat
    inbox: Inbox
    balancer: Balancer
    client: aiohttp.ClientSession
    questions: list[tuple[str, str]]
    secret: str
    outcome: Outcome
    platforms: dict[str, WeChatPlatform] = field(default_factory=dict)
    msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    progress: int = 0
    progressed: asyncio.Event = field(default_factory=asyncio.Event)
    asked_tags: list[str] = field(default_factory=list)

    @property
    def patience(self) -> float:
        """How long a person waits for an answer: what a killed process had taken waits for
        the outbox lease, and a person is that patient."""
        return self.outcome.plan.lease_s + ANSWER_WAIT_S

    async def exchange(
        self, chat: str, post: Callable[[], Awaitable[None]], wanted: Callable[[str], bool]
    ) -> Arrival:
        """Post one message and wait for its answer in ``chat``; the latency is noted.

        Raises:
            TimeoutError: No answer came within :attr:`patience` (it counts as lost).
        """
        since, started = self.inbox.mark(chat), time.monotonic()
        await post()
        try:
            arrival = await self.inbox.expect(chat, wanted, since, self.patience)
        except TimeoutError:
            came = [a.text[:40] for a in self.inbox.by_chat[chat][since:]]
            raise TimeoutError(f"{chat}: no answer came (only {came})") from None
        self.outcome.latencies.append(max(0.0, arrival.at - started))
        self.progress += 1
        self.progressed.set()
        return arrival

    async def card(self, number: str, tag: str) -> Arrival:
        """The card of request ``number`` in its group, as the commissioner sees it.

        Raises:
            TimeoutError: It never reached the group.
        """
        try:
            return await self.inbox.card(number, self.patience)
        except TimeoutError:
            raise TimeoutError(f"{tag}: the card of {number} never reached its group") from None

    async def telegram_update(self, update: dict[str, Any]) -> None:
        """Post ``update`` to the webhook; a method call in the response is delivered."""
        key = f"telegram:{update['update_id']}"

        async def attempt(node: Node) -> bool | None:
            async with self.client.post(
                f"{node.url}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": self.secret},
            ) as response:
                if response.status != 200:
                    return None
                seen = time.monotonic()
                if response.content_type == "application/json":
                    call = await response.json()
                    if isinstance(call, dict) and call.get("method") == "sendMessage":
                        chat, text = str(call.get("chat_id")), str(call.get("text", ""))
                        self.inbox.add(Arrival(chat, text, seen, inbound=key))
                return True

        self.outcome.inbound += 1
        await self.balancer.forward(attempt)

    async def wechat_text(self, openid: str, text: str, **extra: Any) -> None:
        """``openid`` writes ``text`` (a new MsgId): see :meth:`wechat_message`."""
        msg_id = next(self.msg_ids)
        await self.wechat_message(text_xml(openid, text, msg_id, **extra), msg_id)

    async def wechat_message(self, xml: str, msg_id: int) -> None:
        """Post ``xml`` (whose MsgId is ``msg_id``) signed; a passive reply in the response is
        delivered."""
        key = f"wechat:{msg_id}"

        async def attempt(node: Node) -> bool | None:
            platform = self.platforms.setdefault(
                node.url,  # a restarted process listens on a port of its own
                WeChatPlatform(f"{node.url}/wechat", WECHAT_TOKEN, APP_ID, WECHAT_AES_KEY, "safe"),
            )
            posted = await platform.post(xml, session=self.client)
            if posted.status != 200:
                return None  # no answer in 5 s, or an error: WeChat posts it again
            if posted.reply is not None and posted.reply.get("MsgType") == "text":
                openid, text = str(posted.reply.get("ToUserName")), str(posted.reply["Content"])
                self.inbox.add(Arrival(openid, text, time.monotonic(), inbound=key))
            return True

        self.outcome.inbound += 1
        await self.balancer.forward(attempt)


class TelegramVoice:
    """An entrepreneur in a private chat with the bot on Telegram."""

    def __init__(self, crowd: Crowd, index: int) -> None:
        self._crowd, self._user = crowd, 600_000 + index
        self.chat, self.tag = str(self._user), f"T{index:05d}"

    async def choose(self, space: int) -> None:
        """Press the maker space's button."""
        update = self._crowd.telegram.callback(self._user, self._user, 1, f"space:s{space}")
        await self._crowd.telegram_update(update)

    async def say(self, text: str) -> None:
        """Send ``text``."""
        await self._crowd.telegram_update(self._crowd.telegram.private_message(self._user, text))

    def request(self, words: str) -> str:
        """The message that opens a request."""
        return f"/new {self.tag} {words}"

    def shown(self, text: str) -> str:
        """``text`` as the entrepreneur reads it."""
        return text


class WeChatVoice:
    """An entrepreneur writing to the Official Account."""

    def __init__(self, crowd: Crowd, index: int) -> None:
        self._crowd = crowd
        self.chat, self.tag = f"o-faults-user-{index:06d}", f"W{index:05d}"

    async def choose(self, space: int) -> None:
        """Tap the maker space's menu link."""
        await self._crowd.wechat_text(
            self.chat, f"第{space + 1}众创空间", bizmsgmenuid=f"space:s{space}"
        )

    async def say(self, text: str) -> None:
        """Send ``text``."""
        await self._crowd.wechat_text(self.chat, text)

    def request(self, words: str) -> str:
        """The message that opens a request (WeChat users type the command's words)."""
        return f"提交工单 {self.tag} {words}"

    def shown(self, text: str) -> str:
        """``text`` as the entrepreneur reads it: commands named by their words."""
        return render_text(OutgoingMessage(self.chat, Channel.WECHAT, text))


async def entrepreneur(crowd: Crowd, voice: TelegramVoice | WeChatVoice, index: int) -> None:
    """Pick a space, ask two questions; one in :data:`REQUEST_EVERY` then opens a request and
    gets its duty group's answer (a reply to the card, or ``#number`` from WeChat)."""
    space = index % SPACES
    await crowd.exchange(voice.chat, lambda: voice.choose(space), lambda _: True)
    for asked in (index, index + 7):
        question, expected = crowd.questions[asked % len(crowd.questions)]
        answered = _starts(voice.shown(expected)[:40])
        await crowd.exchange(voice.chat, partial(voice.say, question), answered)
    if index % REQUEST_EVERY:
        return
    crowd.asked_tags.append(voice.tag)
    confirmed = await crowd.exchange(
        voice.chat, lambda: voice.say(voice.request("想咨询场地租金减免需要哪些材料")),
        lambda text: "工单已提交" in text,
    )  # fmt: skip
    found = _NUMBER.search(confirmed.text)
    assert found, confirmed.text
    number, answer_text = found.group(1), f"答复{voice.tag}：请带营业执照原件到服务站"
    if (index // REQUEST_EVERY) % 4 == 1:
        msg_id = next(crowd.msg_ids)
        xml = text_xml(wechat_member(space), f"#{number} {answer_text}", msg_id)
        answer: Callable[[], Awaitable[None]] = lambda: crowd.wechat_message(xml, msg_id)  # noqa: E731
    else:
        card = await crowd.card(number, voice.tag)
        reply = crowd.telegram.group_message(
            group_chat(space), member(space, index % 2), answer_text,
            reply_to_message_id=card.message_id,
        )  # fmt: skip
        answer = lambda: crowd.telegram_update(reply)  # noqa: E731
    await crowd.exchange(voice.chat, answer, lambda text: f"答复{voice.tag}" in text)


# ---------------------------------------------------------------- one phase


@dataclass(frozen=True)
class Seeded:
    """The outbox rows the overdue requests' opening wrote."""

    written: set[int]
    sent: set[int]
    """Handed back as replies at once, to no platform: not part of the comparison."""


async def open_overdue(url: str, roster: Path, count: int) -> Seeded:
    """Open ``count`` requests on a clock five weeks back; the outbox rows that wrote.

    They are overdue when the processes start, so their schedulers have notices to send at
    once. Everything these requests ask to send waits in the outbox for the processes.
    """
    today = datetime.now(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday() + 35)
    clock = ManualClock(datetime(monday.year, monday.month, monday.day, 2, 0, tzinfo=UTC))
    settings = load_settings(
        database_url=url,
        knowledge_dir=SHIPPED_FAQ,
        roster=roster,
        calendar=None,
        web_chat=False,
        _env_file=None,
    )
    bot = await create_bot(settings, clock)
    try:
        for index in range(count):
            user = str(700_000 + index)
            sender = Sender(Channel.TELEGRAM, user)
            for key, text, choice in (
                ("space", "", f"space:s{index % SPACES}"),
                ("new", f"/new O{index:05d} 想咨询高新技术企业认定的条件", None),
            ):
                message = IncomingMessage(
                    sender, user, text, f"seed:{index}:{key}", clock.now(), choice=choice
                )
                await bot.dispatcher.handle(message)
        async with bot.database.sessions() as session:
            written = (await session.execute(select(OutboxMessage.id, OutboxMessage.status))).all()
        handed_back = {i for i, status in written if status == OutboxStatus.HANDED_BACK}
        return Seeded({i for i, _ in written}, handed_back)
    finally:
        await bot.close()


async def run_phase(plan: Plan, server_url: str = POSTGRES_URL) -> Outcome:
    """One phase: the crowd against ``plan.processes`` processes, killed ``plan.kills`` times."""
    outcome = Outcome(plan)
    rng = random.Random(plan.seed)
    timeout = aiohttp.ClientTimeout(total=10)
    with tempfile.TemporaryDirectory(prefix="makerdesk-faults-") as tmp:
        folder = Path(tmp)
        roster = folder / "roster.yaml"
        roster.write_text(city_roster(), encoding="utf-8")
        async with (
            scratch_database(server_url) as url,
            FakeTelegram(token=TOKEN) as telegram,
            FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET) as wechat,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=plan.concurrency * 2), timeout=timeout
            ) as client,
        ):
            seeded = await open_overdue(url, roster, plan.overdue)
            env = clean_env() | {
                "BOT_DATABASE_URL": url,
                "BOT_KNOWLEDGE_DIR": str(SHIPPED_FAQ),
                "BOT_ROSTER": str(roster),
                "BOT_HTTP_HOST": "127.0.0.1",
                "BOT_WEB_CHAT": "false",
                "BOT_TELEGRAM_TOKEN": TOKEN,
                "BOT_TELEGRAM_API_URL": telegram.root,
                # The address in front of every process, as Telegram knows it.
                "BOT_TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:9",
                "BOT_WECHAT_TOKEN": WECHAT_TOKEN,
                "BOT_WECHAT_APP_ID": APP_ID,
                "BOT_WECHAT_APP_SECRET": APP_SECRET,
                "BOT_WECHAT_AES_KEY": WECHAT_AES_KEY,
                "BOT_WECHAT_API_URL": wechat.root,
                "BOT_OUTBOX_LEASE": str(plan.lease_s),
                "BOT_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
            nodes = [Node(i, env, folder) for i in range(plan.processes)]
            for node in nodes:
                await node.start()
            try:
                await _load(plan, outcome, rng, nodes, telegram, wechat, client, url, seeded)
            finally:
                for node in nodes:
                    await node.stop()
                outcome.logged_errors = [line for node in nodes for line in node.complaints()]
    return outcome


async def _load(
    plan: Plan,
    outcome: Outcome,
    rng: random.Random,
    nodes: list[Node],
    telegram: FakeTelegram,
    wechat: FakeWeChat,
    client: aiohttp.ClientSession,
    url: str,
    seeded: Seeded,
) -> None:
    inbox = Inbox(telegram, wechat)
    stop = asyncio.Event()
    watcher = asyncio.create_task(inbox.watch(stop))
    secret = telegram.webhook.secret_token or ""
    crowd = Crowd(telegram, wechat, inbox, Balancer(nodes), client, questions(), secret, outcome)
    people: list[Callable[[], Awaitable[None]]] = []
    for index in range(plan.entrepreneurs):
        voice = TelegramVoice(crowd, index) if index % 2 == 0 else WeChatVoice(crowd, index)
        people.append(lambda voice=voice, index=index: entrepreneur(crowd, voice, index))  # type: ignore[misc]
    rng.shuffle(people)
    total = sum(inbound_of(index) for index in range(plan.entrepreneurs))
    outcome.started = started = time.monotonic()
    killer = asyncio.create_task(_kill(plan, outcome, rng, nodes, crowd, client, total, url))
    queue = iter(people)

    async def person() -> None:
        for script in queue:
            try:
                await script()
            except (TimeoutError, Refused) as error:
                outcome.unanswered.append(f"{type(error).__name__}: {error}")

    try:
        await asyncio.gather(*(person() for _ in range(plan.concurrency)))
        outcome.wall_s = time.monotonic() - started
        await killer
        outcome.asked = len(crowd.asked_tags)
        outcome.retried_posts = crowd.balancer.retries
        drained = time.monotonic()
        await _drain(url, inbox, plan.drain_s)
        outcome.drain_s = time.monotonic() - drained
    finally:
        killer.cancel()
        stop.set()
        await watcher
    await _compare(outcome, crowd, url, seeded)


async def _kill(
    plan: Plan,
    outcome: Outcome,
    rng: random.Random,
    nodes: list[Node],
    crowd: Crowd,
    client: aiohttp.ClientSession,
    total: int,
    url: str,
) -> None:
    """``SIGKILL`` a random process at ``plan.kills`` random points of the stream, note the rows
    in flight, restart it."""
    points = sorted(rng.uniform(0.05, 0.85) * total for _ in range(plan.kills))
    database = Database(url)
    try:
        for point in points:
            while crowd.progress < point:
                crowd.progressed.clear()
                await crowd.progressed.wait()
            node = rng.choice(nodes)
            at = time.monotonic()
            await node.kill()
            in_flight = await _in_flight(crowd.inbox, database)
            outcome.kills.append(Kill(at, node.index, in_flight))
            await node.start()
    finally:
        await database.close()


async def _in_flight(inbox: Inbox, database: Database) -> frozenset[int]:
    """The rows a platform has (by id) that the database does not record as sent.

    Taken once the killed process is gone, so it can record nothing more; what it had already
    written to a fake's socket is given :data:`KILL_SETTLE_S` to be answered first. Rows the live
    process is delivering at that moment are among them too: its record may not be in yet.
    """
    await asyncio.sleep(KILL_SETTLE_S)  # the fakes answer what reached their sockets
    inbox.read_fakes()
    reached = set(inbox.reached)
    async with database.sessions() as session:
        unrecorded = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status.not_in((OutboxStatus.SENT, OutboxStatus.HANDED_BACK))
            )
        )
        return frozenset(reached.intersection(unrecorded))


async def _drain(url: str, inbox: Inbox, limit: float) -> None:
    """Wait until nothing is left to send and the platforms have had it all, or ``limit``."""
    database = Database(url)
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            async with database.sessions() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == OutboxStatus.PENDING)
                )
            if not pending:
                break
            await asyncio.sleep(0.2)  # the processes are sending; the database is the record
        await asyncio.sleep(0.3)  # a delivery recorded just now reaches the fake's record
        inbox.read_fakes()
    finally:
        await database.close()


async def _compare(outcome: Outcome, crowd: Crowd, url: str, seeded: Seeded) -> None:
    """Requests against what was asked; every outbox row against its copies (:func:`judge`)."""
    database = Database(url)
    try:
        async with database.sessions() as session:
            opened = (await session.execute(select(Request.id, Request.text))).all()
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.channel.in_(["telegram", "wechat"]))
                    .order_by(OutboxMessage.id)
                )
            ).all()
    finally:
        await database.close()
    tags = Counter(
        found.group(0) for _, text in opened if (found := re.search(r"[TW]\d{5}", text or ""))
    )
    overdue = {rid for rid, text in opened if re.search(r"O\d{5}", text or "")}
    outcome.created = sum(tags.values())
    outcome.duplicate_requests = sum(n - 1 for n in tags.values() if n > 1)
    outcome.missing_requests = sum(1 for tag in crowd.asked_tags if tag not in tags)
    # Handed back while they were opened, to no platform: not part of the comparison.
    written = [row for row in rows if row.id not in seeded.sent]
    outcome.notices = sum(
        1 for row in written if row.request_id in overdue and row.id not in seeded.written
    )
    copies, outcome.unexplained = count_copies(written, crowd.inbox.arrivals)
    judge(outcome, [Written(r.id, r.chat_id, r.status, _shown(r)) for r in written], copies)


def count_copies(
    rows: Sequence[OutboxMessage], arrivals: Sequence[Arrival]
) -> tuple[Counter[int], list[str]]:
    """How many times each row reached its chat, by its id; and what reached a chat unwritten.

    A platform call counts for the row it named, if it went to that row's chat with that row's
    text (for a WeChat message in parts, the first part counts, the others are its rest). A
    webhook's response counts for the rows handed back in it: those that answer the message
    posted (its key) in that chat, stored as handed back when they were written.
    """
    by_id = {row.id: row for row in rows}
    handed_back: dict[str, list[OutboxMessage]] = defaultdict(list)
    for written in rows:
        if written.inbound_key and written.status == OutboxStatus.HANDED_BACK:
            handed_back[written.inbound_key].append(written)
    copies: Counter[int] = Counter()
    unexplained: list[str] = []
    for arrival in arrivals:
        what = f"to {arrival.chat}: {arrival.text[:60]!r}"
        if arrival.inbound is not None:
            answered = [
                one.id
                for one in handed_back.get(arrival.inbound, [])
                if one.chat_id == arrival.chat and _shown(one) in arrival.text
            ]
            if not answered:
                unexplained.append(f"{what} in the response to {arrival.inbound}, no row's")
            copies.update(answered)
            continue
        row = by_id.get(arrival.outbox_id) if arrival.outbox_id is not None else None
        if row is None:
            unexplained.append(f"{what} naming outbox {arrival.outbox_id}, no row of the phase")
            continue
        if row.chat_id != arrival.chat:
            unexplained.append(f"{what} naming outbox {row.id}, which is to {row.chat_id}")
            continue
        if row.channel == Channel.WECHAT.value:
            first, *rest = _parts(row)
            if arrival.text == first:
                copies[row.id] += 1
            elif arrival.text not in rest:
                unexplained.append(f"{what} naming outbox {row.id}, whose text is {first[:60]!r}")
            continue
        if _shown(row) in arrival.text:
            copies[row.id] += 1
        else:
            unexplained.append(f"{what} naming outbox {row.id}, whose text is {_shown(row)[:60]!r}")
    return copies, unexplained


def judge(outcome: Outcome, rows: Sequence[Written], copies: Mapping[int, int]) -> None:
    """Every row reached its chat exactly once, or more often only when a kill explains it.

    Fills in ``outcome``'s rows, deliveries, losses and doublings, and each kill's in-doubt
    copies. A row with no copy, or not sent at the end, is lost. Each kill whose rows in flight
    (:attr:`Kill.in_flight`) include a doubled row explains one extra copy of it, the earliest
    kill first; the copies no kill explains are doubled otherwise.
    """
    outcome.rows = len(rows)
    for row in rows:
        seen = copies.get(row.id, 0)
        if row.status not in (OutboxStatus.SENT, OutboxStatus.HANDED_BACK):
            outcome.lost.append(
                f"{row.status} after the run ({seen} copies): outbox {row.id} to {row.chat}"
            )
            continue
        if not seen:
            what = f"outbox {row.id} to {row.chat}: {row.text[:60]!r}"
            outcome.lost.append(f"never reached its chat: {what}")
            continue
        outcome.delivered += 1
        if seen == 1:
            continue
        caught = [k for k, kill in enumerate(outcome.kills) if row.id in kill.in_flight]
        explained = caught[: seen - 1]
        for k in explained:
            outcome.kills[k].in_doubt += 1
        outcome.doubled.append(
            Doubled(row.id, row.chat, row.text[:80], seen, explained, seen - 1 - len(explained))
        )


def _shown(row: OutboxMessage) -> str:
    """The part of a row's text every rendering of it on its channel contains."""
    message = OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload, row.request_id)
    if row.channel == Channel.WECHAT.value:
        return render_text(message).split("\n", 1)[0]
    return message.text


def _parts(row: OutboxMessage) -> list[str]:
    """A WeChat row's text as its customer-service messages carry it, in parts."""
    message = OutgoingMessage.from_payload(row.channel, row.chat_id, row.payload, row.request_id)
    return split_text(render_text(message), TEXT_LIMIT)


# ---------------------------------------------------------------- the run and its table


@dataclass
class Report:
    """A run: one process, two, then two killed at random, on the same load."""

    outcomes: list[Outcome]


def plans(quick: bool = False) -> list[Plan]:
    """The phases of a run, each over 10,000 inbound messages: one process, two, two killed.

    ``quick`` runs a tenth of the people, with a shorter lease so a kill's stranded messages do
    not dominate the run.
    """
    entrepreneurs = 300 if quick else 3_000  # 3.4 inbound messages each on average
    lease = 15.0 if quick else 60.0
    return [
        Plan(entrepreneurs, processes=1, kills=0, lease_s=lease),
        Plan(entrepreneurs, processes=2, kills=0, lease_s=lease),
        Plan(entrepreneurs, processes=2, kills=5, lease_s=lease),
    ]


def run(quick: bool = False) -> Report:
    """Every phase of :func:`plans`, one after the other."""
    return Report([asyncio.run(run_phase(plan)) for plan in plans(quick)])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


COLUMNS = (
    "phase", "inbound", "re-posted", "requests asked / created", "created twice / missing",
    "delivered / written", "notices", "lost", "in flight at kills", "in doubt (attributed)",
    "doubled otherwise", "msg/s", "p50", "p99", "sound",
)  # fmt: skip


def print_table(report: Report) -> None:
    """The phases side by side, then each kill of a faulty phase, then what went wrong."""
    rows = []
    for o in report.outcomes:
        rows.append(
            (
                o.plan.label,
                f"{o.inbound:,}",
                f"{o.retried_posts:,}",
                f"{o.asked:,} / {o.created:,}",
                f"{o.duplicate_requests} / {o.missing_requests}",
                f"{o.delivered:,} / {o.rows:,}",
                str(o.notices),
                str(len(o.lost) + len(o.unanswered)),
                str(o.in_flight) if o.kills else "–",
                str(o.in_doubt) if o.kills else "–",
                str(o.doubled_otherwise),
                f"{o.throughput:,.0f}",
                _ms(o.percentile(0.5)),
                _ms(o.percentile(0.99)),
                "yes" if o.sound else "**no**",
            )
        )
    notes = []
    for o in report.outcomes:
        if o.kills:
            per_kill = "; ".join(
                f"kill {k + 1} (process {kill.node}, at {kill.at - o.started:.0f} s): "
                f"{len(kill.in_flight)} in flight, {kill.in_doubt} in-doubt "
                f"cop{'y' if kill.in_doubt == 1 else 'ies'}"
                for k, kill in enumerate(o.kills)
            )
            notes.append(f"{o.plan.label}, each kill: {per_kill}.")
        problems = o.unanswered + o.lost + o.unexplained
        problems += [
            f"outbox {d.outbox_id} reached {d.chat} {d.copies}× "
            f"({len(d.kills)} in doubt, {d.otherwise} otherwise): {d.text!r}"
            for d in o.doubled
            if d.otherwise
        ]
        if problems:
            notes.append(f"{o.plan.label}: " + "; ".join(problems[:10]))
        if o.logged_errors:
            first = o.logged_errors[0][:200]
            count = len(o.logged_errors)
            notes.append(f"{o.plan.label}: the processes logged {count} error lines; {first}")
    print_markdown(
        "Load and faults: processes on one PostgreSQL, killed at random",
        "Entrepreneurs on Telegram (webhook) and WeChat (signed XML) pick a maker space and ask "
        f"two questions; one in {REQUEST_EVERY} then opens a request and gets a commissioner's "
        "answer from the duty group's chat (or from WeChat). "
        f"{report.outcomes[0].plan.concurrency} go at once, over {SPACES} maker spaces with a "
        "duty group each. Requests opened weeks earlier are overdue, so the schedulers send "
        "notices meanwhile. The faulty phase kills a random process with SIGKILL at random "
        "points and restarts it; a post that fails is posted again to the next process. "
        f"Machine: {os.cpu_count()} CPUs, shared by the processes, PostgreSQL and the harness.",
        (COLUMNS, "lrrrrrrrrrrrrrc"),
        rows,
        "Every delivery is matched to its outbox row by id: each platform call names the row it "
        "delivers (header X-MakerDesk-Outbox), and an answer in a webhook's response is matched "
        "to the message posted. Sound: every request created once, every row written delivered "
        "exactly once, none lost, nothing reaching a chat unwritten, and no second copy but "
        "those a kill explains. In flight at a kill: the rows a platform already had that the "
        "database did not yet record as sent, noted right after the SIGKILL; only these may the "
        "dead process have delivered without recording it, and another process sends them "
        "again when the lease runs out (Telegram and WeChat take no idempotency key, so no "
        "sender can close that window). Each kill explains at most one extra copy of each row "
        "in flight then (in doubt); any other extra copy, notices included, is doubled "
        "otherwise, a defect. Latency runs from an inbound message's first post to its "
        "answer's arrival; after a kill, the messages the dead process had taken wait for the "
        f"outbox lease (BOT_OUTBOX_LEASE, {report.outcomes[-1].plan.lease_s:.0f} s here) and "
        "set the p99.",
        notes,
    )


def main() -> None:
    """``python -m bench.faults [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--quick", action="store_true", help="a tenth of the load")
    args = parser.parse_args()
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
