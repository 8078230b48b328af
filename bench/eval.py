"""Score the knowledge base: ``make eval [EVAL_SET=path/to/faq_dev.jsonl]``.

Each line is ``{"q": …, "expect": [[alternatives…], …] | null, "style": …}``. An in-scope line
passes when the bot answers outright in the question's language and the answer holds one string
of every inner list (case does not matter); an out-of-scope line (``expect: null``) passes when
the bot does not answer outright. Chatter and off-topic lines are also counted when the reply
offers a service request, which it should not.

Three parts are scored apart:

* **dev**: the shared development set (``EVAL_SET``), when it is there; a training figure, since
  the knowledge base was curated while reading its misses.
* **tuning**: our check questions that fall on the tuning side of the split; their misses are
  printed, and curating the knowledge base and the thresholds may read them.
* **held-out**: the other side. Only its figures are printed, never its lines, and a curator
  choosing between two versions runs ``--tuning-only``: nobody curating the knowledge base or
  the matcher reads its misses or tunes on its figures, so this is the figure that judges.

The split is by a keyed hash of each question's folded text (:func:`held_out`), so a line stays
on its side whatever file it is in and whatever lines are added around it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zhconv

from bot.messages import Language
from bot.settings import load_settings
from handlers.faq import ASK_COMMISSIONER, Answer, answer_question, language_of
from knowledge.service import KnowledgeBase, build
from knowledge.text import normalize

__all__ = ["CHECK_SETS", "Case", "Score", "cases", "held_out", "main"]

DATA = Path(__file__).parent / "data"
CHECK_SETS = (DATA / "faq_check.jsonl", DATA / "faq_new.jsonl", DATA / "faq_more.jsonl")
"""Our own check questions, split between tuning and held-out."""
SPLIT_KEY = "makerdesk-2026-12"
"""Fixed: changing it would move questions a curator has read onto the held-out side."""
HELD_OUT_PERCENT = 50
STYLES = (
    "short",
    "plain",
    "long",
    "typo",
    "traditional",
    "english",
    "mixed",
    "near-miss",
    "chatter",
    "off-topic",
)
QUIET_STYLES = frozenset({"chatter", "off-topic"})
"""Replies to these must not offer a service request."""


@dataclass(frozen=True, slots=True)
class Case:
    """One evaluation line."""

    question: str
    expect: tuple[tuple[str, ...], ...] | None
    style: str
    where: str
    """``file:line``."""


@dataclass
class Score:
    """Figures of one part, overall and by style."""

    name: str
    inside: Counter[str] = field(default_factory=Counter)
    inside_ok: Counter[str] = field(default_factory=Counter)
    outside: Counter[str] = field(default_factory=Counter)
    outside_ok: Counter[str] = field(default_factory=Counter)
    escalated: int = 0

    def add(self, case: Case, ok: bool) -> None:
        """Count one result under its style."""
        if case.expect is None:
            self.outside[case.style] += 1
            self.outside_ok[case.style] += ok
        else:
            self.inside[case.style] += 1
            self.inside_ok[case.style] += ok


def held_out(question: str) -> bool:
    """Whether ``question`` is on the held-out side of the split."""
    digest = hashlib.sha256(f"{SPLIT_KEY}:{normalize(question)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def style_of(question: str, expect: object) -> str:
    """A style for a line that does not name one: what can be told from its text."""
    if language_of(question) is Language.EN:
        return "english"
    if expect is None:
        return "near-miss"
    if zhconv.convert(question, "zh-hans") != question:
        return "traditional"
    folded = normalize(question)
    if any(c.isascii() and c.isalpha() for c in folded):
        return "mixed"
    length = len(folded.replace(" ", ""))
    if length >= 40:
        return "long"
    return "short" if length <= 8 else "plain"


def cases(path: Path) -> Iterator[Case]:
    """The lines of one evaluation file."""
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        expect = raw["expect"]
        groups = None if expect is None else tuple(tuple(group) for group in expect)
        style = raw.get("style") or style_of(raw["q"], expect)
        yield Case(raw["q"], groups, style, f"{path}:{number}")


def passes(case: Case, answer: Answer) -> bool:
    """Whether the bot's answer is what ``case`` expects."""
    if case.expect is None:
        return answer.faq_id is None
    if answer.faq_id is None:
        return False
    text = answer.text.casefold()
    return all(any(s.casefold() in text for s in group) for group in case.expect)


