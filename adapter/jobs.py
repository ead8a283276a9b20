"""What became of each accepted job, for `GET /jobs/{id}`: queued, done (what was written) or
failed (an OperationOutcome). Kept in Redis for `job_retention_seconds`.

Key: `her2:job:<job_id>`, a hash with fields state, door, received_at, written (JSON list),
outcome (JSON). The API writes `queued` before it submits; the worker writes `done` / `failed`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import redis

from adapter.queue import InterpretJob

PREFIX: Final = "her2:job:"


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


class JobStore:
    """Job records in Redis; every write refreshes the retention."""

    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._redis = client
        self._retention = retention_seconds

    def queued(self, job: InterpretJob) -> None:
        """Record `job` as queued (replacing any earlier record of the same id)."""
        key = PREFIX + job.job_id
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(key)
        fields: dict[Any, Any] = {**_identity(job), "state": JobState.QUEUED.value}
        pipe.hset(key, mapping=fields)
        pipe.expire(key, self._retention)
        pipe.execute()

    def seen(self, job: InterpretJob) -> None:
        """Make sure a record exists (a job replayed after its record expired): never overwrites."""
        key = PREFIX + job.job_id
        pipe = self._redis.pipeline(transaction=True)
        for field, value in {**_identity(job), "state": JobState.QUEUED.value}.items():
            pipe.hsetnx(key, field, value)
        pipe.expire(key, self._retention)
        pipe.execute()

    def done(self, job_id: str, written: Sequence[str]) -> None:
        self._set(job_id, {"state": JobState.DONE.value, "written": json.dumps(list(written))})

    def failed(self, job_id: str, outcome: dict[str, Any]) -> None:
        self._set(job_id, {"state": JobState.FAILED.value, "outcome": json.dumps(outcome)})

    def delete(self, job_id: str) -> None:
        self._redis.delete(PREFIX + job_id)

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
        )

    def _set(self, job_id: str, fields: dict[Any, Any]) -> None:
        key = PREFIX + job_id
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        if fields["state"] == JobState.DONE.value:
            pipe.hdel(key, "outcome")  # a replayed job that now succeeded
        pipe.expire(key, self._retention)
        pipe.execute()


def _identity(job: InterpretJob) -> dict[str, str]:
    return {"door": job.door, "received_at": job.received_at.isoformat()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
