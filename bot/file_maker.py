"""The file maker: makes the files queued messages wait for (the quarterly reports), one job each.

``/report`` queues a message that carries a file to make; queuing it orders the file
(:mod:`storage.made_files`) and the message waits. This worker takes due jobs under a lease,
makes each file once, away from the delivery loop, and stores it; storing the last file of a
message lets the message go, and the sender sends the stored bytes however often it has to
retry. A file that cannot be made is tried :data:`MAX_ATTEMPTS` times; then the message fails
and its reader is told in plain words instead, so nobody waits for a file that never comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from bot.clock import Clock
from bot.logs import Outage, about
from bot.messages import OutgoingMessage
from bot.texts.chat import texts_for
from bot.waits import first_of
from storage import made_files, outbox
from storage.database import UNAVAILABLE, Database

__all__ = ["LEASE", "MAX_ATTEMPTS", "FileMaker", "FileSource", "MadeFile"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Attempts before a file counts as impossible to make, 10 s doubling apart: a report counts and
prints in seconds, or has a fault that waiting does not mend (a PDF that fails goes as HTML)."""
FIRST_RETRY = timedelta(seconds=10)
LEASE = timedelta(minutes=5)
"""How long a taken job is this maker's: a big quarter counts and prints within a minute."""


class MadeFile(Protocol):
    """A file the bot made."""

    @property
    def name(self) -> str:
        """The file name the reader sees."""
        ...

    @property
    def media_type(self) -> str:
        """Its media type, ``application/pdf``."""
        ...

    @property
    def content(self) -> bytes:
        """The file."""
        ...


class FileSource(Protocol):
    """Makes the file a spec describes; :class:`bot.reports.files.ReportMaker` is one."""

    async def make(self, spec: str) -> MadeFile:
        """The file ``spec`` describes, made now."""
        ...


class FileMaker:
    """Makes the queued files, one at a time per process."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        source: FileSource,
        *,
        on_made: Callable[[], None] | None = None,
        idle: float = 5.0,
        lease: timedelta = LEASE,
    ) -> None:
        """Create a maker.

        Args:
            database: Where the jobs and the outbox live.
            clock: Decides when a retry is due.
            source: Makes a file from its spec.
            on_made: Called when a message may go now (wakes the outbox sender).
            idle: Seconds between rounds when nothing woke the maker.
            lease: How long a taken job is this maker's.
        """
        self._database = database
        self._clock = clock
        self._source = source
        self._on_made = on_made
        self._idle = idle
        self._lease = lease
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: look for files to make now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Make files until ``stop`` is set; a round that fails is logged and tried again."""
        outage = Outage(log, "file maker")
        with about(None):
            while not stop.is_set():
                self._wake.clear()
                try:
                    made = await self.make_due()
                except UNAVAILABLE as error:
                    outage.failed(error)
                    made = 0
                except Exception:
                    log.exception("file maker round failed; trying again")
                    made = 0
                else:
                    outage.succeeded()
                if made:
                    continue
                await first_of(self._wake, stop, within=self._idle)

    async def make_due(self) -> int:
        """One round: make the due files, oldest first. Returns how many jobs were taken."""
        async with self._database.write_lock:
            jobs = await made_files.claim_due(
                self._database.sessions, now=self._clock.now(), lease=self._lease
            )
        for job in jobs:
            await self._make(job)
        return len(jobs)

    async def _make(self, job: made_files.Job) -> None:
        try:
            made = await self._source.make(job.spec)
        except Exception as error:
            # The database failing for now too: a report counts from it, and a short outage is
            # over within the attempts (about two and a half minutes).
            log.exception("could not make %s (attempt %d)", job.spec, job.attempts)
            await self._failed(job, type(error).__name__)
            return
        async with self._database.transaction() as session:
            released = await made_files.store(
                session,
                job,
                name=made.name,
                media_type=made.media_type,
                content=made.content,
                now=self._clock.now(),
            )
        log.info("made %s (%d bytes)", job.spec, len(made.content))
        if released is not None and self._on_made is not None:
            self._on_made()

    async def _failed(self, job: made_files.Job, reason: str) -> None:
        now = self._clock.now()
        async with self._database.transaction() as session:
            if job.attempts < MAX_ATTEMPTS:
                wait = FIRST_RETRY * 2 ** (job.attempts - 1)
                await made_files.retry_later(session, job, now + wait, reason)
                return
            failed = await made_files.fail(session, job, reason)
            if failed is None:
                return
            message = OutgoingMessage.from_payload(
                failed.channel, failed.chat_id, failed.payload, failed.request_id
            )
            assert message is not None
            what = message.text.splitlines()[0] if message.text else job.spec
            note = texts_for(message.language).file_not_made.format(what=what)
            # To the chat the waiting message was for: it was queued, so its channel is served.
            told = OutgoingMessage(
                message.chat_id, message.channel, note, language=message.language
            )
            outbox.enqueue_message(session, told, now, inbound_key=failed.inbound_key)
        log.error("gave up making %s after %d attempts: %s", job.spec, job.attempts, reason)
        if self._on_made is not None:
            self._on_made()
