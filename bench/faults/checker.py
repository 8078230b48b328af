"""The oracle: every outbox row the bot wrote reached its chat exactly once, and nothing else did.

Each platform call that delivers a row names it (``X-MakerDesk-Outbox``), so a delivery is
matched to its row by id (:func:`count_copies`); an answer in a webhook's response is matched to
the rows handed back for the message posted. :func:`judge` then weighs each row: no copy, or
not sent at the end, is **lost**; a second copy is **in doubt** only if the row was in flight
at a kill (:class:`Kill`), one extra copy per kill (the platform had it, the process died before
recording that, and Telegram and WeChat take no idempotency key); any other second copy is
**doubled otherwise**, and a message naming no row of the phase, or another row's chat or text,
is **unexplained**: both are defects.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.faults.scenario import Plan
from bot.channels.wechat.render import TEXT_LIMIT, render_text, split_text
from bot.messages import Channel, OutgoingMessage
from storage.models import OutboxMessage, OutboxStatus


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


def check_deliveries(
    outcome: Outcome, rows: Sequence[OutboxMessage], arrivals: Sequence[Arrival]
) -> None:
    """Weigh every row of ``rows`` against what reached the chats (``arrivals``).

    Fills in ``outcome``'s unexplained arrivals (:func:`count_copies`), and its rows,
    deliveries, losses and doublings (:func:`judge`).
    """
    copies, outcome.unexplained = count_copies(rows, arrivals)
    judge(outcome, [Written(r.id, r.chat_id, r.status, _shown(r)) for r in rows], copies)


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
