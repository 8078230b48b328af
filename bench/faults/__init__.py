"""Load and faults: bot processes on one PostgreSQL, killed at random, nothing lost or doubled.

A burst of entrepreneurs on Telegram and WeChat, and the commissioners answering them, reach
``python -m bot run`` processes (Telegram by webhook, WeChat in safe mode) that share one
scratch PostgreSQL database, on 127.0.0.1. In the faulty phase one of two processes is killed
with ``SIGKILL`` at random and started again at once. At the end, what the platforms received is
compared with what the database says was sent, message by message.

* :mod:`~bench.faults.scenario`: the city's roster, the entrepreneurs, the phases (:class:`Plan`);
* :mod:`~bench.faults.crowd`: the people, asking and answering as persons do;
* :mod:`~bench.faults.balancer`: the processes, and the load balancer in front of them;
* :mod:`~bench.faults.inbox`: what reached the chats;
* :mod:`~bench.faults.phase`: one phase (:func:`run_phase`): overdue requests, the killer, the
  drain; a run of every phase (:func:`run`);
* :mod:`~bench.faults.checker`: the oracle, every outbox row against its copies (:func:`judge`);
* :mod:`~bench.faults.table`: the table (:func:`print_table`).
"""

from bench.faults.checker import Arrival, Kill, Outcome, Written, count_copies, judge
from bench.faults.phase import Report, run, run_phase
from bench.faults.scenario import Plan, inbound_of, plans
from bench.faults.table import print_table

__all__ = [
    "Arrival",
    "Kill",
    "Outcome",
    "Plan",
    "Report",
    "Written",
    "count_copies",
    "inbound_of",
    "judge",
    "plans",
    "print_table",
    "run",
    "run_phase",
]
