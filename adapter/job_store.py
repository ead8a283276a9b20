"""What became of each accepted job, for `GET /jobs/{id}`: queued, done (what was written) or
failed (an OperationOutcome). Kept in Redis for `job_retention_seconds`, outbox included.

Key: `her2:job:<job_id>`, a hash with fields state, door, received_at, settled_at, written
(JSON list), outcome (JSON) and, while the job is pending, the job itself. `enqueue` writes
`queued` in the same MULTI that queues the task; the worker writes `done` / `failed`. A batch
of a backfill (`enqueue_batch`) has a record of its own under its id holding the batch while
it is pending; its jobs' records hold no message.

The job store is also the outbox that makes "accepted" durable beyond the broker: every queued
job (or batch) stays in the sorted set `her2:jobs:pending` (scored by the time it was queued)
with its message until it is done or failed (or its record expired). Celery's Redis transport pops a
task before it records it as unacknowledged, so a Redis crash between the two loses the task;
the sweeper (adapter/service/sweeper.py) re-submits a pending job that the broker no longer
holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

import celery
import redis

from adapter.broker import task_message
from adapter.errors import QueueUnavailable
from adapter.queue import QUEUE, InterpretBatch, InterpretJob

PREFIX: Final = "her2:job:"
PENDING: Final = "her2:jobs:pending"


class InTransaction(Protocol):
    """What adds its own commands to the MULTI that queues or settles jobs (a metrics `Tally`,
    a backfill's progress), so Redis holds all of it or none."""

    def add_to(self, pipe: redis.client.Pipeline) -> None: ...


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

    def enqueue(
        self, app: celery.Celery, job: InterpretJob, *, also: Sequence[InTransaction] = ()
    ) -> None:
        """Record `job` as queued and pending, with its message (replacing any earlier record
        of the same id), and queue its task (and whatever `also` adds): one MULTI, so Redis
        holds all of it or none.

        Returns once Redis confirmed; raises QueueUnavailable when it did not (the sender is
        told to send again). Both doors, the sweeper and the dead-letter replay queue this way.
        """
        self._queue(app, job, job.job_id, {"job": job.model_dump_json()}, [], also)

    def enqueue_batch(
        self, app: celery.Celery, batch: InterpretBatch, *, also: Sequence[InTransaction] = ()
    ) -> None:
        """Record each job of `batch` as queued, and the batch as pending with its messages,
        and queue its one task (and whatever `also` adds): one MULTI, as `enqueue`."""
        self._queue(
            app, batch, batch.batch_id, {"batch": batch.model_dump_json()}, batch.jobs, also
        )

    def _queue(
        self,
        app: celery.Celery,
        task: InterpretJob | InterpretBatch,
        pending_id: str,
        held: dict[str, str],
        members: Sequence[InterpretJob],
        also: Sequence[InTransaction],
    ) -> None:
        first = task.jobs[0] if isinstance(task, InterpretBatch) else task
        try:
            pipe = self._redis.pipeline(transaction=True)
            for job in members:
                self._record(pipe, job.job_id, {**_identity(job), "state": JobState.QUEUED.value})
            self._record(
                pipe, pending_id, {**_identity(first), "state": JobState.QUEUED.value, **held}
            )
            now = time.time()
            pipe.zadd(PENDING, {pending_id: now})
            # The outbox expires too: ids older than the retention have no record left to
            # re-submit, and the set lives as long as the newest record it may point to.
            pipe.zremrangebyscore(PENDING, "-inf", now - self._retention)
            pipe.expire(PENDING, self._retention)
            pipe.lpush(QUEUE, task_message(app, task))
            for extra in also:
                extra.add_to(pipe)
            pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise QueueUnavailable(
                f"the queue did not accept the job: {type(error).__name__}"
            ) from error

    def _record(self, pipe: redis.client.Pipeline, record_id: str, fields: dict[Any, Any]) -> None:
        """A fresh record (replacing any earlier one of the same id), kept for the retention."""
        key = PREFIX + record_id
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, self._retention)

    def pending_since(self, before: float) -> list[str]:
        """Ids of the jobs queued before `before` (epoch seconds) and not yet done or failed."""
        return [_text(i) for i in self._redis.zrangebyscore(PENDING, "-inf", before)]

    def oldest_pending(self) -> float | None:
        """When (epoch seconds) the job or batch pending longest was queued; None: none is."""
        oldest = self._redis.zrange(PENDING, 0, 0, withscores=True)
        return float(oldest[0][1]) if oldest else None

    def pending_task(self, pending_id: str) -> InterpretJob | InterpretBatch | None:
        """The job (or batch) as it was queued, while it is pending (None once settled or
        expired)."""
        job, batch = self._redis.hmget(PREFIX + pending_id, ["job", "batch"])
        if job is not None:
            return InterpretJob.model_validate_json(job)
        if batch is not None:
            return InterpretBatch.model_validate_json(batch)
        self._redis.zrem(PENDING, pending_id)  # expired: nothing left to re-submit
        return None

    def done(
        self, job: InterpretJob, written: Sequence[str], *, also: Sequence[InTransaction] = ()
    ) -> None:
        refs = json.dumps(list(written))
        self._settle_one(job, {"state": JobState.DONE.value, "written": refs}, also)

    def done_batch(
        self,
        batch: InterpretBatch,
        written: Mapping[str, Sequence[str]],
        *,
        also: Sequence[InTransaction] = (),
    ) -> None:
        """Each job of `batch` named in `written` (job id -> what was written for it) done, and
        the batch no longer pending: one MULTI. Its other jobs were settled apart (failed)."""
        pipe = self._redis.pipeline(transaction=True)
        for job in batch.jobs:
            if job.job_id in written:
                refs = json.dumps(list(written[job.job_id]))
                self._settle(pipe, job, {"state": JobState.DONE.value, "written": refs})
        self._forget_batch(pipe, batch.batch_id)
        for extra in also:
            extra.add_to(pipe)
        pipe.execute()

    def split_batch(self, app: celery.Celery, batch: InterpretBatch) -> None:
        """Queue each job of `batch` as a job of its own, pending with its message, and the
        batch no longer pending: one MULTI. For a batch that failed as a whole for a reason of
        one of its messages: alone, only that message fails (and is dead-lettered)."""
        try:
            pipe = self._redis.pipeline(transaction=True)
            now = time.time()
            for job in batch.jobs:
                key = PREFIX + job.job_id
                pipe.hset(
                    key, mapping={"state": JobState.QUEUED.value, "job": job.model_dump_json()}
                )
                pipe.expire(key, self._retention)
                pipe.zadd(PENDING, {job.job_id: now})
                pipe.lpush(QUEUE, task_message(app, job))
            self._forget_batch(pipe, batch.batch_id)
            pipe.execute()
        except (redis.RedisError, OSError) as error:
            raise QueueUnavailable(f"the batch was not split: {type(error).__name__}") from error

    def failed(
        self, job: InterpretJob, outcome: dict[str, Any], *, also: Sequence[InTransaction] = ()
    ) -> None:
        fields = {"state": JobState.FAILED.value, "outcome": json.dumps(outcome)}
        self._settle_one(job, fields, also)

    def _settle_one(
        self, job: InterpretJob, fields: dict[Any, Any], also: Sequence[InTransaction]
    ) -> None:
        pipe = self._redis.pipeline(transaction=True)
        self._settle(pipe, job, fields)
        for extra in also:
            extra.add_to(pipe)
        pipe.execute()

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

    def _settle(
        self, pipe: redis.client.Pipeline, job: InterpretJob, fields: dict[Any, Any]
    ) -> None:
        """Settle the record; its identity is written too, so a job replayed after its record
        expired still reads back whole."""
        key = PREFIX + job.job_id
        record: dict[Any, Any] = {**_identity(job), **fields}
        record["settled_at"] = datetime.now(UTC).isoformat()
        pipe.hset(key, mapping=record)
        if fields["state"] == JobState.DONE.value:
            pipe.hdel(key, "outcome")  # a replayed job that now succeeded
        self._unpend(pipe, job.job_id)

    def _unpend(self, pipe: redis.client.Pipeline, pending_id: str) -> None:
        """Nothing left to re-submit: the message leaves the record, the id the outbox."""
        key = PREFIX + pending_id
        pipe.hdel(key, "job", "batch")
        pipe.zrem(PENDING, pending_id)
        pipe.expire(key, self._retention)

    def _forget_batch(self, pipe: redis.client.Pipeline, batch_id: str) -> None:
        """A batch settled or split: its jobs' records tell the rest."""
        pipe.delete(PREFIX + batch_id)
        pipe.zrem(PENDING, batch_id)


def _identity(job: InterpretJob) -> dict[str, str]:
    return {"door": job.door, "received_at": job.received_at.isoformat()}


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
