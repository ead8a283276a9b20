"""What became of each accepted job, for `GET /jobs/{id}`: queued, done (what was written) or
failed (an OperationOutcome). Kept in Redis for `job_retention_seconds`, outbox included.

Key: `her2:job:<job_id>`, a hash with fields state, door, received_at, settled_at, written
(JSON list), outcome (JSON) and, while the job is pending, the job itself. `enqueue` writes
`queued` in the same MULTI that queues the task; the worker writes `done` / `failed`.

The job store is also the outbox that makes "accepted" durable beyond the broker: every queued
job stays in the sorted set `her2:jobs:pending` (scored by the time it was queued) with its
message until it is done or failed (or its record expired). Celery's Redis transport pops a
task before it records it as unacknowledged, so a Redis crash between the two loses the task;
the sweeper (adapter/service/sweeper.py) re-submits a pending job that the broker no longer
holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import celery
import redis

from adapter.broker import task_message
from adapter.errors import QueueUnavailable
from adapter.queue import QUEUE, InterpretJob

PREFIX: Final = "her2:job:"
PENDING: Final = "her2:jobs:pending"


class JobState(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: str
    state: JobState
    door: str
    received_at: datetime
    written: tuple[str, ...] = ()  # references of what the write-back wrote
    outcome: dict[str, Any] | None = None  # OperationOutcome when failed
    settled_at: datetime | None = None  # when it was done or failed


class JobStore:
    """Job records in Redis; every write refreshes the retention."""

    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._redis = client
        self._retention = retention_seconds

    def enqueue(self, app: celery.Celery, job: InterpretJob) -> None:
        """Record `job` as queued and pending, with its message (replacing any earlier record
        of the same id), and queue its task: one MULTI, so Redis holds all of it or none.

        Returns once Redis confirmed; raises QueueUnavailable when it did not (the sender is
        told to send again). Both doors, the sweeper and the dead-letter replay queue this way.
        """
        key = PREFIX + job.job_id
        fields: dict[Any, Any] = {
            **_identity(job),
            "state": JobState.QUEUED.value,
            "job": job.model_dump_json(),
        }
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self._retention)
            now = time.time()
            pipe.zadd(PENDING, {job.job_id: now})
            # The outbox expires too: ids older than the retention have no record left to
            # re-submit, and the set lives as long as the newest record it may point to.
            pipe.zremrangebyscore(PENDING, "-inf", now - self._retention)
            pipe.expire(PENDING, self._retention)
            pipe.lpush(QUEUE, task_message(app, job))
            pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise QueueUnavailable(
                f"the queue did not accept the job: {type(error).__name__}"
            ) from error

    def pending_since(self, before: float) -> list[str]:
        """Ids of the jobs queued before `before` (epoch seconds) and not yet done or failed."""
        return [_text(i) for i in self._redis.zrangebyscore(PENDING, "-inf", before)]

    def pending_job(self, job_id: str) -> InterpretJob | None:
        """The job as it was queued, while it is pending (None once settled or expired)."""
        raw = self._redis.hget(PREFIX + job_id, "job")
        if raw is None:
            self._redis.zrem(PENDING, job_id)  # expired: nothing left to re-submit
            return None
        return InterpretJob.model_validate_json(raw)

    def done(self, job: InterpretJob, written: Sequence[str]) -> None:
        self._set(job, {"state": JobState.DONE.value, "written": json.dumps(list(written))})

    def failed(self, job: InterpretJob, outcome: dict[str, Any]) -> None:
        self._set(job, {"state": JobState.FAILED.value, "outcome": json.dumps(outcome)})

    def get(self, job_id: str) -> JobRecord | None:
        """The record of `job_id`, or None when unknown or expired."""
        raw = self._redis.hgetall(PREFIX + job_id)
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "state" not in fields or "door" not in fields:
            return None
        outcome = fields.get("outcome")
        return JobRecord(
            job_id=job_id,
            state=JobState(fields["state"]),
            door=fields["door"],
            received_at=datetime.fromisoformat(fields["received_at"]),
            written=tuple(json.loads(fields.get("written", "[]"))),
            outcome=json.loads(outcome) if outcome else None,
            settled_at=_when(fields.get("settled_at")),
        )

    def _set(self, job: InterpretJob, fields: dict[Any, Any]) -> None:
        """Settle the record; its identity is written too, so a job replayed after its record
        expired still reads back whole."""
        key = PREFIX + job.job_id
        settled = {"settled_at": datetime.now(UTC).isoformat()}
        record: dict[Any, Any] = {**_identity(job), **fields, **settled}
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping=record)
        if fields["state"] == JobState.DONE.value:
            pipe.hdel(key, "outcome")  # a replayed job that now succeeded
        pipe.hdel(key, "job")  # settled: nothing to re-submit
        pipe.zrem(PENDING, job.job_id)
        pipe.expire(key, self._retention)
        pipe.execute()


def _identity(job: InterpretJob) -> dict[str, str]:
    return {"door": job.door, "received_at": job.received_at.isoformat()}


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
