"""Knowledge-base load time and match latency, shipped base and synthetic ones.

Synthetic bases are written as real FAQ files from the policy texts' own words, so loading
parses, validates and indexes them exactly like the shipped one. Queries are phrasings with a
character dropped or swapped (the typos people make) plus questions from outside the base.
The plain full scan (``rapidfuzz.process.extractOne`` with ``WRatio`` over every phrasing) runs
beside ours on the same queries.

A second table times the matcher and the whole answer (``handlers.faq.ask``) on the shipped
base over the benchmarks' distinct everyday texts (:func:`bench.load.everyday_questions`, no
match cache), beside the matcher before exact pruning (every candidate scored:
:class:`tests.support.matcher_reference.CdistMatcher`) in the same run: CPU time, median of
three alternating runs; and, exactly, the candidates and phrasings scored and Python's function
calls per text.
"""

from __future__ import annotations

import cProfile
import dataclasses
import math
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from bench.load import everyday_questions, questions
from bot.messages import Channel, IncomingMessage, Sender
from handlers.faq import ask
from knowledge.cache import TextCache
from knowledge.matcher import Matcher, _Asked
from knowledge.service import KnowledgeBase, build
from knowledge.text import Analyzer, normalize
from tests.support.matcher_reference import CdistMatcher

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "knowledge" / "faq"
SOURCES = ROOT / "knowledge" / "sources"
OUTSIDE = ["今天天气怎么样", "帮我订一张火车票", "推荐一家火锅店", "明天股票会涨吗", "你会写诗吗"]


@dataclass(frozen=True)
class Row:
    base: str
    entries: int
    phrasings: int
    load_s: float
    ours_p50_ms: float
    ours_p99_ms: float
    scan_p50_ms: float
    scan_p99_ms: float


def _vocabulary(analyzer: Analyzer) -> list[str]:
    words: list[str] = []
    for path in sorted(SOURCES.glob("*.txt")):
        folded = analyzer.fold(path.read_text(encoding="utf-8"))
        words += [w for w in analyzer.content_tokens(folded) if len(w) >= 2 and not w.isascii()]
    return sorted(set(words))


def write_synthetic(directory: Path, count: int, seed: int = 7) -> None:
    """Write ``count`` entries with 4 variants each as FAQ files of 500 entries."""
    analyzer = Analyzer.default()
    rng = random.Random(seed)
    words = _vocabulary(analyzer)
    tails = ["是什么", "怎么办理", "有哪些", "在哪里", "多久", "怎么申请", "有补贴吗", "谁负责"]
    entries: list[dict[str, object]] = []
    seen: set[str] = set()
    # Phrasings of two entries must not read alike (the base would refuse to load): what each
    # reads as, by the analyzer's content words, is kept.
    taken: set[frozenset[str]] = set()
    while len(entries) < count:
        topic = rng.sample(words, 3)
        key = " ".join(sorted(topic))
        if key in seen:
            continue
        seen.add(key)
        n = len(entries)
        phrasings = [
            "".join(topic) + rng.choice(tails),
            *("".join(rng.sample(topic, 3)) + rng.choice(tails) for _ in range(2)),
            topic[0] + rng.choice(words) + topic[1] + topic[2],
            f"{topic[1]}{topic[2]}的{topic[0]}",
        ]
        reads = {frozenset(analyzer.content_tokens(analyzer.fold(p))) for p in phrasings}
        if reads & taken:
            continue
        taken |= reads
        entries.append(
            {
                "id": f"synthetic-{n}",
                "question": phrasings[0],
                "variants": phrasings[1:],
                "answer": "合成条目：" + "、".join(topic),
                "source": "合成 第一条",
                "category": "synthetic",
            }
        )
    for start in range(0, count, 500):
        chunk = entries[start : start + 500]
        text = yaml.safe_dump(chunk, allow_unicode=True, sort_keys=False)
        (directory / f"synthetic-{start // 500:03}.yaml").write_text(text, encoding="utf-8")