def evaluate(
    base: KnowledgeBase, name: str, lines: Iterable[Case], *, show: bool, verbose: bool = False
) -> Score:
    """Score ``lines``; print the misses only when ``show``."""
    score = Score(name)
    for case in lines:
        answer = answer_question(base, case.question, language_of(case.question))
        ok = passes(case, answer)
        score.add(case, ok)
        offers = any(b.payload == ASK_COMMISSIONER for b in answer.buttons)
        if case.style in QUIET_STYLES and offers:
            score.escalated += 1
        if show and (verbose or not ok):
            top = ", ".join(f"{m.entry.id} {m.score:.1f}" for m in answer.result.matches[:2])
            band = answer.result.band.value
            verdict = "ok  " if ok else "FAIL"
            kind = answer.kind.value
            where = f"[{band:7} {kind:10}]"
            print(f"{verdict} {name} {case.style:11} {where} {case.question}  → {top or '-'}")
    return score


def main() -> int:
    """Print the table of every part, and the misses of the parts a curator may read."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", type=Path, help="the shared development set (optional)")
    parser.add_argument("--knowledge", type=Path, help="FAQ folder (default: BOT_KNOWLEDGE_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every line read")
    parser.add_argument(
        "--tuning-only",
        action="store_true",
        help="leave the held-out part out: what a curator runs while choosing",
    )
    args = parser.parse_args()
    base = build(args.knowledge or load_settings().knowledge_dir)
    ours = [case for path in CHECK_SETS if path.is_file() for case in cases(path)]
    parts: list[tuple[str, list[Case], bool]] = []
    if args.dev is not None:
        if args.dev.is_file():
            parts.append(("dev (training)", list(cases(args.dev)), True))
        else:
            print(f"skipped: no development set at {args.dev}", file=sys.stderr)
    parts.append(("tuning", [c for c in ours if not held_out(c.question)], True))
    if not args.tuning_only:
        parts.append(("held-out", [c for c in ours if held_out(c.question)], False))
    scores = [evaluate(base, n, lines, show=show, verbose=args.verbose) for n, lines, show in parts]
    print_table(scores)
    return 0


def print_table(scores: list[Score]) -> None:
    """One row per part and style; in scope answered correctly, out of scope not answered."""
    print("\n| part | style | in scope | answered correctly | out of scope | not answered |")
    print("|---|---|---:|---:|---:|---:|")
    for s in scores:
        inside, outside = sum(s.inside.values()), sum(s.outside.values())
        good_in, good_out = sum(s.inside_ok.values()), sum(s.outside_ok.values())
        print(
            f"| **{s.name}** | all | {inside} | {_rate(good_in, inside)} "
            f"| {outside} | {_rate(good_out, outside)} |"
        )
        for style in (*STYLES, *sorted((set(s.inside) | set(s.outside)) - set(STYLES))):
            if not (s.inside[style] or s.outside[style]):
                continue
            print(
                f"| | {style} | {s.inside[style]} | {_rate(s.inside_ok[style], s.inside[style])} "
                f"| {s.outside[style]} | {_rate(s.outside_ok[style], s.outside[style])} |"
            )
        if s.escalated:
            print(f"| | chatter or off-topic offered a request | | | {s.escalated} | |")


def _rate(good: int, total: int) -> str:
    return f"{100 * good / total:.1f} % ({good})" if total else "-"


if __name__ == "__main__":
    sys.exit(main())
