"""Property tests of the request lifecycle: random conversations with the real bot.

A hypothesis state machine plays entrepreneurs, duty-group members and strangers against the
bot as ``python -m bot run`` builds it (real dispatcher, real database, manual clock), one
message at a time. An independent model, driven by :func:`bot.domain.lifecycle.transition` and the
roster's membership as written below, predicts every request's status; after every message the
database must agree with it, and:

* the status is a lifecycle status, the one the model predicts; refused actions change nothing;
* ``resolved_at`` is set exactly while the request is resolved or closed;
* a pause is open exactly while the request waits on the entrepreneur (so never two);
* a closed request never changes again (a rating may still be given);
* the event log, replayed through :func:`transition`, gives the stored status, so every status
  change has its event;
* there are as many requests as were opened, and a redelivered message changes nothing;
* the due date never moves earlier than the date last announced to the entrepreneur unless the
  same message told them the new date.

``HYPOTHESIS_PROFILE=long`` runs many more and longer conversations.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, inspect, select

from bot.app import Bot, create_bot
from bot.clock import ManualClock
from bot.domain.lifecycle import (
    AUTO_CLOSE_WORKDAYS,
    REOPEN_WORKDAYS,
    Action,
    IllegalTransition,
    Role,
    Status,
    transition,
)
from bot.domain.workdays import WorkCalendar, end_of_day
from bot.messages import Channel, IncomingMessage, Language, Sender
from bot.routing import InlinePolicy
from bot.settings import load_settings
from bot.texts.desk import desk_texts_for
from storage.models import OutboxMessage, Pause, Request, RequestEvent
from storage.retention import INBOUND_HORIZON
from tests.support.databases import scratch_postgres
from tests.support.desk import ROSTER

T = TypeVar("T")

# --- Hypothesis profiles -------------------------------------------------------------------

settings.register_profile(
    "lifecycle",
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", settings.get_profile("lifecycle"), max_examples=500, stateful_step_count=50
)
settings.register_profile(
    "fast", settings.get_profile("lifecycle"), max_examples=5, stateful_step_count=10
)
"""``make test-fast``: a smoke run of the property; ``make test`` runs it at full size."""
PROFILE = settings.get_profile(
    {"long": "long", "fast": "fast"}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), "lifecycle")
)
FEWEST = 2 if os.environ.get("HYPOTHESIS_PROFILE") == "fast" else 6
POSTGRES_PROFILE = settings(PROFILE, max_examples=max(FEWEST, PROFILE.max_examples // 5))
"""Each PostgreSQL example creates and drops a database: fewer of them."""

# --- The cast, as the roster in tests/test_requests.py names them ----------------------------

E1 = Sender(Channel.WEB, "e1", "小陈")
E2 = Sender(Channel.WEB, "e2", "小王")
ZHANG = Sender(Channel.TELEGRAM, "2001", "张伟")
ZHANG_WEB = Sender(Channel.WEB, "zhangwei", "张伟")  # the same member on the web console
LI = Sender(Channel.TELEGRAM, "2002", "李娜")
WANG = Sender(Channel.TELEGRAM, "2003", "王芳")
LIU = Sender(Channel.TELEGRAM, "2004", "刘洋")
ADMIN = Sender(Channel.TELEGRAM, "9001", "管理员")  # listed, but in no group
SUPERVISOR = Sender(Channel.TELEGRAM, "9101", "区科委值班")
STRANGERS = (ADMIN, SUPERVISOR)

MEMBERS = {"g1": (ZHANG, LI, ZHANG_WEB), "g2": (WANG, LIU)}
"""The model's own copy of who may act on a group's requests."""
SPACE_OF = {E1: "baodi-eco", E2: "baodi-pku"}
GROUP_OF_SPACE = {"baodi-eco": "g1", "baodi-pku": "g2"}
"""No rota in the roster: each space is served by the group holding office there."""

STARTS = (
    datetime(2026, 11, 23, 2, 0, tzinfo=UTC),  # Monday 10:00 in Shanghai
    datetime(2026, 2, 13, 12, 0, tzinfo=UTC),  # Friday 20:00 before the Spring Festival
    datetime(2025, 9, 26, 9, 30, tzinfo=UTC),  # the make-up Sunday and National Day ahead
    datetime(2026, 12, 25, 1, 0, tzinfo=UTC),  # due dates in 2027, an estimated year
)
MAX_REQUESTS = 4
VERBS = ("reply", "claim", "ask", "resolve", "transfer")
LATER = st.builds(timedelta, days=st.integers(0, 12), hours=st.integers(0, 23))
"""How long an entrepreneur takes to answer: the same day, or past the reopening window."""

MEMBER_TEXTS = ("请带身份证原件到政务服务中心办理。", "已联系园区，明天回复您。", "材料已收到")
ASK_TEXTS = ("请问公司类型是有限责任公司吗？", "请补充营业执照照片")
FOLLOW_UPS = ("补充一下：注册地址在九园工业园", "营业执照照片已上传", "是有限责任公司")
NEW_TEXTS = ("想咨询公司注册需要哪些材料", "申请专利需要准备什么", "想找天使投资")


def _pattern(template: str) -> re.Pattern[str]:
    """A message made from ``template``: its ``number`` and ``due`` captured, the rest skipped."""
    captured = {"number": r"(?P<number>\d{4}-\d{4,})", "due": r"(?P<due>\d{4}-\d{2}-\d{2})"}
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else captured.get(part, ".*?")
            for index, part in enumerate(parts)
        ),
        re.DOTALL,
    )


_ZH = desk_texts_for(Language.ZH)
OPENED = _pattern(_ZH.opened)
TOLD = (OPENED, _pattern(_ZH.due_moved), _pattern(_ZH.transferred_to_entrepreneur))
"""Messages that tell the entrepreneur a due date: confirmation, "due moved", transfer."""

_ROLE = {
    Action.CLAIM: Role.MEMBER,
    Action.REPLY: Role.MEMBER,
    Action.ASK: Role.MEMBER,
    Action.RESOLVE: Role.MEMBER,
    Action.TRANSFER: Role.MEMBER,
    Action.FOLLOW_UP: Role.ENTREPRENEUR,
    Action.CONFIRM: Role.ENTREPRENEUR,
    Action.REOPEN: Role.ENTREPRENEUR,
    Action.RATE: Role.ENTREPRENEUR,
    Action.AUTO_CLOSE: Role.SYSTEM,
}
_EVENT_ACTION = {
    "claim": Action.CLAIM,
    "reply": Action.REPLY,
    "ask": Action.ASK,
    "resolve": Action.RESOLVE,
    "transferred": Action.TRANSFER,
    "follow_up": Action.FOLLOW_UP,
    "confirmed": Action.CONFIRM,
    "reopened": Action.REOPEN,
    "rated": Action.RATE,
    "closed": Action.AUTO_CLOSE,
}
"""Event kinds that are lifecycle actions; ``opened`` starts the log."""
_NOT_ACTIONS = frozenset({"due_changed", "notice"})
"""Event kinds that change no status: a new due date, a reminder or escalation sent."""
_UNFROZEN = frozenset({"satisfaction", "updated_at"})
"""What may still change on a closed request: the rating given after closing."""


# --- The pure rules ---------------------------------------------------------------------------

OPEN, CLAIMED, WAITING = Status.OPEN, Status.CLAIMED, Status.WAITING
RESOLVED, CLOSED = Status.RESOLVED, Status.CLOSED
EXPECTED: dict[tuple[Action, Role], dict[Status, Status]] = {
    (Action.CLAIM, Role.MEMBER): {OPEN: CLAIMED},
    (Action.REPLY, Role.MEMBER): {OPEN: CLAIMED, CLAIMED: CLAIMED, WAITING: CLAIMED},
    (Action.ASK, Role.MEMBER): {OPEN: WAITING, CLAIMED: WAITING},
    (Action.RESOLVE, Role.MEMBER): {OPEN: RESOLVED, CLAIMED: RESOLVED, WAITING: RESOLVED},
    (Action.TRANSFER, Role.MEMBER): {OPEN: OPEN, CLAIMED: OPEN, WAITING: OPEN},
    (Action.FOLLOW_UP, Role.ENTREPRENEUR): {OPEN: OPEN, CLAIMED: CLAIMED, WAITING: CLAIMED},
    (Action.CONFIRM, Role.ENTREPRENEUR): {RESOLVED: CLOSED},
    (Action.REOPEN, Role.ENTREPRENEUR): {RESOLVED: CLAIMED},
    (Action.RATE, Role.ENTREPRENEUR): {RESOLVED: RESOLVED, CLOSED: CLOSED},
    (Action.AUTO_CLOSE, Role.SYSTEM): {RESOLVED: CLOSED},
}
"""The lifecycle as DESIGN.md and the module's diagram describe it, written out by hand."""


