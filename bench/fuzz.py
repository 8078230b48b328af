"""Fuzzing of the inbound edges at full size: 10,000 examples an edge (tests/test_fuzz_edges.py).

``make test`` runs the same properties with 200 examples each; here each runs alone under
``HYPOTHESIS_PROFILE=long`` and the table says how it ended.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import clean_env

__all__ = ["Result", "print_table", "run"]

ROOT = Path(__file__).resolve().parent.parent
EDGES = {
    "test_any_faq_file_is_served_or_refused_with_its_line": "FAQ file (text, YAML)",
    "test_any_roster_is_taken_or_refused_with_its_line": "roster file (text, YAML)",
    "test_the_web_chat_answers_any_body_without_a_server_error": "web chat POST /api/messages",
    "test_wechat_answers_any_signed_body_as_wechat_accepts": "WeChat POST /wechat (signed XML)",
    "test_telegram_takes_any_webhook_update_without_a_server_error": "Telegram webhook update",
}


@dataclass(frozen=True, slots=True)
class Result:
    """How one edge's fuzzing ended."""

    edge: str
    examples: int
    passed: bool
    seconds: float
    output: str


def run(quick: bool = False) -> list[Result]:
    """Fuzz every edge; ``quick`` keeps ``make test``'s 200 examples."""
    environment = clean_env()
    if not quick:
        environment["HYPOTHESIS_PROFILE"] = "long"
    results = []
    for test, edge in EDGES.items():
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"tests/test_fuzz_edges.py::{test}"],
            cwd=ROOT, env=environment, capture_output=True, text=True, check=False,
            timeout=1800,
        )  # fmt: skip
        results.append(
            Result(
                edge,
                200 if quick else 10_000,
                finished.returncode == 0,
                time.perf_counter() - started,
                finished.stdout[-2000:],
            )
        )
    return results


def print_table(results: list[Result]) -> None:
    """Print the results as a Markdown table, and the output of any edge that failed."""
    print("\n## Fuzzing the inbound edges (hypothesis)\n")
    print("| edge | examples | result | seconds |")
    print("|---|---:|:---:|---:|")
    for result in results:
        verdict = "no failure" if result.passed else "**FAILED**"
        print(f"| {result.edge} | {result.examples:,} | {verdict} | {result.seconds:.1f} |")
    for result in results:
        if not result.passed:
            print(f"\n{result.edge}:\n```\n{result.output}\n```")


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
