"""Score the knowledge base on evaluation sets: ``make eval [EVAL_SET=path/to/faq_dev.jsonl]``.

Each line is ``{"q": …, "expect": [[alternatives…], …] | null}``. An in-scope line passes when
the bot answers outright and the answer holds one string of every inner list; an out-of-scope
line (``expect: null``) passes when the bot does not answer outright.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.messages import Language
from bot.settings import load_settings
from handlers.faq import answer_question
from knowledge.service import KnowledgeBase, build


@dataclass
class Score:
    name: str
    inside: int = 0
    inside_ok: int = 0
    outside: int = 0
    outside_ok: int = 0


def evaluate(base: KnowledgeBase, path: Path, verbose: bool) -> Score:
    score = Score(path.name)
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        answer = answer_question(base, case["q"], Language.ZH)
        if case["expect"] is None:
            ok = answer.faq_id is None
            score.outside += 1
            score.outside_ok += ok
        else:
            ok = answer.faq_id is not None and all(
                any(s in answer.text for s in group) for group in case["expect"]
            )
            score.inside += 1
            score.inside_ok += ok
        if verbose or not ok:
            top = ", ".join(f"{m.entry.id} {m.score:.1f}" for m in answer.result.matches[:2])
            band = answer.result.band.value
            print(f"{'ok  ' if ok else 'FAIL'} {path.name} [{band:7}] {case['q']}  → {top or '-'}")
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("eval_sets", type=Path, nargs="+")
    parser.add_argument("--knowledge", type=Path, help="FAQ folder (default: BOT_KNOWLEDGE_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every line")
    args = parser.parse_args()
    base = build(args.knowledge or load_settings().knowledge_dir)
    scores = []
    for path in args.eval_sets:
        if not path.is_file():
            print(f"skipped: no evaluation set at {path} (set EVAL_SET=…)", file=sys.stderr)
            continue
        scores.append(evaluate(base, path, args.verbose))
    print("\n| set | in scope | answered correctly | out of scope | not answered |")
    print("|---|---:|---:|---:|---:|")
    for s in scores:
        print(
            f"| {s.name} | {s.inside} | {_rate(s.inside_ok, s.inside)} "
            f"| {s.outside} | {_rate(s.outside_ok, s.outside)} |"
        )
    return 0 if scores else 2


def _rate(good: int, total: int) -> str:
    return f"{100 * good / total:.1f} % ({good})" if total else "-"


if __name__ == "__main__":
    sys.exit(main())