def test_transition_over_every_status_role_and_action() -> None:
    for status, role, action in itertools.product(Status, Role, Action):
        legal = EXPECTED.get((action, role), {})
        if status in legal:
            assert transition(status, action, role) is legal[status], (status, role, action)
        else:
            with pytest.raises(IllegalTransition) as refused:
                transition(status, action, role)
            assert (refused.value.status, refused.value.role, refused.value.action) == (
                status,
                role,
                action,
            )


@given(st.lists(st.tuples(st.sampled_from(Action), st.sampled_from(Role)), max_size=40))
def test_no_sequence_of_pure_transitions_leaves_the_lifecycle(
    steps: list[tuple[Action, Role]],
) -> None:
    status = Status.OPEN
    for action, role in steps:
        try:
            after = transition(status, action, role)
        except IllegalTransition:
            continue
        assert isinstance(after, Status)
        if status is Status.CLOSED:
            assert after is Status.CLOSED  # closed is for ever; only a rating is taken
        if after is Status.WAITING:
            assert (role, action) == (Role.MEMBER, Action.ASK)
        status = after


# --- The model ------------------------------------------------------------------------------


@dataclass
class Tracked:
    """What the model expects of one request."""

    number: str
    row_id: int
    owner: Sender
    group: str
    status: Status = Status.OPEN
    resolved_at: datetime | None = None
    satisfaction: int | None = None
    rated: bool = False
    """The latest result was rated: stars pressed again change nothing."""
    announced: date | None = None
    """The due date the entrepreneur was last told."""
    frozen: tuple[object, ...] | None = None
    """The request as it closed: nothing of it may change any more."""


