"""The benchmarks' synthetic knowledge bases load: `make bench` must not stop at its first table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.matcher import write_synthetic
from knowledge.service import build


@pytest.mark.slow
def test_the_ten_thousand_entry_base_of_the_match_benchmark_loads(tmp_path: Path) -> None:
    # Its phrasings are drawn at random from the policy texts' words; two entries whose
    # phrasings read alike would make the base refuse to load, as it once did.
    write_synthetic(tmp_path, 10_000)
    assert len(build(tmp_path).entries) == 10_000
