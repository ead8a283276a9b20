"""Dead letters: jobs that failed for good (bad input found by the worker, a write the FHIR
server refused, credentials refused, retries exhausted), kept with the reason and an
OperationOutcome until someone replays them (`her2-adapter dlq replay [ID]`). Nothing accepted
is dropped: a job leaves the dead-letter queue only after the queue confirmed its re-submission.

Key: `her2:dlq`, a hash job_id -> DeadLetter JSON (the id of a dead letter is its job's id, so
a job failing twice is one dead letter, not two).
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import celery
import redis
from pydantic import BaseModel, ConfigDict

from adapter.queue import InterpretJob

if TYPE_CHECKING:
    from adapter.jobs import JobStore

KEY: Final = "her2:dlq"


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    job: InterpretJob
    reason: str  # bad-input, write-rejected, auth-refused, retries-exhausted, unexpected
    outcome: dict[str, Any]  # OperationOutcome
    dead_lettered_at: datetime


class DeadLetterQueue:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def add(self, job: InterpretJob, reason: str, outcome: dict[str, Any]) -> DeadLetter:
        letter = DeadLetter(
            id=job.job_id,
            job=job,
            reason=reason,
            outcome=outcome,
            dead_lettered_at=datetime.now(UTC),
        )
        self._redis.hset(KEY, letter.id, letter.model_dump_json())
        return letter

    def get(self, id: str) -> DeadLetter | None:
        raw = self._redis.hget(KEY, id)
        return DeadLetter.model_validate_json(raw) if raw is not None else None

    def list(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        letters = [DeadLetter.model_validate_json(v) for v in self._redis.hvals(KEY)]
        return sorted(letters, key=lambda letter: (letter.dead_lettered_at, letter.id))

    def size(self) -> int:
        return int(self._redis.hlen(KEY))

    def replay(
        self, app: celery.Celery, jobs: JobStore, id: str | None = None
    ) -> builtins.list[str]:
        """Queue one dead letter (`id`) or all again; returns the ids queued.

        Each job is queued as the doors queue it (`JobStore.enqueue`: its record back to
        queued) and leaves the dead-letter queue only after that; `QueueUnavailable` propagates
        and leaves it (and those not yet replayed) in place. KeyError when `id` is unknown.
        """
        if id is not None:
            letter = self.get(id)
            if letter is None:
                raise KeyError(id)
            letters = [letter]
        else:
            letters = self.list()
        replayed = []
        for letter in letters:
            jobs.enqueue(app, letter.job)
            self._redis.hdel(KEY, letter.id)
            replayed.append(letter.id)
        return replayed
