"""The knowledge base in service: built once, swapped whole on reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from knowledge.cache import MATCH_CACHE_SIZE, CacheCounts, TextCache
from knowledge.check import find_collisions
from knowledge.documents import DOCUMENTS_FILE, Document, document_for, load_documents
from knowledge.loader import load_directory
from knowledge.matcher import Band, Bands, Matcher, MatchResult
from knowledge.model import FaqEntry, Fault
from knowledge.reading import Reader, Reading
from knowledge.text import Analyzer

__all__ = [
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeService",
    "ReloadReport",
    "Understanding",
    "build",
]

log = logging.getLogger(__name__)


class KnowledgeError(Exception):
    """The knowledge base has faults and cannot be served."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        """Keep the faults for whoever reports them."""
        super().__init__("\n".join(map(str, faults)))
        self.faults = faults


@dataclass(frozen=True, slots=True)
class Understanding:
    """What a knowledge base makes of a message from its words alone.

    That is everything the reply depends on besides the language and the date it is given in,
    so a message sent again word for word is answered from it (:meth:`KnowledgeBase.understand`).
    """

    reading: Reading
    result: MatchResult
    """How the question matched. Chatter, a place outside Tianjin and a task are not matched:
    no band, no matches."""
    off_topic: bool
    """Whether the question matched nothing and holds no word the policies are about (only
    asked of a question that was matched)."""


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """A validated, indexed set of entries."""

    directory: Path
    matcher: Matcher
    by_id: Mapping[str, FaqEntry] = field(repr=False)
    documents: tuple[Document, ...] = ()
    reader: Reader = field(default_factory=Reader.default, repr=False)
    match_cache: TextCache[Understanding] = field(
        default_factory=lambda: TextCache(MATCH_CACHE_SIZE), repr=False, compare=False
    )
    """What :meth:`understand` worked out, by the text as written. It belongs to this base: a
    reload builds a new base with an empty cache, so an edited entry is served at once."""
    _cited: Mapping[str, Document | None] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    """The document each entry's source cites, worked out once for the base (an answer asks)."""

    def __post_init__(self) -> None:
        cited = {e.source: document_for(e.source, self.documents) for e in self.matcher.entries}
        object.__setattr__(self, "_cited", cited)

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        """Every entry, in file order."""
        return self.matcher.entries

    def match(self, question: str) -> MatchResult:
        """Decide how to answer ``question``."""
        return self.matcher.match(question)

    def understand(self, question: str) -> Understanding:
        """Read and match ``question``, or take what was found when it was last asked.

        The key is the text exactly as the channel hands it over (with the white space around
        it stripped), nothing looser. The reader and the matcher look at the text before they
        fold it: its punctuation splits clauses, a clause asks when it has 吗 or "what", a
        message of a dozen characters or more is read clause by clause. So texts that
        :func:`~knowledge.text.normalize` makes equal can still be answered differently.
        """
        return self.match_cache.get(question, self._understand)

    def _understand(self, question: str) -> Understanding:
        reading = self.reader.read(question)
        if reading.chatter is not None or reading.elsewhere is not None or reading.task:
            return Understanding(reading, MatchResult(question, Band.NONE, ()), off_topic=False)
        result = self.matcher.match(reading.question)
        # Only a question that matched nothing needs this second look at its words.
        off_topic = result.band is Band.NONE and not self.matcher.about_policies(reading.question)
        return Understanding(reading, result, off_topic)

    def document_of(self, entry: FaqEntry) -> Document | None:
        """The document ``entry``'s answer rests on, if the list names it."""
        try:
            return self._cited[entry.source]
        except KeyError:  # an entry of another base
            return document_for(entry.source, self.documents)


def build(
    directory: Path,
    analyzer: Analyzer | None = None,
    bands: Bands | None = None,
    cache_size: int = MATCH_CACHE_SIZE,
) -> KnowledgeBase:
    """Load, validate and index the FAQ files of ``directory``.

    The documents the answers cite are read from ``sources/documents.yaml`` beside
    ``directory``, when it is there.

    Args:
        directory: The folder of FAQ files.
        analyzer: How text is folded and segmented; the shipped one by default.
        bands: The matcher's score thresholds; the calibrated ones by default.
        cache_size: Questions whose reading and match the base keeps (0: none).

    Raises:
        KnowledgeError: With every fault found, each naming file and line: faults of the files,
            of the glossary and of the document list, and entries the matcher cannot tell apart,
            all in one run.
    """
    result = load_directory(directory)
    documents, document_faults = load_documents(directory.parent / "sources" / DOCUMENTS_FILE)
    analyzer = analyzer or Analyzer.default()
    matcher = Matcher(result.entries, analyzer, bands)
    faults = (
        *analyzer.glossary.faults,
        *result.faults,
        *document_faults,
        *find_collisions(matcher),
    )
    if faults:
        raise KnowledgeError(tuple(sorted(set(faults))))
    by_id = {e.id: e for e in result.entries}
    return KnowledgeBase(directory, matcher, by_id, documents, match_cache=TextCache(cache_size))


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload did."""

    ok: bool
    entries: int
    faults: tuple[Fault, ...] = ()
    loaded_at: datetime | None = None


class KnowledgeService:
    """Holds the serving knowledge base; a failed reload keeps the old one."""

    def __init__(self, base: KnowledgeBase, loaded_at: datetime) -> None:
        """Serve ``base``, loaded at ``loaded_at``."""
        self._base = base
        self.loaded_at = loaded_at
        self._reloading = asyncio.Lock()
        self._retired = CacheCounts()
        """The match cache counts of the bases reloaded away, so the totals never go back."""

    @property
    def current(self) -> KnowledgeBase:
        """The knowledge base answering questions now."""
        return self._base

    @property
    def match_cache(self) -> CacheCounts:
        """Hits and misses of the match cache since start, over every base served.

        A lookup in a base already reloaded away (a handler that held it across a reload)
        is not counted.
        """
        return self._retired + self._base.match_cache.counts

    async def reload(self, now: datetime, directory: Path | None = None) -> ReloadReport:
        """Rebuild from disk off the event loop; swap only if the new base is valid.

        Args:
            now: The time of the reload, from the bot's clock.
            directory: Where to read from; the current base's folder by default.
        """
        async with self._reloading:
            source = directory or self._base.directory
            analyzer = self._base.matcher.analyzer
            bands = self._base.matcher.bands
            size = self._base.match_cache.size
            try:
                fresh = await asyncio.to_thread(build, source, analyzer, bands, size)
            except KnowledgeError as error:
                log.warning(
                    "knowledge reload refused: %d faults; still serving the old base",
                    len(error.faults),
                )
                for fault in error.faults:
                    log.warning("  %s", fault)
                return ReloadReport(False, len(self._base.entries), error.faults)
            self._retired += self._base.match_cache.counts
            self._base = fresh  # with an empty match cache: no answer of the old base is served
            self.loaded_at = now
            log.info("knowledge reloaded: %d entries from %s", len(fresh.entries), source)
            return ReloadReport(True, len(fresh.entries), (), now)