@dataclass
class Stored:
    """What the database holds, read after a message."""

    rows: dict[str, dict[str, Any]]
    pauses: dict[int, list[tuple[datetime, datetime | None]]]
    events: dict[int, list[tuple[str, str, str | None, Any]]]
    outbox: int
    notices: dict[int, list[date]] = field(default_factory=dict)
    """Due dates told to each request's entrepreneur by the message just handled."""


def note(outcome: str) -> None:
    """Count an outcome for ``--hypothesis-show-statistics`` (the regression test runs bare)."""
    if currently_in_test_context():
        event(outcome)


def replayed(events: list[tuple[str, str, str | None, Any]]) -> Status:
    """The status the event log leads to, each event a legal transition."""
    assert events, "a request without an event"
    assert events[0][0] == "opened", events
    status = Status.OPEN
    for kind, *_ in events[1:]:
        if kind in _NOT_ACTIONS:
            continue
        assert kind in _EVENT_ACTION, f"event kind {kind!r} unknown to this test"
        action = _EVENT_ACTION[kind]
        status = transition(status, action, _ROLE[action])  # IllegalTransition: a bad log
    return status


@dataclass(frozen=True)
class Setup:
    """What every example's bot is built from."""

    roster: Path
    knowledge: Path
    database: Callable[[], contextlib.AbstractAsyncContextManager[str]]
    """A fresh, empty database for one example; yields its URL."""


