"""WeCom callbacks: members' policy questions answered by app message, beside a bare echo.

What is timed is what a commissioner on WeCom (企业微信) waits for: WeCom posts their message,
encrypted and signed, to the bot's callback URL ``/wecom``; the bot answers the callback with an
empty 200 once the message is stored, and the answer leaves through the outbox as an app message
(``/cgi-bin/message/send``). The answer counts once it reaches the fake WeCom API. WeCom gives up
on a callback after 5 seconds and posts it again.

**The load**: roster members (each message from a member of its own, listed in a copy of the
demo roster in 宝坻区服务一组) asking a question of ``bench/data/faq_check.jsonl`` that the
shipped knowledge base answers outright, in the everyday wordings of :mod:`bench.load`. Why
questions, when a commissioner's commonest message is ``#2026-0001 答复…``: a commissioner
checks the policy while answering (materials, deadlines, who is eligible), and the question is
the one message whose answer comes back to the sender on WeCom, so the whole round trip is timed
at one fake; a numbered reply's answer goes to the entrepreneur on another channel, and it
takes the same callback path (signature, nonce, decryption, dedup) before the desk's write.

Four processes, all on 127.0.0.1 (:mod:`bench.procs`): **the bot**, ``python -m bot run`` as
shipped with ``BOT_WECOM_*`` pointed at the fake, on a fresh SQLite file (or
``BOT_BENCH_WECOM_DB``); **a fake WeCom API** (``python -m bench.wecom fake``): ``gettoken`` and
``message/send``, noting each app message's addressee, text and ``time.monotonic()`` at
arrival; **a bare echo** (``python -m bench.wecom echo``): an aiohttp app that parses the
encrypted envelope's XML with ``xmltodict`` and answers it back, the floor of "HTTP + XML in,
XML out" on this machine (it decrypts nothing, as the WeChat benchmark's echo); and **the load
generator**, this process: 200 users in a closed loop, each posting its next callback once the
last one's response came (:func:`bench.load.closed_loop`), with WeCom's 5 s timeout.

Every callback is built before the timed batch: the message XML, encrypted and signed with
:class:`tests.support.fake_wecom.MsgCrypt` (WeCom's WXBizMsgCrypt, written from its
description), so the timed loop only sends bytes. A bot's message counts as **answered** when an
app message to its member reaches the fake and begins with the knowledge base's answer; the
echo's, when its response is the envelope it was sent. Anything else is an error: another text,
a status other than 200 (the bot's answer to WeCom is an empty 200), no response within 5 s, an
answer twice. Throughput (answered/s) runs from the first post to the last answer; p50 and p99
from each post to its answer. Each run sends an untimed warm-up batch first; echo and bot runs
alternate, three of each (``--quick``: one, on fewer messages), and the table shows medians.
The CPU column is as in :mod:`bench.wechat`: on a shared two-core machine the generator and the
fake take CPU the server would otherwise have, so the figures are a floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import xmltodict
from aiohttp import web

from bench.cpu import CpuMeter, cpu_notes
from bench.figures import (
    Report,
    Row,
    Sample,
    format_cpu,
    format_ms,
    format_share,
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
from bot.domain.roster.load import DEMO_ROSTER
from tests.support.fake_wecom import MsgCrypt, WeComPlatform, new_aes_key, text_xml

CORP_ID = "wwbench0123456789"
AGENT_ID = 1000002
SECRET = "bench-wecom-secret"
TOKEN = "benchwecomtoken"
ACCESS_TOKEN = "bench-wecom-access-token"
CONCURRENCY = 200
WECOM_TIMEOUT_S = 5.0
"""WeCom gives up on a callback's response after this long (and posts it again)."""
HEADERS = {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0", "Accept": "*/*"}
COLUMNS = (
    "setup", "messages", "distinct texts", "answered", "answered/s", "acks/s", "p50 (ms)",
    "p99 (ms)", "unanswered", "errors", "match-cache hits", "CPU server · generator · fake",
)  # fmt: skip
FULL = Plan(messages=3000, warmup=100, repeats=3, send_budget_s=8.0, drain_s=12.0)
QUICK = Plan(messages=600, warmup=50, repeats=1, send_budget_s=4.0, drain_s=6.0)
SETUPS = (("bare aiohttp echo", "echo"), ("bot, WeCom callback → app message", "bot"))
_MEMBER_ANCHOR = re.compile(r"^      - \{name: 张伟, .*\n", re.MULTILINE)
"""The first member of 宝坻区服务一组 in the demo roster: the benchmark's members follow him."""


# ---------------------------------------------------------------- helper processes (children)


class _FakeWeComApi(CountingApi):
    """The WeCom API calls the bot makes, plus the generator's view of what was sent."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        self.add_counting_routes(app)
        return app

    async def _gettoken(self, request: web.Request) -> web.Response:
        self.calls[request.path] += 1
        if request.query.get("corpid") != CORP_ID:
            return errcode(40013, "invalid corpid")
        if request.query.get("corpsecret") != SECRET:
            return errcode(40001, "invalid credential")
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": ACCESS_TOKEN, "expires_in": 7200}
        )

    async def _send(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()  # before the body is read: the moment WeCom has the call
        self.calls[request.path] += 1
        if request.query.get("access_token") != ACCESS_TOKEN:
            return errcode(40014, "invalid access_token")
        call = await request.json()
        kind = str(call.get("msgtype"))
        content = call.get(kind, {}) if kind in ("text", "markdown") else {}
        text = str(content.get("content", "")) if content else f"<{kind} message>"
        self.arrivals.append((str(call.get("touser", "")), arrived, text))
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(self.arrivals)}"}
        )


ROLES = {"fake": lambda: _FakeWeComApi().app(), "echo": lambda: echo_app(xml_echo)}
"""The helpers ``python -m bench.wecom ROLE`` serves."""


# ---------------------------------------------------------------- the load generator's side


@dataclass(frozen=True)
class Shot:
    """One callback to post: its member, signed query, encrypted body, the answer expected."""

    userid: str
    query: str
    body: bytes
    text: str
    expected: str


class _Messages:
    """Members' questions as WeCom posts them: a ``MsgId`` and a member each, encrypted, signed.

    The members are numbered from 0; :func:`roster_with` lists as many as will write.
    """

    def __init__(self, pairs: list[tuple[str, str]], aes_key: str) -> None:
        self._pairs = pairs
        self._platform = WeComPlatform("", MsgCrypt(TOKEN, aes_key, CORP_ID), AGENT_ID)
        # MsgIds no earlier invocation used: a kept BOT_BENCH_WECOM_DB never sees one twice.
        self._first = int(time.time()) * 1_000_000
        self.used = 0

    def batch(self, count: int) -> list[Shot]:
        """The next ``count`` members' questions, signed now."""
        shots = []
        for _ in range(count):
            n, self.used = self.used, self.used + 1
            question, answer = self._pairs[n % len(self._pairs)]
            userid = member_id(n)
            xml = text_xml(CORP_ID, userid, question, self._first + n, AGENT_ID)
            body, encrypted = self._platform.envelope(xml)
            timestamp, nonce = str(int(time.time())), str(1_000_000_000 + n)
            query = urlencode(self._platform.query(timestamp, nonce, encrypted))
            shots.append(Shot(userid, query, body.encode(), question, answer))
        return shots


def member_id(n: int) -> str:
    """The WeCom UserID of the benchmark's ``n``-th member."""
    return f"BenchMember{n:05d}"


def roster_with(members: int) -> str:
    """The demo roster with ``members`` more members of 宝坻区服务一组, on WeCom only."""
    demo = DEMO_ROSTER.read_text(encoding="utf-8")
    anchor = _MEMBER_ANCHOR.search(demo)
    if anchor is None:
        raise RuntimeError(f"{DEMO_ROSTER} no longer lists 张伟 as a member: update bench.wecom")
    added = "".join(
        f"      - {{name: 委员{n:05d}, wecom: {member_id(n)}}}\n" for n in range(members)
    )
    return demo[: anchor.end()] + added + demo[anchor.end() :]


@contextlib.asynccontextmanager
async def _bot(aes_key: str, fake_root: str, roster: Path) -> AsyncIterator[tuple[Bot, str]]:
    """``python -m bot run`` with the WeCom channel on the fake; its callback URL."""
    settings = {
        "BOT_WEB_CHAT": "false",
        "BOT_ROSTER": str(roster),
        "BOT_WECOM_CORP_ID": CORP_ID,
        "BOT_WECOM_AGENT_ID": str(AGENT_ID),
        "BOT_WECOM_SECRET": SECRET,
        "BOT_WECOM_TOKEN": TOKEN,
        "BOT_WECOM_AES_KEY": aes_key,
        "BOT_WECOM_API_URL": fake_root,
    }
    async with bot_process("wecom", settings) as bot:
        yield bot, f"{bot.url}/wecom"


@dataclass
class _Drive(Drive[str]):
    """What the users saw: when each callback left, and each response, read later."""

    responses: dict[str, tuple[float, bytes]] = field(default_factory=dict)


async def _post_closed(
    client: aiohttp.ClientSession, url: str, shots: Sequence[Shot], budget_s: float
) -> _Drive:
    """``CONCURRENCY`` users, each posting its next callback once the last one was answered."""
    drive = _Drive()

    async def post(shot: Shot) -> None:
        drive.posted[shot.userid] = time.monotonic()
        response = await post_message(
            client, drive, f"{url}?{shot.query}", shot.body, HEADERS, timeout_s=WECOM_TIMEOUT_S
        )
        if response is not None:
            seen, raw, _ = response
            drive.responses[shot.userid] = (seen, raw)

    drive.budget_hit = await closed_loop(shots, CONCURRENCY, budget_s, post)
    return drive


def _read_responses(
    drive: _Drive, shots: Sequence[Shot], echo: bool, errors: Counter[str]
) -> dict[str, float]:
    """The echo's answers (its responses); for the bot, the responses that are not WeCom's."""
    answered: dict[str, float] = {}
    for shot in shots:
        if shot.userid not in drive.responses:
            continue
        seen, raw = drive.responses[shot.userid]
        if echo:
            if xmltodict.parse(raw) == xmltodict.parse(shot.body):
                answered[shot.userid] = seen
            else:
                errors["echo differs"] += 1
        elif raw.strip():
            errors["a response body (WeCom wants an empty 200)"] += 1
    return answered


async def _one_run(
    client: aiohttp.ClientSession,
    url: str,
    server_pid: int,
    fake: FakeClient[str],
    batches: tuple[list[Shot], list[Shot]],
    plan: Plan,
    bot: Bot | None,
) -> Sample:
    """Warm up, then time one batch against ``url`` (the bot's, or the echo's without ``bot``)."""
    echo = bot is None
    warmup, shots = batches
    for batch, timed in ((warmup, False), (shots, True)):
        roots = [bot.url] if bot and timed else []
        cache = await match_cache(client, roots) if roots else None
        meter = CpuMeter(server_pid, fake.child.process.pid)
        drive = await _post_closed(client, url, batch, plan.send_budget_s)
        cpu = meter.read()
        errors: Counter[str] = Counter(drive.errors)
        answered = _read_responses(drive, batch, echo, errors)
        if not echo:
            expected = {s.userid: s.expected for s in batch if s.userid in drive.posted}

            def fault(kind: str, _: str, errors: Counter[str] = errors) -> None:
                errors[kind] += 1

            await collect(fake, expected, answered, plan.drain_s, fault)
        if roots:
            cache = counted_since(cache, await match_cache(client, roots))
    distinct = len({shot.text for shot in shots if shot.userid in drive.posted})
    return Sample.of(drive, answered, meter.started, cpu, errors, distinct=distinct, cache=cache)


async def _run(plan: Plan) -> Report[Plan, Row]:
    cancel_on_sigterm()
    aes_key = new_aes_key()
    pairs = everyday_questions(questions())
    messages = _Messages(pairs, aes_key)
    samples: dict[str, list[Sample]] = {key: [] for _, key in SETUPS}
    complaints: list[str] = []
    calls: Counter[str] = Counter()
    per_run = plan.warmup + plan.messages
    with tempfile.TemporaryDirectory(prefix="makerdesk-bench-wecom-") as tmp:
        roster = Path(tmp) / "roster.yaml"
        roster.write_text(roster_with(per_run * plan.repeats), encoding="utf-8")
        async with helpers("bench.wecom", CONCURRENCY) as started:
            client, echo = started.client, started.echo
            fake = FakeClient(started.fake, client, str)
            await fake.check_clock()
            for _ in range(plan.repeats):
                # Echo and bot alternate, so a slow patch of the machine hits them alike. The
                # echo gets the same members' callbacks; the bot, the next ones.
                first = messages.used
                batches = (messages.batch(plan.warmup), messages.batch(plan.messages))
                messages.used = first
                url = f"{echo.root}/wecom"
                pid = echo.process.pid
                samples["echo"].append(await _one_run(client, url, pid, fake, batches, plan, None))
                async with _bot(aes_key, fake.child.root, roster) as (bot, url):
                    # Signed once the bot is up: a signature is good for 60 s.
                    batches = (messages.batch(plan.warmup), messages.batch(plan.messages))
                    samples["bot"].append(
                        await _one_run(client, url, bot.pid, fake, batches, plan, bot)
                    )
                complaints.extend(bot.complaints)
            async with client.get(f"{started.fake.root}/bench/calls") as response:
                calls.update(await response.json())
    rows = [Row.of(setup, samples[key]) for setup, key in SETUPS]
    notes = _notes(rows, samples, calls, complaints, plan, len(pairs))
    return Report(plan, rows, notes)


def _notes(
    rows: Sequence[Row],
    samples: dict[str, list[Sample]],
    calls: Counter[str],
    complaints: Sequence[str],
    plan: Plan,
    distinct: int,
) -> list[str]:
    notes = []
    for (setup, key), row in zip(SETUPS, rows, strict=True):
        errors = sum((s.errors for s in samples[key]), Counter[str]())
        if errors:
            kinds = ", ".join(f"{kind} × {n}" for kind, n in errors.most_common())
            notes.append(f"{setup}: errors over all runs: {kinds}.")
        if any(s.budget_hit for s in samples[key]):
            notes.append(
                f"{setup}: posting stopped at the {plan.send_budget_s:.0f} s budget "
                "before every message was sent."
            )
        notes.extend(cpu_notes(row.setup, row.cpu))
    fetches = calls.get("/cgi-bin/gettoken", 0)
    if fetches > plan.repeats:
        notes.append(
            f"The bot fetched {fetches:,} access tokens over {plan.repeats} starts "
            "(one per start is expected: the token lasts two hours)."
        )
    unknown = {p: n for p, n in calls.items() if p not in ("/cgi-bin/gettoken", _SEND)}
    if unknown:
        listed = ", ".join(f"`{path}` × {n}" for path, n in sorted(unknown.items()))
        notes.append(f"The bot called WeCom API paths the fake does not serve: {listed}.")
    if complaints:
        notes.append(
            f"The bot logged {len(complaints):,} lines at WARNING or above, such as "
            f"`{complaints[0][:160]}`."
        )
    notes.append(
        f"The members ask {distinct:,} distinct texts (the check questions the shipped "
        "knowledge base answers, with everyday openings and endings), each message the next."
    )
    return notes


_SEND = "/cgi-bin/message/send"


def run(quick: bool = False) -> Report[Plan, Row]:
    """Measure the echo and the bot: 3,000 callbacks, 3 runs each (quick: 600, one run)."""
    return asyncio.run(_run(QUICK if quick else FULL))


def print_table(report: Report[Plan, Row]) -> None:
    """Print ``report`` as a Markdown table, the bot beside the echo under it, then the notes."""
    plan = report.plan
    drain = plan.drain_s
    echo, bot = report.rows
    ratio = bot.per_s / echo.per_s if echo.per_s else 0.0

    def cells(r: Row, is_echo: bool) -> tuple[str, ...]:
        return (
            r.setup, f"{r.sent:,}", f"{r.distinct:,}", f"{r.answered:,}", f"{r.per_s:,.0f}",
            f"{r.acks_per_s:,.0f}", format_ms(r.p50_ms, drain), format_ms(r.p99_ms, drain),
            f"{r.unanswered:,}", f"{r.errors:,}",
            "—" if is_echo else format_share(r.cache_hits), format_cpu(r.cpu.own),
        )  # fmt: skip

    print_markdown(
        "WeCom callbacks: members' questions answered by app message, beside a bare echo",
        f"Encrypted, signed callback posted → app message at the fake WeCom API (the echo: its "
        f"response); {plan.messages:,} callbacks after {plan.warmup:,} untimed, median of "
        f"{plan.repeats} run{'s' if plan.repeats > 1 else ''}; {CONCURRENCY} members each with "
        f"one callback in flight (closed loop); {os.cpu_count()} CPUs shared by server, load "
        f"generator and fake: a noisy machine. Latency “> N”: that share was not answered "
        f"within {drain:.0f} s of the last post. Acks/s: HTTP 200 responses per second.",
        (COLUMNS, "lrrrrrrrrrrc"),
        [cells(r, r is echo) for r in report.rows],
        f"The bot answered {bot.per_s:,.0f} callbacks/s with p99 {format_ms(bot.p99_ms, drain)} "
        f"ms, {ratio:.2%} of the echo's throughput (p99 {format_ms(echo.p99_ms, drain)} ms); "
        f"WeCom waits {WECOM_TIMEOUT_S:.0f} s for the (empty) response.",
        report.notes,
    )


def main() -> None:
    cli("bench.wecom", ROLES, lambda quick: print_table(run(quick)), "fewer callbacks, one run")


if __name__ == "__main__":
    main()
