"""Knowledge-base load time and match latency, shipped base and synthetic ones.

Synthetic bases are written as real FAQ files from the policy texts' own words, so loading
parses, validates and indexes them exactly like the shipped one. Queries are phrasings with a
character dropped or swapped (the typos people make) plus questions from outside the base.
The plain full scan (``rapidfuzz.process.extractOne`` with ``WRatio`` over every phrasing) runs
beside ours on the same queries.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from knowledge.service import KnowledgeBase, build
from knowledge.text import Analyzer, normalize

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
