"""The city, its people and the phases: what a faults run is made of.

A city's roster (:func:`city_roster`): 96 maker spaces in 8 districts, a duty group with its own
Telegram chat for each (Telegram lets a bot post only 20 messages a minute in one group). Half
the entrepreneurs are on Telegram, half on WeChat; one in :data:`REQUEST_EVERY` opens a request.
A run is three phases on the same load (:func:`plans`): one process, two, two killed at random.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.fake_wechat import new_aes_key

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


def inbound_of(index: int) -> int:
    """Inbound messages of entrepreneur ``index``: space and two questions, and a request
    with its answer for one in :data:`REQUEST_EVERY`."""
    return 5 if index % REQUEST_EVERY == 0 else 3


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
