"""Where a backfill's progress lives: Redis, so a crashed run resumes and the console shows it.

A backfill is named by the SHA-256 of its file's bytes (`id`): running the same file again
resumes it, a changed file is a new backfill. `her2:backfill:<id>` is a hash: the file's name
and line count, `offset` / `line` (how far the file has been read: every line before it was
queued or refused), counts (`queued`, `refused`, `batches`; `interpreted` and `failed` as the
workers settle its messages) and times. How far the file was read is written in the MULTI that
queues each batch (`advance`, through `JobStore.enqueue_batch(..., also=...)`), so after a crash
a resumed run neither sends a line twice nor skips one. `her2:backfills` indexes them by start
time for the console. Both expire `RETENTION_SECONDS` after their last update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import redis

PREFIX: Final = "her2:backfill:"
INDEX: Final = "her2:backfills"
RETENTION_SECONDS: Final = 30 * 24 * 3600
_COUNTS: Final = (
    "lines",
    "offset",
    "line",
    "queued",
    "refused",
    "batches",
    "interpreted",
    "failed",
)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    id: str
    file: str
    lines: int  # lines in the file (blank ones included)
    offset: int  # bytes of the file read through its last queued batch
    line: int  # lines read so far
    queued: int
    refused: int
    batches: int
    interpreted: int
    failed: int  # dead-lettered by the workers
    started_at: datetime
    finished_at: datetime | None  # every line read (queued or refused)

    @property
    def settled(self) -> int:
        return self.interpreted + self.failed

    @property
    def complete(self) -> bool:
        """Every line read and every queued message settled."""
        return self.finished_at is not None and self.settled >= self.queued


@dataclass(frozen=True, slots=True)
class Updates:
    """Commands for the MULTI of `JobStore` (its `also`): (pipeline method, arguments)."""

    commands: tuple[tuple[str, tuple[Any, ...]], ...]

    def add_to(self, pipe: redis.client.Pipeline) -> None:
        for method, args in self.commands:
            getattr(pipe, method)(*args)


class BackfillStore:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, backfill_id: str) -> BackfillProgress | None:
        raw = self._redis.hgetall(PREFIX + backfill_id)
        return _progress(backfill_id, raw) if raw else None

    def begin(self, backfill_id: str, file: str, lines: int) -> BackfillProgress:
        """The backfill of `backfill_id`, recorded as started now unless it already was."""
        key, now = PREFIX + backfill_id, datetime.now(UTC)
        pipe = self._redis.pipeline(transaction=True)
        for name, value in (("file", file), ("lines", lines), ("started_at", now.isoformat())):
            pipe.hsetnx(key, name, value)
        pipe.zadd(INDEX, {backfill_id: now.timestamp()}, nx=True)
        pipe.expire(key, RETENTION_SECONDS)
        pipe.expire(INDEX, RETENTION_SECONDS)
        pipe.execute()
        progress = self.get(backfill_id)
        assert progress is not None  # just written, in one transaction
        return progress

    def advance(
        self, backfill_id: str, *, offset: int, line: int, queued: int, refused: int
    ) -> Updates:
        """Read to `offset` / `line`: `queued` more messages in one more batch, `refused`
        more lines since the last batch."""
        key = PREFIX + backfill_id
        return Updates(
            (
                ("hset", (key, "offset", offset)),
                ("hset", (key, "line", line)),
                ("hincrby", (key, "queued", queued)),
                ("hincrby", (key, "refused", refused)),
                ("hincrby", (key, "batches", 1 if queued else 0)),
                ("expire", (key, RETENTION_SECONDS)),
            )
        )

    def finish(self, backfill_id: str, *, offset: int, line: int, refused: int) -> None:
        """Every line read: the last `refused` lines after the last batch, and the end."""
        key = PREFIX + backfill_id
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"offset": offset, "line": line})
        pipe.hincrby(key, "refused", refused)
        pipe.hset(key, "finished_at", datetime.now(UTC).isoformat())
        pipe.expire(key, RETENTION_SECONDS)
        pipe.execute()

    def settled(self, counts: Mapping[str, tuple[int, int]]) -> Updates:
        """Messages settled by a worker: backfill id -> (interpreted, dead-lettered)."""
        return Updates(
            tuple(
                ("hincrby", (PREFIX + backfill_id, name, n))
                for backfill_id, (interpreted, failed) in counts.items()
                for name, n in (("interpreted", interpreted), ("failed", failed))
            )
        )

    def forget(self, backfill_id: str) -> None:
        """Start the file over on its next run (`her2-adapter backfill --restart`)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(PREFIX + backfill_id)
        pipe.zrem(INDEX, backfill_id)
        pipe.execute()

    def recent(self, count: int = 10) -> list[BackfillProgress]:
        """The latest backfills, newest first."""
        ids = [_text(i) for i in self._redis.zrevrange(INDEX, 0, count - 1)]
        found = (self.get(backfill_id) for backfill_id in ids)
        return [progress for progress in found if progress is not None]


def _progress(backfill_id: str, raw: Mapping[Any, Any]) -> BackfillProgress:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    counts = {name: int(fields.get(name, "0")) for name in _COUNTS}
    finished = fields.get("finished_at")
    return BackfillProgress(
        id=backfill_id,
        file=fields.get("file", ""),
        started_at=datetime.fromisoformat(fields["started_at"]),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        **counts,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