class LifecycleMachine(RuleBasedStateMachine):
    """Drives one bot on a fresh database per example, checking after every message."""

    setup: ClassVar[Setup]

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.exits = contextlib.AsyncExitStack()
        self.clock = ManualClock(STARTS[0])
        self.model: list[Tracked] = []
        self.space_chosen: set[Sender] = set()
        self.delivered: list[tuple[IncomingMessage, list[str]]] = []
        self.keys = itertools.count()
        self.last = Stored({}, {}, {}, 0)
        """The database as the previous check read it."""
        try:
            url = self.run(self.exits.enter_async_context(self.setup.database()))
            configured = load_settings(
                knowledge_dir=self.setup.knowledge,
                roster=self.setup.roster,
                database_url=url,
                calendar=None,
            )
            self.bot: Bot = self.run(create_bot(configured, self.clock))
            self.exits.push_async_callback(self.bot.close)
        except BaseException:
            self.teardown()
            raise
        self.calendar: WorkCalendar = self.bot.services.calendar.current

    def teardown(self) -> None:
        try:
            self.run(self.exits.aclose())
        finally:
            self.runner.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    # --- talking to the bot ---

    def send(
        self, sender: Sender, text: str = "", *, choice: str | None = None, refused: bool = False
    ) -> list[str]:
        """Deliver one new message and check everything; the model is already updated.

        ``refused``: the model expects the bot to refuse, so no request may change at all.
        """
        message = IncomingMessage(
            sender,
            sender.user_id,
            text,
            f"prop:{next(self.keys)}",
            self.clock.now(),
            choice=choice,
        )
        replies = [
            r.text for r in self.run(self.bot.dispatcher.handle(message, inline=InlinePolicy()))
        ]
        self.delivered.append((message, replies))
        self.check(self.run(self.read(message.key)), unchanged=refused)
        return replies

    async def read(self, key: str | None) -> Stored:
        async with self.bot.database.sessions() as session:
            columns = [attribute.key for attribute in inspect(Request).column_attrs]
            rows = {
                row.number: {name: getattr(row, name) for name in columns}
                for row in await session.scalars(select(Request))
            }
            stored = Stored(
                rows,
                {row["id"]: [] for row in rows.values()},
                {row["id"]: [] for row in rows.values()},
                await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
            )
            for pause in await session.scalars(select(Pause).order_by(Pause.id)):
                stored.pauses[pause.request_id].append((pause.started_at, pause.ended_at))
            events = select(RequestEvent).order_by(RequestEvent.at, RequestEvent.id)
            for event in await session.scalars(events):
                stored.events[event.request_id].append(
                    (event.kind, event.actor, event.text, event.data)
                )
            if key is not None:
                owners = {t.row_id: t.owner.user_id for t in self.model}
                sent = select(OutboxMessage).where(OutboxMessage.inbound_key == key)
                for outgoing in await session.scalars(sent.order_by(OutboxMessage.id)):
                    request_id = outgoing.request_id
                    if request_id is None or owners.get(request_id) != outgoing.chat_id:
                        continue  # not to the request's entrepreneur
                    text = str(outgoing.payload["text"])
                    for pattern in TOLD:
                        told = pattern.search(text)
                        if told:
                            day = date.fromisoformat(told["due"])
                            stored.notices.setdefault(request_id, []).append(day)
            return stored

    # --- the invariants, after every message ---

    def check(self, stored: Stored, *, unchanged: bool = False) -> None:
        if unchanged:
            assert (stored.rows, stored.pauses, stored.events) == (
                self.last.rows,
                self.last.pauses,
                self.last.events,
            ), "a refused message (or mere time) changed a request"
        self.last = stored
        assert len(stored.rows) == len(self.model), "requests opened ≠ requests stored"
        for tracked in self.model:
            row = stored.rows[tracked.number]
            number = tracked.number
            assert row["status"] is tracked.status, (
                f"{number}: stored {row['status']}, the lifecycle says {tracked.status}"
            )
            assert row["group_id"] == tracked.group, (number, row["group_id"], tracked.group)
            assert (row["resolved_at"] is not None) == (tracked.status in (RESOLVED, CLOSED)), (
                number,
                tracked.status,
                row["resolved_at"],
            )
            if tracked.resolved_at is not None:
                assert row["resolved_at"] == tracked.resolved_at, number
            assert row["satisfaction"] == tracked.satisfaction, number
            assert row["deadline"] == end_of_day(row["due_date"]), number

            pauses = stored.pauses[tracked.row_id]
            still_open = [began for began, ended in pauses if ended is None]
            assert len(still_open) <= 1, f"{number}: {len(still_open)} open pauses: {pauses}"
            assert bool(still_open) == (tracked.status is WAITING), (
                f"{number} is {tracked.status} with open pauses {still_open}"
            )

            events = stored.events[tracked.row_id]
            assert replayed(events) is tracked.status, (number, [e[0] for e in events])

            if tracked.frozen is not None:
                assert self.frozen(row, pauses, events) == tracked.frozen, (
                    f"closed request {number} changed"
                )
            elif tracked.status is CLOSED:
                tracked.frozen = self.frozen(row, pauses, events)

            told = stored.notices.get(tracked.row_id, [])
            if told:
                assert told[-1] == row["due_date"], (
                    f"{number}: told {told[-1]}, stored {row['due_date']}"
                )
                if told[-1] != tracked.announced:
                    note("the entrepreneur is told of a new due date")
                tracked.announced = told[-1]
            assert tracked.announced is not None
            assert row["due_date"] >= tracked.announced, (
                f"{number}: due {row['due_date']} is earlier than the announced "
                f"{tracked.announced}, and the entrepreneur was not told"
            )

    @staticmethod
    def frozen(
        row: dict[str, Any],
        pauses: list[tuple[datetime, datetime | None]],
        events: list[tuple[str, str, str | None, Any]],
    ) -> tuple[object, ...]:
        kept = {name: value for name, value in row.items() if name not in _UNFROZEN}
        return (kept, list(pauses), [e for e in events if e[0] != "rated"])

    # --- rules ---

    @staticmethod
    def expect(tracked: Tracked, action: Action, role: Role, refusal: str | None) -> Status | None:
        """The status after ``action``, or None when the bot must refuse it and change nothing."""
        if refusal is None:
            try:
                status = transition(tracked.status, action, role)
            except IllegalTransition:
                refusal = f"{tracked.status}"
            else:
                note(f"{action}: {tracked.status} -> {status}")
                return status
        note(f"{action} refused: {refusal}")
        return None

    def tracked(self, pick: int, among: tuple[Status, ...] = tuple(Status)) -> Tracked:
        """One of the requests in ``among``, by position (precondition: there is one)."""
        candidates = [t for t in self.model if t.status in among]
        return candidates[pick % len(candidates)]

    def has(self, *among: Status) -> bool:
        return any(t.status in among for t in self.model)

    def opened(self, who: Sender, text: str) -> None:
        if who not in self.space_chosen:
            self.space_chosen.add(who)
            self.send(who, choice=f"space:{SPACE_OF[who]}", refused=True)
        # The model learns the number and row from the confirmation; the checks run after that.
        self.model.append(Tracked("?", -1, who, GROUP_OF_SPACE[SPACE_OF[who]]))
        message = IncomingMessage(
            who, who.user_id, f"/new {text}", f"prop:{next(self.keys)}", self.clock.now()
        )
        replies = [
            r.text for r in self.run(self.bot.dispatcher.handle(message, inline=InlinePolicy()))
        ]
        self.delivered.append((message, replies))
        confirmations = [found for text in replies if (found := OPENED.search(text))]
        assert len(confirmations) == 1, replies
        tracked = self.model[-1]
        tracked.number = confirmations[0]["number"]
        tracked.announced = date.fromisoformat(confirmations[0]["due"])
        stored = self.run(self.read(None))
        assert tracked.number in stored.rows, (tracked.number, sorted(stored.rows))
        tracked.row_id = stored.rows[tracked.number]["id"]
        self.check(self.run(self.read(message.key)))

    def act(
        self, tracked: Tracked, actor: Sender, verb: str, form: str, to: str, words: int
    ) -> None:
        """``actor`` sends a commissioner's command about ``tracked``."""
        action = Action(verb)
        text = {
            Action.CLAIM: "",
            Action.REPLY: MEMBER_TEXTS[words % len(MEMBER_TEXTS)],
            Action.ASK: ASK_TEXTS[words % len(ASK_TEXTS)],
            Action.RESOLVE: MEMBER_TEXTS[words % len(MEMBER_TEXTS)],
            Action.TRANSFER: to,
        }[action]
        number = tracked.number
        choice = None
        if form == "short" and action is Action.CLAIM:
            command, choice = "", f"act:claim:{number}"  # the card's button
        elif form == "short" and action is Action.REPLY:
            command = f"#{number} {text}"  # WeChat's way of answering a card
        else:
            command = f"/{verb} {number} {text}".strip()

        member = actor in MEMBERS[tracked.group]
        status = self.expect(tracked, action, Role.MEMBER, None if member else "not a member")
        if status is not None and action is Action.TRANSFER and to not in MEMBERS:
            note("transfer refused: unknown group")
            status = None
        if status is not None:
            if action is Action.TRANSFER:
                tracked.group = to
            if action is Action.RESOLVE:
                tracked.resolved_at = self.clock.now()
                tracked.rated = False
            tracked.status = status
        self.send(actor, command, choice=choice, refused=status is None)

    def press(self, tracked: Tracked, presser: Sender, verb: str, stars: int, times: int) -> None:
        """``presser`` presses a button under ``tracked``'s resolution, ``times`` times."""
        action = Action(verb)
        payload = f"req:{verb}:{tracked.number}" + (f":{stars}" if verb == "rate" else "")
        for _ in range(times):
            refusal = None if presser == tracked.owner else "not theirs"
            status = self.expect(tracked, action, Role.ENTREPRENEUR, refusal)
            if status is not None and action is Action.REOPEN:
                assert tracked.resolved_at is not None
                elapsed = self.calendar.working_days_between(tracked.resolved_at, self.clock.now())
                if elapsed > REOPEN_WORKDAYS:
                    note("reopen refused: too late")
                    status = None
                else:
                    tracked.resolved_at = None
            if status is not None and action is Action.RATE and tracked.rated:
                note("rating refused: this result was rated")
                status = None
            if status is not None:
                if action is Action.RATE:
                    tracked.satisfaction = stars
                    tracked.rated = True
                tracked.status = status
            self.send(presser, choice=payload, refused=status is None)

    def later(self, delta: timedelta, *, scheduler: bool = True) -> None:
        """Time passes and the scheduler runs: a result nobody reopened in time closes.

        Without ``scheduler``, the message comes before the scheduler's next round.
        """
        if not delta:
            return
        self.clock.advance(delta)
        if not scheduler:
            self.check(self.run(self.read(None)), unchanged=True)
            return
        for tracked in self.model:
            if tracked.status is RESOLVED:
                assert tracked.resolved_at is not None
                days = self.calendar.working_days_between(tracked.resolved_at, self.clock.now())
                if days > AUTO_CLOSE_WORKDAYS:
                    status = self.expect(tracked, Action.AUTO_CLOSE, Role.SYSTEM, None)
                    assert status is not None
                    tracked.status = status
        self.run(self.bot.scheduler.tick())
        self.check(self.run(self.read(None)))

    def write(self, who: Sender, words: int) -> None:
        """Free text joins the writer's newest active request, answering a question."""
        active = [t for t in self.model if t.owner == who and t.status in (OPEN, CLAIMED, WAITING)]
        if active:
            newest = active[-1]
            status = self.expect(newest, Action.FOLLOW_UP, Role.ENTREPRENEUR, None)
            assert status is not None
            newest.status = status
        else:
            note("follow_up: no active request (a question for the FAQ)")
        self.send(who, FOLLOW_UPS[words % len(FOLLOW_UPS)], refused=not active)

    @initialize(
        start=st.sampled_from(STARTS),
        hours=st.integers(0, 72),
        text=st.sampled_from(NEW_TEXTS),
    )
    def first_request(self, start: datetime, hours: int, text: str) -> None:
        self.clock.set(start + timedelta(hours=hours))
        self.opened(E1, text)

    @precondition(lambda self: len(self.model) < MAX_REQUESTS)
    @rule(who=st.sampled_from((E1, E2)), text=st.sampled_from(NEW_TEXTS))
    def another_request(self, who: Sender, text: str) -> None:
        self.opened(who, text)

    @precondition(lambda self: self.has(OPEN, CLAIMED, WAITING))
    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        verb=st.sampled_from(VERBS),
        seat=st.integers(0, 2),
        form=st.sampled_from(("command", "short")),
        to=st.sampled_from(("g2", "g1", "g9")),
        words=st.integers(0, 2),
    )
    def member_acts(self, pick: int, verb: str, seat: int, form: str, to: str, words: int) -> None:
        """A member of the holding group works on an active request."""
        tracked = self.tracked(pick, (OPEN, CLAIMED, WAITING))
        members = MEMBERS[tracked.group]
        self.act(tracked, members[seat % len(members)], verb, form, to, words)

    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        verb=st.sampled_from(VERBS),
        seat=st.integers(0, 2),
        form=st.sampled_from(("command", "short")),
        to=st.sampled_from(("g2", "g1", "g9")),
    )
    def member_acts_anywhere(self, pick: int, verb: str, seat: int, form: str, to: str) -> None:
        """A member of the holding group tries anything, on any request (resolved, closed)."""
        tracked = self.tracked(pick)
        members = MEMBERS[tracked.group]
        self.act(tracked, members[seat % len(members)], verb, form, to, seat)

    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        verb=st.sampled_from(VERBS),
        by=st.sampled_from(("other group", "owner", "stranger")),
        seat=st.integers(0, 2),
        form=st.sampled_from(("command", "short")),
    )
    def outsider_acts(self, pick: int, verb: str, by: str, seat: int, form: str) -> None:
        """Someone outside the holding group tries a commissioner's move: refused."""
        tracked = self.tracked(pick)
        others = MEMBERS[next(g for g in MEMBERS if g != tracked.group)]
        actor = {
            "other group": others[seat % len(others)],
            "owner": tracked.owner,
            "stranger": STRANGERS[seat % len(STRANGERS)],
        }[by]
        self.act(tracked, actor, verb, form, "g2", seat)

    @rule(who=st.sampled_from((E1, E2)), words=st.integers(0, 2))
    def entrepreneur_writes(self, who: Sender, words: int) -> None:
        self.write(who, words)

    @precondition(lambda self: self.has(WAITING))
    @rule(pick=st.integers(0, MAX_REQUESTS - 1), words=st.integers(0, 2), after=LATER)
    def entrepreneur_answers(self, pick: int, words: int, after: timedelta) -> None:
        """The owner of a waiting request writes back, at once or days later."""
        self.later(after)
        self.write(self.tracked(pick, (WAITING,)).owner, words)

    @precondition(lambda self: self.has(OPEN, CLAIMED))
    @rule(pick=st.integers(0, MAX_REQUESTS - 1), seat=st.integers(0, 2), after=LATER)
    def question_answered_later(self, pick: int, seat: int, after: timedelta) -> None:
        """A member asks; the entrepreneur answers hours or days later: the due date moves."""
        tracked = self.tracked(pick, (OPEN, CLAIMED))
        members = MEMBERS[tracked.group]
        self.act(tracked, members[seat % len(members)], "ask", "command", "g2", seat)
        self.later(after)
        self.write(tracked.owner, seat)

    @precondition(lambda self: self.has(RESOLVED))
    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        days=st.integers(5, 12),
        verb=st.sampled_from(("reopen", "rate", "confirm")),
        scheduler=st.booleans(),
    )
    def result_left_alone(self, pick: int, days: int, verb: str, scheduler: bool) -> None:
        """Nobody answers a result for a week or more; then the entrepreneur presses a button."""
        tracked = self.tracked(pick, (RESOLVED,))
        self.later(timedelta(days=days), scheduler=scheduler)
        self.press(tracked, tracked.owner, verb, days % 5 + 1, 1)

    @precondition(lambda self: self.has(RESOLVED, CLOSED))
    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        verb=st.sampled_from(("confirm", "reopen", "rate")),
        stars=st.integers(1, 5),
        times=st.integers(1, 2),
        after=LATER,
    )
    def entrepreneur_answers_result(
        self, pick: int, verb: str, stars: int, times: int, after: timedelta
    ) -> None:
        """The owner presses a button under a result, maybe twice, maybe a week later."""
        self.later(after)
        tracked = self.tracked(pick, (RESOLVED, CLOSED))
        self.press(tracked, tracked.owner, verb, stars, times)

    @rule(
        pick=st.integers(0, MAX_REQUESTS - 1),
        verb=st.sampled_from(("confirm", "reopen", "rate")),
        stars=st.integers(1, 5),
        by_owner=st.booleans(),
    )
    def button_anywhere(self, pick: int, verb: str, stars: int, by_owner: bool) -> None:
        """A button pressed on any request, by its owner or by the other entrepreneur."""
        tracked = self.tracked(pick)
        presser = tracked.owner if by_owner else next(e for e in (E1, E2) if e != tracked.owner)
        self.press(tracked, presser, verb, stars, 1)

    @rule(
        delta=st.one_of(
            st.integers(1, 23).map(lambda h: timedelta(hours=h)),
            st.integers(1, 9).map(lambda d: timedelta(days=d)),
        )
    )
    def time_passes(self, delta: timedelta) -> None:
        """Hours or days go by (beyond the five working days to reopen, sometimes)."""
        self.later(delta)

    @rule(pick=st.integers(0, 1000))
    def redelivered(self, pick: int) -> None:
        """The channel delivers a message again: same answer, nothing changes.

        Only within the platforms' redelivery horizon, the age past which the retention job
        forgets inbound keys: Telegram keeps an update for 24 hours and WeChat retries for 15
        seconds, so no platform sends anything older.
        """
        recent = [
            (message, replies)
            for message, replies in self.delivered
            if self.clock.now() - message.received_at < INBOUND_HORIZON
        ]
        if not recent:
            note("redelivery: nothing within the platforms' horizon")
            return
        message, first = recent[pick % len(recent)]
        before = self.run(self.read(None))
        again = [
            r.text for r in self.run(self.bot.dispatcher.handle(message, inline=InlinePolicy()))
        ]
        after = self.run(self.read(None))
        assert again == first
        assert (after.rows, after.pauses, after.events, after.outbox) == (
            before.rows,
            before.pauses,
            before.events,
            before.outbox,
        )


