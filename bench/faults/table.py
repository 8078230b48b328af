"""The faults run's table: the phases side by side, each kill, and what went wrong."""

from __future__ import annotations

import os

from bench.faults.phase import Report
from bench.faults.scenario import REQUEST_EVERY, SPACES
from bench.figures import print_markdown


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
