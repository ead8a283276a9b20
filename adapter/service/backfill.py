"""A bulk backfill: years of results, an NDJSON file of FHIR messages, through the service.

Each line is admitted exactly as the HTTP door admits a message (`admission.admit`: the same
checks, the same errors, a refused line named by its number) and the admitted ones are queued
in batches (`InterpretBatch`, `batch_size` messages per task, settled by the workers as one
transaction: adapter/service/batch.py). Every message keeps a job of its own: its id (from the
file and the line, so the same line always has the same id), its record (`GET /jobs/{id}`) and,
when the worker finds it bad, its dead letter.

Resumable: the file is named by the SHA-256 of its bytes (`BackfillStore`), and how far it was
read is written in the MULTI that queues each batch. A run that stopped (a crash, Ctrl-C, Redis
away) is started again with the same command: it reads on from there, sending no line twice and
skipping none. The queue is kept short (`MAX_WAITING_BATCHES`): a file of any size runs in the
memory of one batch, here and in Redis.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

import celery
import redis

from adapter.backfill_store import BackfillProgress, BackfillStore
from adapter.broker import queue_depth
from adapter.errors import BadInput, DependencyUnavailable
from adapter.interpretation.model import SiteGroup
from adapter.job_store import JobStore
from adapter.mappings import Mappings
from adapter.queue import InterpretBatch, InterpretJob
from adapter.service.admission import admit

# Job and batch ids of a backfill's lines: uuid5(NAMESPACE, "<backfill id>:<line>").
NAMESPACE: Final = uuid.UUID("5d0c4c1e-4b7f-5a55-9a36-2f0a7c3e8b11")
DEFAULT_BATCH: Final = 100
# Batches waiting in the queue before reading pauses: enough to keep every worker busy, few
# enough that Redis never holds more than a few thousand messages of one file.
MAX_WAITING_BATCHES: Final = 20


@dataclass(frozen=True, slots=True)
class BackfillServices:
    redis: redis.Redis
    celery: celery.Celery
    jobs: JobStore
    progress: BackfillStore
    mappings: Mappings
    can_fetch: bool  # a FHIR server is configured (a references-only line can be read)


@dataclass(frozen=True, slots=True)
class Options:
    batch_size: int = DEFAULT_BATCH
    site: SiteGroup | None = None
    restart: bool = False  # forget how far the file was read: send every line again


def identify(path: Path) -> tuple[str, int]:
    """(backfill id: the SHA-256 of the file's bytes, its number of lines), read in chunks."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest()[:32], lines + (last != b"\n")


def run(
    path: Path,
    services: BackfillServices,
    options: Options,
    *,
    refused: Callable[[int, BadInput], None],
    progress: Callable[[BackfillProgress], None],
) -> tuple[BackfillProgress, bool]:
    """Queue every line of `path` not queued yet; returns the backfill's progress once every
    line is read, and whether this run read any (False: an earlier run had read them all).
    `refused(line, error)` is called for each line the admission refuses, `progress` after
    each batch and while reading waits for the queue."""
    backfill_id, lines = identify(path)
    if options.restart:
        services.progress.forget(backfill_id)
    started = services.progress.begin(backfill_id, str(path), lines)
    if started.finished_at is not None:
        return started, False
    with path.open("rb") as file:
        _Reader(services, options, started, refused, progress).read(file)
    return _current(services, backfill_id), True


def wait_until_settled(
    services: BackfillServices,
    backfill_id: str,
    progress: Callable[[BackfillProgress], None],
    poll_seconds: float = 0.5,
) -> BackfillProgress:
    """Until the workers settled every queued message (interpreted or dead-lettered)."""
    while not (current := _current(services, backfill_id)).complete:
        progress(current)
        time.sleep(poll_seconds)  # the workers' pace, not ours: no deadline
    return current


class _Reader:
    """One pass over the unread part of the file: admit, batch, queue."""

    def __init__(
        self,
        services: BackfillServices,
        options: Options,
        started: BackfillProgress,
        refused: Callable[[int, BadInput], None],
        progress: Callable[[BackfillProgress], None],
    ) -> None:
        self.services, self.options, self.id = services, options, started.id
        self.offset, self.line = started.offset, started.line
        self.on_refused, self.on_progress = refused, progress
        self.batch: list[InterpretJob] = []
        self.refused = 0  # lines refused since the last batch was queued

    def read(self, file: BinaryIO) -> None:
        for number, text in self._lines(file):
            try:
                admitted = admit(
                    text,
                    None,
                    self.services.mappings,
                    self.options.site,
                    can_fetch=self.services.can_fetch,
                )
            except BadInput as error:
                self.refused += 1
                self.on_refused(number, error)
                continue
            self.batch.append(self._job(number, admitted.text))
            if len(self.batch) >= self.options.batch_size:
                self._queue()
        if self.batch:
            self._queue()
        self.services.progress.finish(
            self.id, offset=self.offset, line=self.line, refused=self.refused
        )

    def _lines(self, file: BinaryIO) -> Iterator[tuple[int, bytes]]:
        """(line number, line) of each non-blank line after the last one queued; `offset` and
        `line` follow the reading, so a batch records exactly where it ends."""
        file.seek(self.offset)
        for raw in file:
            self.offset += len(raw)
            self.line += 1
            text = raw.rstrip(b"\r\n")
            if text.strip():
                yield self.line, text

    def _job(self, number: int, text: str) -> InterpretJob:
        site = self.options.site
        return InterpretJob(
            job_id=str(uuid.uuid5(NAMESPACE, f"{self.id}:{number}")),
            door="backfill",
            received_at=datetime.now(UTC),
            body=text,
            site=site.value if site else None,
            backfill=self.id,
        )

    def _queue(self) -> None:
        """Queue the batch with how far the file is read, in one MULTI; waits first while the
        queue holds MAX_WAITING_BATCHES tasks."""
        delay = 0.05
        while queue_depth(self.services.redis) >= MAX_WAITING_BATCHES:
            self.on_progress(_current(self.services, self.id))
            time.sleep(delay)  # the workers' pace: they drain the queue
            delay = min(delay * 2, 0.5)
        first = self.batch[0].job_id
        batch = InterpretBatch(batch_id=str(uuid.uuid5(NAMESPACE, first)), jobs=tuple(self.batch))
        read = self.services.progress.advance(
            self.id,
            offset=self.offset,
            line=self.line,
            queued=len(self.batch),
            refused=self.refused,
        )
        self.services.jobs.enqueue_batch(self.services.celery, batch, also=[read])
        self.batch, self.refused = [], 0
        self.on_progress(_current(self.services, self.id))


def _current(services: BackfillServices, backfill_id: str) -> BackfillProgress:
    progress = services.progress.get(backfill_id)
    if progress is None:  # begun by this run: only a flush of Redis removes it meanwhile
        raise DependencyUnavailable("the backfill's progress is no longer in Redis: run it again")
    return progress
