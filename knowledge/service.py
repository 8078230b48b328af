"""The knowledge base in service: built once, swapped whole on reload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from knowledge.check import find_collisions
from knowledge.documents import DOCUMENTS_FILE, Document, document_for, load_documents
from knowledge.loader import load_directory
from knowledge.matcher import Bands, Matcher, MatchResult
from knowledge.model import FaqEntry, Fault
from knowledge.reading import Reader
from knowledge.text import Analyzer

__all__ = ["KnowledgeBase", "KnowledgeError", "KnowledgeService", "ReloadReport", "build"]

log = logging.getLogger(__name__)


class KnowledgeError(Exception):
    """The knowledge base has faults and cannot be served."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        """Keep the faults for whoever reports them."""
        super().__init__("\n".join(map(str, faults)))
        self.faults = faults


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """A validated, indexed set of entries."""

    directory: Path
    matcher: Matcher
    by_id: Mapping[str, FaqEntry] = field(repr=False)
    documents: tuple[Document, ...] = ()
    reader: Reader = field(default_factory=Reader.default, repr=False)

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        """Every entry, in file order."""
        return self.matcher.entries

    def match(self, question: str) -> MatchResult:
        """Decide how to answer ``question``."""
        return self.matcher.match(question)

    def document_of(self, entry: FaqEntry) -> Document | None:
        """The document ``entry``'s answer rests on, if the list names it."""
        return document_for(entry.source, self.documents)


def build(
    directory: Path, analyzer: Analyzer | None = None, bands: Bands | None = None
) -> KnowledgeBase:
    """Load, validate and index the FAQ files of ``directory``.

    The documents the answers cite are read from ``sources/documents.yaml`` beside
    ``directory``, when it is there.

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
    return KnowledgeBase(directory, matcher, {e.id: e for e in result.entries}, documents)


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

    @property
    def current(self) -> KnowledgeBase:
        """The knowledge base answering questions now."""
        return self._base

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
            try:
                fresh = await asyncio.to_thread(build, source, analyzer, bands)
            except KnowledgeError as error:
                log.warning(
                    "knowledge reload refused: %d faults; still serving the old base",
                    len(error.faults),
                )
                for fault in error.faults:
                    log.warning("  %s", fault)
                return ReloadReport(False, len(self._base.entries), error.faults)
            self._base = fresh
            self.loaded_at = now
            log.info("knowledge reloaded: %d entries from %s", len(fresh.entries), source)
            return ReloadReport(True, len(fresh.entries), (), now)