# --- The tests --------------------------------------------------------------------------------


def machine_for(setup: Setup) -> type[LifecycleMachine]:
    return type("Lifecycle", (LifecycleMachine,), {"setup": setup})


@pytest.fixture
def files(tmp_path: Path, faq_dir: Path) -> tuple[Path, Path]:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    return roster, faq_dir


@pytest.fixture
def sqlite(tmp_path: Path, files: tuple[Path, Path]) -> Iterator[Setup]:
    """A fresh SQLite file per example, in memory-backed /dev/shm where there is one."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp_path) as directory:
        counter = itertools.count()

        @contextlib.asynccontextmanager
        async def database() -> AsyncIterator[str]:
            path = Path(directory) / f"example-{next(counter)}.db"
            yield f"sqlite+aiosqlite:///{path}"
            for leftover in path.parent.glob(f"{path.name}*"):
                leftover.unlink()

        yield Setup(*files, database)


def test_no_conversation_breaks_the_lifecycle_sqlite(sqlite: Setup) -> None:
    run_state_machine_as_test(machine_for(sqlite), settings=PROFILE)


@pytest.mark.postgres
def test_no_conversation_breaks_the_lifecycle_postgres(
    postgres_server: str, files: tuple[Path, Path]
) -> None:
    def database() -> contextlib.AbstractAsyncContextManager[str]:
        return scratch_postgres(postgres_server, migrated=True)

    run_state_machine_as_test(machine_for(Setup(*files, database)), settings=POSTGRES_PROFILE)


def test_a_transfer_while_waiting_restarts_the_clock(sqlite: Setup) -> None:
    """Found by the state machine: the pause stayed open after a transfer out of "waiting".

    The request was open again (its clock running, by the lifecycle), yet the old question's
    pause stayed open: the new group's own question opened a second one, and the days in
    between were later counted as waiting, giving the group a day it did not have.
    """
    machine = machine_for(sqlite)()
    try:
        machine.first_request(start=STARTS[0], hours=0, text=NEW_TEXTS[0])  # Mon → 12-07
        machine.member_acts(pick=0, verb="ask", seat=0, form="command", to="g2", words=0)
        machine.time_passes(timedelta(days=1))
        machine.member_acts(pick=0, verb="transfer", seat=0, form="command", to="g2", words=0)
        machine.time_passes(timedelta(days=1))
        machine.member_acts(pick=0, verb="ask", seat=0, form="command", to="g2", words=1)
        machine.entrepreneur_answers(pick=0, words=2, after=timedelta(days=1))
        stored = machine.run(machine.read(None)).rows["2026-0001"]
        # Only Wednesday was spent waiting (Monday, the opening day, never counts).
        assert (stored["status"], stored["due_date"]) == (Status.CLAIMED, date(2026, 12, 8))
    finally:
        machine.teardown()
