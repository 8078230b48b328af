"""CPU use over a timed posting, read from ``/proc``.

:class:`CpuMeter` tells apart the server's, the load generator's and the fake's CPU use, the
rest of the machine's, and the hypervisor's steal time; :func:`cpu_notes` says what a row's
reader should know of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GENERATOR_BUSY = 0.9
"""Share of a core past which the load generator, one event loop, is the limit, not the server."""
OTHERS_BUSY = 0.2
"""Cores taken from the benchmark past which a row is flagged as disturbed: by processes
outside it, or by the hypervisor running other virtual machines (steal time)."""


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or ``None`` off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "(name)": state is fields[0], utime [11]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> list[int] | None:
    """``/proc/stat``'s first line: the whole machine's CPU time by kind, or ``None``."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    return [int(v) for v in first[1:]]


def machine_busy_seconds() -> float | None:
    """CPU seconds every process of the machine has spent busy (``/proc/stat``), or ``None``.

    Steal time is not in it: the hypervisor ran another virtual machine then, not a process
    here (see :func:`steal_seconds`).
    """
    ticks = _machine_ticks()
    if ticks is None:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def steal_seconds() -> float | None:
    """CPU seconds the hypervisor ran other virtual machines instead of this one, or ``None``."""
    ticks = _machine_ticks()
    if ticks is None or len(ticks) < 8:
        return None
    return ticks[7] / os.sysconf("SC_CLK_TCK")


def per_second(before: float | None, after: float | None, wall: float) -> float | None:
    """What a counter gained per second of ``wall``; ``None`` if either reading is missing."""
    return None if before is None or after is None or wall <= 0 else (after - before) / wall


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per wall second over a timed posting (``None``: unknown, or off Linux)."""

    own: tuple[float | None, float | None, float | None] = (None, None, None)
    """The benchmark's own processes: server, load generator, fake API."""
    others: float | None = None
    """The rest of the machine's processes (a test suite, a build) meanwhile."""
    steal: float | None = None
    """What the hypervisor gave other virtual machines instead of this one meanwhile."""


class CpuMeter:
    """Reads the CPU counters now, and :meth:`read` gives the CPU use since then."""

    def __init__(self, server_pid: int | Sequence[int], fake_pid: int | None) -> None:
        """Start measuring.

        Args:
            server_pid: The server's process (the bot, or the echo), or its processes (bots
                sharing a database), whose CPU is summed.
            fake_pid: The fake API's process, ``None`` where no fake takes part.
        """
        self._servers = (server_pid,) if isinstance(server_pid, int) else tuple(server_pid)
        self._pids = (*self._servers, fake_pid)
        self._cpu = self._readings()
        self._machine = machine_busy_seconds()
        self._steal = steal_seconds()
        self._ours = time.process_time()
        self.started = time.monotonic()
        """When the measure began (``time.monotonic()``)."""

    def _readings(self) -> tuple[float | None, float | None]:
        """CPU seconds so far: the servers' (summed), the fake's."""
        servers = _summed([cpu_seconds(p) for p in self._servers])
        fake = self._pids[-1]
        return servers, cpu_seconds(fake) if fake else None

    def read(self) -> CpuUse:
        """The CPU use from the start until now."""
        wall = time.monotonic() - self.started
        cpu_after = self._readings()
        machine = per_second(self._machine, machine_busy_seconds(), wall)
        steal = per_second(self._steal, steal_seconds(), wall)
        ours = time.process_time() - self._ours
        own = (
            per_second(self._cpu[0], cpu_after[0], wall),
            ours / wall if wall > 0 else None,
            per_second(self._cpu[1], cpu_after[1], wall),
        )
        # Whatever else ran on the machine meanwhile (a test suite, a build) took cores from us.
        # Steal is no process here: machine_busy_seconds leaves it out, it is told apart.
        others = None if machine is None else machine - sum(c or 0.0 for c in own)
        return CpuUse(own, others, steal)


def _summed(readings: Sequence[float | None]) -> float | None:
    return None if any(r is None for r in readings) else sum(r or 0.0 for r in readings)


def cpu_notes(setup: str, cpu: CpuUse) -> list[str]:
    """What the table's reader should know about ``setup``'s row from its CPU use, if anything.

    Args:
        setup: The row's name, which begins every note.
        cpu: The row's CPU use.

    Returns:
        A note each for other processes, steal time past :data:`OTHERS_BUSY`, and a load
        generator past :data:`GENERATOR_BUSY`.
    """
    notes = []
    if cpu.others is not None and cpu.others >= OTHERS_BUSY:
        notes.append(
            f"{setup}: other processes on this machine used {cpu.others:.2f} cores "
            "while it ran: its figures are lower than on a quiet machine."
        )
    if cpu.steal is not None and cpu.steal >= OTHERS_BUSY:
        notes.append(
            f"{setup}: the hypervisor gave {cpu.steal:.2f} cores' worth of this "
            "virtual machine's time to others while it ran (steal time): its figures are "
            "lower than on a machine of its own."
        )
    generator = cpu.own[1]
    if generator is not None and generator >= GENERATOR_BUSY:
        notes.append(
            f"{setup}: the load generator kept {generator:.0%} of a core busy, so this "
            "row is a floor: it measures the generator as much as the server."
        )
    return notes
