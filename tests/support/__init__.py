"""What the tests share, with each other and with the benchmarks (``bench``).

* :mod:`~tests.support.processes`: the real bot as a process (port 0, health, stop), and the
  clean environment every process a test starts gets; :mod:`~tests.support.cli`: its commands,
  run in the test's own process or (one smoke test each) as a process;
* :mod:`~tests.support.databases`: scratch PostgreSQL databases, a private PostgreSQL cluster,
  a small tmpfs;
* :mod:`~tests.support.fake_telegram`, :mod:`~tests.support.fake_wechat`: the platforms' APIs,
  as HTTP servers on 127.0.0.1; :mod:`~tests.support.tcp_proxy`: a proxy that stalls or cuts;
* :mod:`~tests.support.knowledge` (FAQ files), :mod:`~tests.support.desk` (the test roster, its
  people, the bot in process), :mod:`~tests.support.server`, :mod:`~tests.support.console`,
  :mod:`~tests.support.wechat`, :mod:`~tests.support.telegram`: ways to talk to the bot;
* :mod:`~tests.support.reports`: a quarter of work and its report;
  :mod:`~tests.support.report_reference`: the slow, obvious count the report is checked against.
"""

import os
from pathlib import Path

__all__ = ["IN_CI", "ROOT"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository."""
IN_CI = os.environ.get("CI") == "true"
"""Running in CI, where a missing PostgreSQL, Chromium or root fails a test instead of skipping."""
