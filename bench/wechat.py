"""WeChat passive replies: FAQ answers end to end at 200 users, beside a bare aiohttp echo.

What is timed is what a user of the Official Account waits for: WeChat posts their message to
the bot's server URL, and the answer counts once WeChat has it. WeChat waits 5 seconds for the
HTTP response, then tells the user "该公众号暂时无法提供服务" and posts the message again; the
bot therefore replies passively (in the response) when the answer is ready within 3 s, and
otherwise answers ``success`` and sends the answer later by customer-service message. Four
processes take part, all on 127.0.0.1:

* **the bot**, ``python -m bot run`` as shipped (demo roster, shipped knowledge base, no web
  chat, no Telegram), on a fresh SQLite file in a temporary folder per run (or the database
  ``BOT_BENCH_WECHAT_DB`` names, such as an empty PostgreSQL database), with
  ``BOT_WECHAT_API_URL`` at the fake WeChat API. It runs in plain mode, or in safe mode
  (``BOT_WECHAT_AES_KEY``: every message and every reply encrypted), WeChat's recommended one.
* **a fake WeChat API** (``python -m bench.wechat fake``, in this module): the access token
  (``/cgi-bin/stable_token``, ``/cgi-bin/token``) and customer-service messages
  (``/cgi-bin/message/custom/send``). It notes every customer-service message with its OpenID,
  text and ``time.monotonic()`` at arrival; the load generator reads that list once the messages
  are posted (``GET /bench/arrivals``), so reading it costs the fake nothing while the bot is
  being measured. It counts every call by path too (``GET /bench/calls``): a token fetched per
  message, or a call the fake does not know, shows under the table.
* **a bare echo** (``python -m bench.wechat echo``): an aiohttp app that parses the XML body
  with ``xmltodict`` (the bot's parser) and answers it back as XML: the floor of "HTTP + XML in,
  XML out" on this machine.
* **the load generator**, this process: one ``aiohttp.ClientSession`` with a connector limited to
  ``CONCURRENCY`` (200) connections and as many worker tasks, taking messages from one shared
  list: 200 users, each waiting for the response to one message before sending the next, as
  WeChat's servers do for 200 users writing at once. Each request times out after 5 s, as
  WeChat's does; the benchmark does not retry (WeChat would), it counts the timeout as an error.

A message is a text message from its own user (an OpenID of its own, a ``MsgId`` unique across
runs and across invocations, so a shared ``BOT_BENCH_WECHAT_DB`` never sees one twice) asking a
question of ``bench/data/faq_check.jsonl`` that the shipped knowledge base answers outright (the
generator checks that with ``handlers.faq.answer_question`` before it starts, and keeps the
expected answer). Every message is built, signed (``signature``; in safe mode encrypted with
``wechatpy``'s ``WeChatCrypto`` and signed with ``msg_signature``) before the timed batch, so the
timed loop only sends bytes. A message counts as **answered** at the first of:

* the passive reply, the moment the response was read, when it is a text reply to the user
  (decrypted and its ``MsgSignature`` checked, in safe mode) whose ``Content`` begins with the
  knowledge base's answer (WeChat shows the answer, then its source), or
* a customer-service message to the user reaching the fake (the arrival time the fake noted),
  when its text begins with the answer.

Anything else counts as an error: a reply or a customer-service message with other text, a
reply that does not decrypt, an HTTP status other than 200, no response within 5 s, the answer
arriving twice. A response of exactly ``success`` is no error: the answer is then expected at
the fake; the "passive" column is the share of answers that came in the response. Latency runs
from just before the message is posted; "response p99" is the HTTP response's alone, which
WeChat's 5 seconds apply to (a ``success`` ends it, the answer may come later). The bot and
the generator read the same clock: ``time.monotonic()`` is the system-wide monotonic clock, and
the generator checks at start that the fake's reading falls between two of its own. Replies are
read (decrypted, parsed) only after the timed batch, so that work does not take CPU from the
server while it is measured.

Each run first sends an untimed warm-up batch (jieba's dictionary, connection pools, first
queries, the access token) and waits for its answers, then the timed batch. Throughput
(answered/s) is answered messages over the time from the first post to the last answer; acks/s is
the HTTP 200 responses over the time from the first post to the last response. The posting stops
after ``send_budget_s`` and the wait for answers ``drain_s`` after the last post, so a slow bot
still ends the benchmark in about three minutes; the messages column shows how many were actually
posted. A message still unanswered then counts as infinitely slow, and a percentile that falls on
one prints as "> drain time", a lower bound, rather than a flattering figure from the answered
few.

A closed loop of 200 users measures the bot at its limit: with 200 messages always in flight,
the mean wait is 200 divided by the answers per second (Little's law), so the latency is mostly
the queue, and a p99 of 200 ms needs at least 1,000 answers a second (about 67 to stay within
the 3 s passive budget at all). So one more row offers a steady **open-loop** load instead,
``OPEN_RATE`` (50) messages a second whatever the bot does, to the safe-mode bot right after
its closed-loop run has been answered (same process, same database, which then holds that run's
messages too): 200 users who each write every 4 seconds, the way people chat. Its latency
runs from the moment each message was due, so a generator that falls behind does not hide it.
A note under the table gives the passive share among the messages posted in the second half of
a closed-loop run: what is left of the passive path once the first burst is over.

The echo is driven by the same generator with the plain-mode bodies, query strings, headers and
concurrency; its answer is its response, checked against the message after the run. Echo and bot
runs alternate; a full benchmark runs each three times and shows the median of every figure,
``--quick`` runs each once on fewer messages.

The CPU column is CPU seconds per wall second while the timed batch is posted (``/proc``, Linux
only) of the server (bot or echo, all its threads), the load generator and the fake. Everything
shares the machine's cores (``os.cpu_count()`` is printed): on a two-core machine the generator
and the fake take CPU the server would otherwise have, so the figures are a floor for a server
on a machine of its own. ``/proc/stat`` also tells what the rest of the machine used meanwhile,
and what the hypervisor gave other virtual machines instead (steal time, told apart: on a shared
host it can take a third of a core); a row disturbed by either (a test suite running beside it,
a busy host) says so under the table. What is shared with ``bench.telegram``: the processes and
the bot's start (``bench.procs``), the load (``bench.load``), the CPU readings (``bench.cpu``)
and the table's figures (``bench.figures``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from hashlib import sha1
from math import inf
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bench.cpu import CpuMeter, cpu_notes
from bench.figures import (
    Report,
    Row,
    Sample,
    format_cpu,
    format_ms,
    format_share,
    median_or_none,
    percentile,
    print_markdown,
)
from bench.load import (
    CountingApi,
    Drive,
    FakeClient,
    Plan,
    closed_loop,
    collect,
    counted_since,
    errcode,
    everyday_questions,
    match_cache,
    post_message,
    questions,
    xml_echo,
)
from bench.procs import Bot, bot_process, cancel_on_sigterm, cli, echo_app, helpers

TOKEN = "benchtoken"
"""The Token of the account's server configuration (signs every message)."""
APP_ID = "wx0123456789abcdef"
APP_SECRET = "bench-app-secret"
ACCESS_TOKEN = "bench-access-token"
ACCOUNT = "gh_account"
"""The account's original ID: ``ToUserName`` of every message."""
CONCURRENCY = 200
OPEN_RATE = 50.0
"""Messages per second of the open-loop row."""
TARGET_P99_MS = 200.0
WECHAT_TIMEOUT_S = 5.0
"""WeChat gives up on a response after this long (and posts the message again)."""
SETTLE_S = 1.0
"""Pause between a closed-loop run and the open-loop run on the same bot: late bookkeeping."""
HEADERS = {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0", "Accept": "*/*"}
"""The request headers WeChat's servers send."""
SUCCESS = b"success"
COLUMNS = (
    "setup", "load", "messages", "distinct texts", "answered", "answered/s", "acks/s",
    "p50 (ms)", "p99 (ms)", "response p99 (ms)", "passive", "unanswered", "errors",
    "match-cache hits", "CPU server · generator · fake",
)  # fmt: skip
"""The table's columns."""

Json = dict[str, Any]
Mode = Literal["plain", "safe"]


@dataclass(frozen=True, kw_only=True)
class WeChatPlan(Plan):
    """How much one benchmark does, with the open-loop row."""

    open_s: float
    """How long the open-loop row posts at ``OPEN_RATE``."""


FULL = WeChatPlan(
    messages=4000, warmup=100, repeats=3, send_budget_s=8.0, drain_s=12.0, open_s=10.0
)
QUICK = WeChatPlan(messages=600, warmup=50, repeats=1, send_budget_s=4.0, drain_s=6.0, open_s=4.0)


@dataclass(frozen=True)
class Shot:
    """One message to post: its user, signed query, body, and what its answer must begin with."""

    openid: str
    query: str
    """``signature``, ``timestamp``, ``nonce``, ``openid`` (safe mode: ``msg_signature`` too)."""
    body: bytes
    text: str
    """The question asked."""
    expected: str
    plain: bytes
    """The message before encryption (the same as ``body`` in plain mode)."""


@dataclass(kw_only=True)
class WeChatSample(Sample):
    """One timed run of one setup, with what passive replies add to the shared figures."""

    passive: int
    """Answers that came in the HTTP response itself."""
    responses_ms: list[float]
    """One per message sent: how long the HTTP response took (``inf``: none came)."""
    successes: int = 0
    """Responses that were exactly ``success``: the answer had to come by push."""
    late_passive: float | None = None
    """Share answered in the response among the messages posted in the second half of the
    posting: the steady state, once the first burst is over."""
    examples: dict[str, str] = field(default_factory=dict)
    """Error kind → one text that caused it, for the notes."""


@dataclass(frozen=True, kw_only=True)
class WeChatRow(Row):
    """A setup's line of the table, with what passive replies add."""

    load: str
    response_p99_ms: float
    """p99 of the HTTP response time alone: what WeChat's 5-second limit applies to."""
    passive: float | None
    """Share of the answers that came in the response (``None``: none answered, or the echo)."""


# ---------------------------------------------------------------- helper processes (children)


class _FakeWeChatApi(CountingApi):
    """The WeChat API calls the bot makes, plus the generator's view of what was sent."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._stable_token)
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        self.add_counting_routes(app)
        return app

    async def _stable_token(self, request: web.Request) -> web.Response:
        self.calls[request.path] += 1
        params = await request.json()
        return self._issue(str(params.get("appid")), str(params.get("secret")))

    async def _token(self, request: web.Request) -> web.Response:
        self.calls[request.path] += 1
        return self._issue(request.query.get("appid", ""), request.query.get("secret", ""))

    def _issue(self, app_id: str, secret: str) -> web.Response:
        if app_id != APP_ID:
            return errcode(40013, "invalid appid")
        if secret != APP_SECRET:
            return errcode(40125, "invalid appsecret")
        return web.json_response({"access_token": ACCESS_TOKEN, "expires_in": 7200})

    async def _custom_send(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()  # before the body is read: the moment WeChat has the call
        self.calls[request.path] += 1
        if request.query.get("access_token") != ACCESS_TOKEN:
            return errcode(40001, "invalid credential, access_token is invalid or not latest")
        call = await request.json()
        if call.get("msgtype") == "text":
            text = str(call.get("text", {}).get("content", ""))
        else:
            text = f"<{call.get('msgtype')} message>"
        self.arrivals.append((str(call.get("touser", "")), arrived, text))
        return errcode(0, "ok")


ROLES = {"fake": lambda: _FakeWeChatApi().app(), "echo": lambda: echo_app(xml_echo)}
"""The helpers ``python -m bench.wechat ROLE`` serves."""


# ---------------------------------------------------------------- the load generator's side


@contextlib.asynccontextmanager
async def _bot(mode: Mode, aes_key: str, fake_root: str) -> AsyncIterator[tuple[Bot, str]]:
    """``python -m bot run`` on a fresh SQLite file with the WeChat channel; its server URL."""
    settings = {
        "BOT_WEB_CHAT": "false",
        "BOT_WECHAT_TOKEN": TOKEN,
        "BOT_WECHAT_APP_ID": APP_ID,
        "BOT_WECHAT_APP_SECRET": APP_SECRET,
        "BOT_WECHAT_API_URL": fake_root,
    }
    if mode == "safe":
        settings["BOT_WECHAT_AES_KEY"] = aes_key
    async with bot_process("wechat", settings) as bot:
        yield bot, f"{bot.url}/wechat"


class _Messages:
    """Makes messages the way WeChat does: a ``MsgId`` each, signed, encrypted in safe mode.

    Each asks the next of the distinct texts, so no text comes twice until they are all sent.
    """

    def __init__(self, questions: list[tuple[str, str]], aes_key: str) -> None:
        self._questions = questions
        self._crypto = WeChatCrypto(TOKEN, aes_key, APP_ID)
        # Seconds since the epoch, times a million: MsgIds and OpenIDs no earlier invocation
        # used, so a database kept between benchmarks (BOT_BENCH_WECHAT_DB) sees none twice.
        self._first = int(time.time()) * 1_000_000
        self._next = 0

    def batch(self, count: int, mode: Mode) -> list[Shot]:
        """``count`` messages from as many new users, signed for ``mode``."""
        shots = []
        for _ in range(count):
            n, self._next = self._next, self._next + 1
            msg_id = self._first + n
            openid = f"obench{msg_id:022d}"  # 28 characters, like WeChat's
            question, answer = self._questions[n % len(self._questions)]
            said = question.replace("]]>", "]]]]><![CDATA[>")  # "]]>" would end the CDATA
            timestamp, nonce = str(int(time.time())), str(1_000_000_000 + msg_id % 10**9)
            plain = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
                f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{said}]]></Content><MsgId>{msg_id}</MsgId></xml>"
            )
            query = {
                "signature": _sign(TOKEN, timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
                "openid": openid,
            }
            body = plain
            if mode == "safe":
                # WeChatCrypto makes a reply's envelope (Encrypt, MsgSignature, …); a message
                # carries the same Encrypt in its own envelope, and the signature in the query.
                envelope = xmltodict.parse(self._crypto.encrypt_message(plain, nonce, timestamp))
                encrypt = envelope["xml"]["Encrypt"]
                query |= {"encrypt_type": "aes", "msg_signature": envelope["xml"]["MsgSignature"]}
                body = (
                    f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                )
            shots.append(
                Shot(openid, urlencode(query), body.encode(), question, answer, plain.encode())
            )
        return shots

    def open_reply(self, raw: bytes, mode: Mode) -> Json:
        """A passive reply's fields, decrypted and its signature checked in safe mode.

        Raises:
            ValueError: Not a reply WeChat would accept in ``mode``.
        """
        try:
            outer = xmltodict.parse(raw, disable_entities=True)["xml"]
        except Exception as error:  # expat's errors, a missing root: all "not a reply"
            raise ValueError(f"not XML ({type(error).__name__})") from None
        if mode == "plain":
            if "Encrypt" in outer:
                raise ValueError("an encrypted reply in plain mode")
            return dict(outer)
        if "Encrypt" not in outer:
            raise ValueError("a plain reply in safe mode")
        try:
            plain = self._crypto.decrypt_message(
                outer, outer.get("MsgSignature"), outer.get("TimeStamp"), outer.get("Nonce")
            )
            return dict(xmltodict.parse(plain, disable_entities=True)["xml"])
        except Exception as error:  # a bad signature, padding or AppID: WeChat drops it
            raise ValueError(f"does not decrypt ({type(error).__name__})") from None


def _sign(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's ``signature``: sha1 of token, timestamp and nonce, sorted and joined."""
    return sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def _new_aes_key() -> str:
    """A fresh 43-character EncodingAESKey, as the Official Account settings page makes."""
    return base64.b64encode(os.urandom(32)).decode()[:-1]


@dataclass
class _Drive(Drive[str]):
    """What the workers saw: when each message left, and the responses, read later."""

    responses: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    """OpenID → when the HTTP 200 response was read, and its body."""


async def _post_one(client: aiohttp.ClientSession, url: str, shot: Shot, drive: _Drive) -> None:
    """Post ``shot`` as WeChat does and keep what came back, unread, for later."""
    response = await post_message(
        client, drive, f"{url}?{shot.query}", shot.body, HEADERS, timeout_s=WECHAT_TIMEOUT_S
    )
    if response is not None:
        seen, raw, _ = response
        drive.responses[shot.openid] = (seen, raw)


async def _post_closed(
    client: aiohttp.ClientSession, url: str, shots: Sequence[Shot], budget_s: float
) -> _Drive:
    """``CONCURRENCY`` users, each posting its next message once the last one was answered."""
    drive = _Drive()

    async def post(shot: Shot) -> None:
        drive.posted[shot.openid] = time.monotonic()
        await _post_one(client, url, shot, drive)

    drive.budget_hit = await closed_loop(shots, CONCURRENCY, budget_s, post)
    return drive


async def _post_open(
    client: aiohttp.ClientSession, url: str, shots: Sequence[Shot], rate: float
) -> _Drive:
    """Post ``shots`` at ``rate`` a second, each on time whatever the earlier ones do."""
    drive = _Drive()
    posts: list[asyncio.Task[None]] = []
    start = time.monotonic()
    for i, shot in enumerate(shots):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        # Latency from when the message was due: a late generator must not shorten it.
        drive.posted[shot.openid] = due
        posts.append(asyncio.create_task(_post_one(client, url, shot, drive)))
    await asyncio.gather(*posts)
    return drive


@dataclass
class _Answers:
    """Each message's first right answer, how many came in the response, and what went wrong."""

    at: dict[str, float] = field(default_factory=dict)
    by_reply: set[str] = field(default_factory=set)
    """The users answered in the response itself."""
    successes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def fault(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, example)


def _read_responses(
    drive: _Drive, shots: Sequence[Shot], messages: _Messages, mode: Mode | None
) -> _Answers:
    """The answers in the responses (``mode`` ``None``: the echo's, which is the message)."""
    found = _Answers(errors=Counter(drive.errors))
    for shot in shots:
        if shot.openid not in drive.responses:
            continue
        seen, raw = drive.responses[shot.openid]
        if mode is None:
            if _xml_fields(raw) == _xml_fields(shot.plain):
                found.at[shot.openid] = seen
            else:
                found.fault("echo differs", raw[:200].decode(errors="replace"))
            continue
        if raw.strip() == SUCCESS:
            found.successes += 1  # the answer is due by customer-service message
            continue
        try:
            reply = messages.open_reply(raw, mode)
        except ValueError as problem:
            found.fault("unreadable reply", f"{problem}: {raw[:120].decode(errors='replace')}")
            continue
        content = str(reply.get("Content") or "")
        if reply.get("ToUserName") != shot.openid or reply.get("MsgType") != "text":
            found.fault("reply to someone else", str(reply)[:200])
        elif content.startswith(shot.expected):
            found.at[shot.openid] = seen
            found.by_reply.add(shot.openid)
        else:
            found.fault("wrong answer in the reply", content[:200])
    return found


def _xml_fields(raw: bytes) -> Json | None:
    try:
        fields = xmltodict.parse(raw, disable_entities=True)["xml"]
    except Exception:  # anything unreadable simply differs
        return None
    return dict(fields) if isinstance(fields, dict) else None


class _Fake(FakeClient[str]):
    """The generator's handle on the fake WeChat API."""

    async def calls(self) -> Counter[str]:
        async with self.client.get(f"{self.child.root}/bench/calls") as response:
            return Counter({str(k): int(v) for k, v in (await response.json()).items()})


async def _collect(
    fake: _Fake | None, shots: Sequence[Shot], drive: _Drive, found: _Answers, drain_s: float
) -> None:
    """Wait for the answers still missing at the fake; the first right answer per user."""
    if fake is None:
        return
    expected = {shot.openid: shot.expected for shot in shots if shot.openid in drive.posted}
    await collect(
        fake,
        expected,
        found.at,
        drain_s,
        lambda kind, text: found.fault(kind, text[:200]),
        wrong="wrong answer pushed",
    )


async def _one_run(
    client: aiohttp.ClientSession,
    url: str,
    server_pid: int,
    fake: _Fake | None,
    batches: tuple[Sequence[Shot], Sequence[Shot]],
    messages: _Messages,
    mode: Mode | None,
    plan: Plan,
    post: Callable[[Sequence[Shot]], Awaitable[_Drive]],
    bot: Bot | None = None,
) -> WeChatSample:
    """Warm up (unless the warm-up batch is empty), then time one batch against ``url``.

    With ``bot``, its match cache is read before and after the timed batch.
    """
    warmup, shots = batches
    if warmup:
        drive = await _post_closed(client, url, warmup, plan.send_budget_s)
        await _collect(fake, warmup, drive, _read_responses(drive, warmup, messages, mode),
                       plan.drain_s)  # fmt: skip
    roots = [bot.url] if bot else []
    cache = await match_cache(client, roots) if bot else None

    # CPU is read over the posting only: that is when the processes compete for the cores.
    meter = CpuMeter(server_pid, fake.child.process.pid if fake else None)
    drive = await post(shots)
    cpu = meter.read()
    found = _read_responses(drive, shots, messages, mode)
    await _collect(fake, shots, drive, found, plan.drain_s)
    if bot:
        cache = counted_since(cache, await match_cache(client, roots))

    return WeChatSample.of(
        drive,
        found.at,
        meter.started,
        cpu,
        found.errors,
        passive=len(found.by_reply),
        responses_ms=[
            (drive.responses[openid][0] - start) * 1000 if openid in drive.responses else inf
            for openid, start in drive.posted.items()
        ],
        successes=found.successes,
        late_passive=_late_passive(drive, found),
        examples=found.examples,
        distinct=len({shot.text for shot in shots if shot.openid in drive.posted}),
        cache=cache,
    )


def _late_passive(drive: _Drive, found: _Answers) -> float | None:
    """The passive share among the messages posted in the second half of the posting."""
    if not drive.posted:
        return None
    first, last = min(drive.posted.values()), max(drive.posted.values())
    late = [o for o, at in drive.posted.items() if at >= (first + last) / 2]
    return sum(o in found.by_reply for o in late) / len(late)


def _row(setup: str, load: str, samples: Sequence[WeChatSample]) -> WeChatRow:
    passive = [s.passive / s.answered for s in samples if s.answered]
    return WeChatRow.of(
        setup,
        samples,
        load=load,
        response_p99_ms=statistics.median(percentile(s.responses_ms, 0.99) for s in samples),
        passive=statistics.median(passive) if passive else None,
    )


_LOGGED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<what>[A-Z]+ \S+ .*)$")


def _complaint_kinds(lines: Sequence[str]) -> Counter[str]:
    """The bot's log lines (WARNING and above) by kind: numbers and message keys blanked."""
    kinds: Counter[str] = Counter()
    for line in lines:
        logged = _LOGGED.match(line)
        if logged is None:
            continue  # a traceback's continuation
        what = re.sub(r"wechat:\d+", "wechat:…", logged["what"])
        kinds[re.sub(r"\d+(\.\d+)?", "N", what)[:160]] += 1
    return kinds


SETUPS = (
    ("bare aiohttp echo", "echo"),
    ("bot, plain mode", "plain"),
    ("bot, safe mode (AES)", "safe"),
    ("bot, safe mode (AES), 200 users writing every 4 s (open loop)", "open"),
)


def _as_wechat_shows(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The expected answers as WeChat users read them (commands by their words: “提交工单”)."""
    # Imported here: the helper processes import this module and need none of it.
    from bot.channels.wechat.render import render_text  # noqa: PLC0415
    from bot.messages import Channel, OutgoingMessage  # noqa: PLC0415

    shown = {
        answer: render_text(OutgoingMessage("bench", Channel.WECHAT, answer))
        for answer in {answer for _, answer in pairs}
    }
    return [(question, shown[answer]) for question, answer in pairs]


async def _run(plan: WeChatPlan) -> Report[WeChatPlan, WeChatRow]:
    cancel_on_sigterm()
    aes_key = _new_aes_key()
    texts = _as_wechat_shows(everyday_questions(questions()))
    messages = _Messages(texts, aes_key)
    samples: dict[str, list[WeChatSample]] = {key: [] for _, key in SETUPS}
    complaints: Counter[str] = Counter()
    api_calls: Counter[str] = Counter()
    backlog = 0  # messages of a safe closed-loop run still unanswered when its open loop began
    notes: list[str] = []
    async with helpers("bench.wechat", CONCURRENCY) as started:
        client, echo = started.client, started.echo
        fake = _Fake(started.fake, client, str)
        await fake.check_clock()

        def closed(url: str) -> Callable[[Sequence[Shot]], Awaitable[_Drive]]:
            return lambda shots: _post_closed(client, url, shots, plan.send_budget_s)

        def steady(url: str) -> Callable[[Sequence[Shot]], Awaitable[_Drive]]:
            return lambda shots: _post_open(client, url, shots, OPEN_RATE)

        for _ in range(plan.repeats):
            # Echo and bots alternate, so a slow patch of the machine hits them alike.
            batches = (
                messages.batch(plan.warmup, "plain"),
                messages.batch(plan.messages, "plain"),
            )
            url = f"{echo.root}/wechat"
            samples["echo"].append(
                await _one_run(client, url, echo.process.pid, None, batches, messages, None,
                               plan, closed(url))
            )  # fmt: skip
            mode: Mode
            for mode in ("plain", "safe"):
                calls_before = await fake.calls()
                async with _bot(mode, aes_key, fake.child.root) as (bot, url):
                    # Signed once the bot is up: a signature is good for 60 s, and a slow start
                    # must not make the batch stale.
                    batches = (
                        messages.batch(plan.warmup, mode),
                        messages.batch(plan.messages, mode),
                    )
                    pid = bot.pid
                    samples[mode].append(
                        await _one_run(client, url, pid, fake, batches, messages, mode,
                                       plan, closed(url), bot)
                    )  # fmt: skip
                    if mode == "safe":
                        backlog += samples["safe"][-1].sent - samples["safe"][-1].answered
                        await asyncio.sleep(SETTLE_S)
                        batches = ([], messages.batch(round(OPEN_RATE * plan.open_s), mode))
                        samples["open"].append(
                            await _one_run(client, url, pid, fake, batches, messages, mode,
                                           plan, steady(url), bot)
                        )  # fmt: skip
                api_calls += (await fake.calls()) - calls_before
                complaints += _complaint_kinds(bot.complaints)
    bot_starts = 2 * plan.repeats
    if backlog:
        notes.append(
            f"bot, safe mode (AES), open loop: began with {backlog:,} messages of the closed-loop "
            "run before it still unanswered (summed over runs): the bot was still working them "
            "off, so this row is slower than a fresh bot would be."
        )
    notes.extend(_api_notes(api_calls, bot_starts))
    if complaints:
        kinds = "; ".join(f"`{kind}` × {n}" for kind, n in complaints.most_common(6))
        lines = complaints.total()
        notes.append(
            f"The bot logged {lines:,} line{'s' if lines > 1 else ''} at WARNING or above over "
            f"{bot_starts} starts: {kinds}."
        )
    rows = []
    for setup, key in SETUPS:
        runs = samples[key]
        load = f"{OPEN_RATE:.0f} msg/s" if key == "open" else f"{CONCURRENCY} users"
        row = _row(setup, load, runs)
        # The echo's response is its answer: "passive" says nothing there.
        rows.append(replace(row, passive=None) if key == "echo" else row)
        notes.extend(_run_notes(setup, runs, plan))
    for row in rows:
        notes.extend(cpu_notes(row.setup, row.cpu))
    notes.append(
        f"The messages ask {len(texts):,} distinct texts (the check questions the shipped "
        "knowledge base answers, with everyday openings and endings), each message the next "
        "one, so no bot process is asked a text twice until all were sent. Match-cache hits: "
        "share of the bot's match-cache lookups that hit over the timed batch, from its "
        "`/metrics` (`makerdesk_match_cache_total`); n/a: the bot does not count them."
    )
    return Report(plan, rows, notes)


def _run_notes(setup: str, runs: Sequence[WeChatSample], plan: Plan) -> list[str]:
    """What the table's figures for ``setup`` do not show: the errors, the ``success`` answers."""
    from bot.channels.wechat.inbound import PASSIVE_BUDGET  # noqa: PLC0415

    notes = []
    errors = sum((s.errors for s in runs), Counter[str]())
    if errors:
        examples: dict[str, str] = {}
        for sample in runs:
            for kind, text in sample.examples.items():
                examples.setdefault(kind, text)
        kinds = ", ".join(
            f"{kind} × {n}" + (f" (e.g. `{examples[kind][:100]}`)" if kind in examples else "")
            for kind, n in errors.most_common()
        )
        notes.append(f"{setup}: errors over all runs: {kinds}.")
    successes = sum(s.successes for s in runs)
    if successes:
        sent = sum(s.sent for s in runs)
        notes.append(
            f"{setup}: {successes:,} of {sent:,} responses ({successes / sent:.1%}) were "
            f"`success`: the answer was not ready within the {PASSIVE_BUDGET:g} s passive "
            "budget and went by customer-service message."
        )
        late = median_or_none([s.late_passive for s in runs])
        if late is not None:
            notes.append(
                f"{setup}: of the messages posted in the second half of the posting, {late:.0%} "
                "were answered in the response (median over runs): what is left of the passive "
                "path once the first burst is over."
            )
    if any(s.budget_hit for s in runs):
        notes.append(
            f"{setup}: posting stopped at the {plan.send_budget_s:.0f} s budget "
            "before every message was sent."
        )
    return notes


def _api_notes(calls: Counter[str], bot_starts: int) -> list[str]:
    """The fake's count of WeChat API calls, when it shows something out of the way."""
    known = {"/cgi-bin/stable_token", "/cgi-bin/token", "/cgi-bin/message/custom/send"}
    notes = []
    fetches = calls["/cgi-bin/stable_token"] + calls["/cgi-bin/token"]
    if fetches > bot_starts:
        notes.append(
            f"The bot fetched {fetches:,} access tokens over {bot_starts} starts "
            "(one per start is expected: the token lasts two hours)."
        )
    unknown = {path: n for path, n in calls.items() if path not in known}
    if unknown:
        listed = ", ".join(f"`{path}` × {n}" for path, n in sorted(unknown.items()))
        notes.append(f"The bot called WeChat API paths the fake does not serve: {listed}.")
    return notes


def run(quick: bool = False) -> Report[WeChatPlan, WeChatRow]:
    """Measure the echo and the bot: 4,000 messages, 3 runs each (quick: 600, one run)."""
    return asyncio.run(_run(QUICK if quick else FULL))


def _response_ms(value: float) -> str:
    # No response at all: WeChat's own timeout ended the wait.
    return f"> {WECHAT_TIMEOUT_S * 1000:,.0f}" if value == inf else f"{value:,.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _cells(r: WeChatRow, drain_s: float, *, echo: bool = False) -> tuple[str, ...]:
    return (
        r.setup, r.load, f"{r.sent:,}", f"{r.distinct:,}", f"{r.answered:,}", f"{r.per_s:,.0f}",
        f"{r.acks_per_s:,.0f}", format_ms(r.p50_ms, drain_s), format_ms(r.p99_ms, drain_s),
        _response_ms(r.response_p99_ms), _share(r.passive), f"{r.unanswered:,}", f"{r.errors:,}",
        "—" if echo else format_share(r.cache_hits), format_cpu(r.cpu.own),
    )  # fmt: skip


def print_table(report: Report[WeChatPlan, WeChatRow]) -> None:
    """Print ``report`` as a Markdown table, the target line under it, then the notes."""
    from bot.channels.wechat.inbound import PASSIVE_BUDGET  # noqa: PLC0415

    plan = report.plan
    drain = plan.drain_s
    echo = report.rows[0]
    verdicts = []
    for r in report.rows[1:]:
        # WeChat's 5 s applies to the response; the target to the answer, however it came.
        within = "✓" if r.response_p99_ms < WECHAT_TIMEOUT_S * 1000 else "✗"
        target = "✓" if r.p99_ms <= TARGET_P99_MS else "✗"
        verdict = (
            f"{r.setup} at {r.load}: response p99 {_response_ms(r.response_p99_ms)} ms, under "
            f"WeChat's {WECHAT_TIMEOUT_S:.0f} s {within}; "
            f"answer p99 {format_ms(r.p99_ms, drain)} ms, ≤ {TARGET_P99_MS:.0f} ms {target}"
        )
        if r.load.endswith("users"):  # an open loop's throughput is the rate it was given
            ratio = r.per_s / echo.per_s if echo.per_s else 0.0
            verdict += f", throughput {ratio:.2%} of the echo's"
        verdicts.append(verdict)
    # Little's law: messages in flight = answered per second × seconds each waits.
    needed = CONCURRENCY / (TARGET_P99_MS / 1000)
    print_markdown(
        "WeChat passive replies: FAQ answers end to end, beside a bare aiohttp echo",
        f"Message posted → answer in the response (passive reply) or at the fake WeChat API "
        f"(customer-service message); {plan.messages:,} messages after {plan.warmup:,} "
        f"untimed, median of {plan.repeats} run{'s' if plan.repeats > 1 else ''}; "
        f"{CONCURRENCY} users each with one message in flight (closed loop), or "
        f"{OPEN_RATE:.0f} messages/s for {plan.open_s:.0f} s (open loop); "
        f"{os.cpu_count()} CPUs shared by server, load generator and fake. Latency “> N”: that "
        f"share of messages was not answered within {plan.drain_s:.0f} s of the last post. "
        "Acks/s: HTTP 200 responses per second. Passive: share of the answers that came in "
        "the response.",
        (COLUMNS, "lrrrrrrrrrrrrrc"),
        [_cells(r, drain, echo=r is echo) for r in report.rows],
        f"Target: p99 ≤ {TARGET_P99_MS:.0f} ms at {CONCURRENCY} concurrent users, far under "
        f"the {WECHAT_TIMEOUT_S:.0f} s after which WeChat gives up. " + "; ".join(verdicts) + ". "
        f"With {CONCURRENCY} messages always in flight (closed loop), the mean wait is "
        f"{CONCURRENCY} ÷ the bot's answers per second (Little's law): p99 ≤ "
        f"{TARGET_P99_MS:.0f} ms needs at least {needed:,.0f} answers a second, and staying "
        f"within the {PASSIVE_BUDGET:g} s passive budget at least "
        f"{CONCURRENCY / PASSIVE_BUDGET:,.0f}.",
        report.notes,
    )


def main() -> None:
    cli("bench.wechat", ROLES, lambda quick: print_table(run(quick)), "fewer messages, one run")


if __name__ == "__main__":
    main()