def _queries(base: KnowledgeBase, count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    phrasings = [p.text for e in base.entries for p in e.phrasings]
    queries = []
    for _ in range(count):
        text = rng.choice(phrasings)
        if len(text) > 4:
            i = rng.randrange(len(text) - 1)
            text = (
                text[:i] + text[i + 1 :]
                if rng.random() < 0.5
                else text[:i] + text[i + 1] + text[i] + text[i + 2 :]
            )
        queries.append(text if rng.random() > 0.1 else rng.choice(OUTSIDE))
    return queries


def _latencies(run: Callable[[str], object], queries: Sequence[str]) -> tuple[float, float]:
    for query in queries[:20]:  # warm caches
        run(query)
    samples = []
    for query in queries:
        start = time.perf_counter()
        run(query)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def measure(name: str, directory: Path, queries: int) -> Row:
    Analyzer.default()  # jieba's dictionary loads once per process; not part of a base's load
    start = time.perf_counter()
    base = build(directory)
    load = time.perf_counter() - start
    asked = _queries(base, queries)
    ours = _latencies(base.match, asked)
    strings = [normalize(p.text) for e in base.entries for p in e.phrasings]
    scan_queries = asked[: max(50, queries // 10)]  # the full scan is slow; fewer samples suffice

    def scan(query: str) -> object:
        return process.extractOne(normalize(query), strings, scorer=fuzz.WRatio)

    plain = _latencies(scan, scan_queries)
    return Row(name, len(base.entries), len(strings), load, *ours, *plain)


def run(quick: bool = False) -> list[Row]:
    """Measure the shipped base and synthetic bases of 1,000 and 10,000 entries."""
    queries = 300 if quick else 2000
    rows = [measure("shipped", SHIPPED, queries)]
    for size in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as tmp:
            write_synthetic(Path(tmp), size)
            rows.append(measure(f"synthetic {size:,}", Path(tmp), queries))
    return rows


def print_table(rows: Sequence[Row]) -> None:
    print("\n## Knowledge base: load and match latency\n")
    print(
        "| base | entries | phrasings | load (s) | match p50 (ms) | match p99 (ms) "
        "| full-scan WRatio p50 (ms) | full-scan p99 (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.base} | {r.entries:,} | {r.phrasings:,} | {r.load_s:.2f} | {r.ours_p50_ms:.3f} "
            f"| {r.ours_p99_ms:.3f} | {r.scan_p50_ms:.2f} | {r.scan_p99_ms:.2f} |"
        )


# ---------------------------------------------------------------- before and after pruning


@dataclass(frozen=True)
class AskRow:
    stage: str
    texts: int
    before_us: float
    after_us: float
    before_runs: tuple[float, ...]
    after_runs: tuple[float, ...]
    before_calls: float
    after_calls: float


@dataclass(frozen=True)
class Scored:
    texts: int
    candidates: float
    before_entries: float
    after_entries: float
    before_phrasings: float
    after_phrasings: float


class _CountedBefore(CdistMatcher):
    """The matcher before pruning, counting the candidates and phrasings it scores: all."""

    counts = (0, 0, 0)
    """Candidates, entries scored, their phrasings."""

    def _candidates(self, words: list[str], compact: str) -> list[int]:
        found = super()._candidates(words, compact)
        phrasings = sum(len(self._phrasings_of[index]) for index in found)
        candidates, entries, scored = self.counts
        self.counts = (candidates + len(found), entries + len(found), scored + phrasings)
        return found


class _CountedAfter(Matcher):
    """The matcher, counting its candidates, the entries it scores and their phrasings."""

    counts = (0, 0, 0)
    """Candidates, entries scored, their phrasings."""

    def _candidates(self, words: list[str], compact: str) -> list[int]:
        found = super()._candidates(words, compact)
        candidates, entries, scored = self.counts
        self.counts = (candidates + len(found), entries, scored)
        return found

    def _entry_score(
        self, asked: _Asked, index: int, explained: float, needed: float = -math.inf
    ) -> float:
        candidates, entries, scored = self.counts
        self.counts = (candidates, entries + 1, scored + len(self._phrasings_of[index]))
        return super()._entry_score(asked, index, explained, needed)


def _cpu_us(run: Callable[[str], object], texts: Sequence[str]) -> float:
    start = time.process_time()
    for text in texts:
        run(text)
    return (time.process_time() - start) / len(texts) * 1e6


def _calls(run: Callable[[str], object], texts: Sequence[str]) -> float:
    profile = cProfile.Profile()
    profile.enable()
    for text in texts:
        run(text)
    profile.disable()
    return pstats.Stats(profile).total_calls / len(texts)  # type: ignore[attr-defined, no-any-return]


def run_pruning(quick: bool = False, runs: int = 3) -> tuple[list[AskRow], Scored]:
    """Time ``Matcher.match`` and ``handlers.faq.ask`` before and after exact pruning."""
    after_base = build(SHIPPED, cache_size=0)
    matcher = after_base.matcher
    before_matcher = CdistMatcher(matcher.entries, matcher.analyzer, matcher.bands, matcher.scoring)
    before_base = dataclasses.replace(after_base, matcher=before_matcher, match_cache=TextCache(0))
    texts = [text for text, _ in everyday_questions(questions())]
    if quick:
        texts = texts[:2_000]
    # The matcher sees the question as the reader hands it over.
    asked = [after_base.reader.read(text).question for text in texts]
    now = datetime.now(UTC)
    messages = [
        IncomingMessage(Sender(Channel.TELEGRAM, "1"), "1", text, str(n), now)
        for n, text in enumerate(texts)
    ]
    by_text = {m.text: m for m in messages}
    stages: list[tuple[str, Callable[[str], object], Callable[[str], object], list[str]]] = [
        ("`Matcher.match`", before_matcher.match, matcher.match, asked),
        (
            "`handlers.faq.ask`",
            lambda text: ask(by_text[text], before_base),
            lambda text: ask(by_text[text], after_base),
            texts,
        ),
    ]
    rows = []
    for stage, before, after, inputs in stages:
        for text in inputs[:200]:  # warm caches (jieba, the reader)
            before(text)
            after(text)
        before_runs, after_runs = [], []
        for _ in range(runs):  # alternating, so both meet the same machine
            before_runs.append(_cpu_us(before, inputs))
            after_runs.append(_cpu_us(after, inputs))
        sample = inputs[:500]
        rows.append(
            AskRow(
                stage,
                len(inputs),
                statistics.median(before_runs),
                statistics.median(after_runs),
                tuple(before_runs),
                tuple(after_runs),
                _calls(before, sample),
                _calls(after, sample),
            )
        )
    before_counted = _CountedBefore(matcher.entries, matcher.analyzer, matcher.bands)
    after_counted = _CountedAfter(matcher.entries, matcher.analyzer, matcher.bands)
    for question in asked:
        before_counted.match(question)
        after_counted.match(question)
    n = len(asked)
    scored = Scored(
        n,
        after_counted.counts[0] / n,
        before_counted.counts[1] / n,
        after_counted.counts[1] / n,
        before_counted.counts[2] / n,
        after_counted.counts[2] / n,
    )
    return rows, scored


def print_pruning(rows: Sequence[AskRow], scored: Scored) -> None:
    print("\n## The shipped base over distinct everyday texts: before and after exact pruning\n")
    print(
        "| stage | texts | before µs/text (CPU, median) | after µs/text | after / before "
        "| before runs | after runs | calls/text before | calls/text after |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|---:|")
    for r in rows:
        print(
            f"| {r.stage} | {r.texts:,} | {r.before_us:.0f} | {r.after_us:.0f} "
            f"| {r.after_us / r.before_us:.2f} | {', '.join(f'{v:.0f}' for v in r.before_runs)} "
            f"| {', '.join(f'{v:.0f}' for v in r.after_runs)} "
            f"| {r.before_calls:,.0f} | {r.after_calls:,.0f} |"
        )
    print(
        f"\nPer text ({scored.texts:,}): {scored.candidates:.2f} candidates; entries scored "
        f"{scored.before_entries:.2f} before, {scored.after_entries:.2f} after; their phrasings "
        f"{scored.before_phrasings:.1f} before, {scored.after_phrasings:.1f} after. CPU time of "
        "this process on a shared machine: noisy, compare the columns of one run."
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.matcher")
    parser.add_argument("--quick", action="store_true", help="2,000 texts")
    parser.add_argument("--pruning", action="store_true", help="only the before/after table")
    args = parser.parse_args()
    if not args.pruning:
        print_table(run(quick=args.quick))
    print_pruning(*run_pruning(quick=args.quick))
