"""Dead letters: jobs that failed for good (bad input found by the worker, a write the FHIR
server refused, credentials refused, retries exhausted), kept with the reason and an
OperationOutcome until someone replays them (`her2-adapter dlq replay [ID]`), discards them
(`dlq discard ID|--all`) or the retention passes (`DEAD_LETTER_RETENTION_SECONDS`, 30 days): a
dead letter holds the whole message, patient data included. A job leaves the dead-letter queue
by replay only after the queue confirmed its re-submission.

Keys (the id of a dead letter is its job's id, so a job failing twice is one dead letter):
`her2:dead-letter:<id>` the DeadLetter JSON, expiring after the retention; `her2:dead-letters`
a sorted set id -> the instant (Redis server clock) the letter expires, which `size` and `list`
read after dropping the lapsed ids: counting is ZCARD, never a scan of the keyspace. The index
itself expires with its longest-lived letter.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import celery
import redis
from pydantic import BaseModel, ConfigDict

from adapter.queue import InterpretJob
from adapter.redis_client import lua_keep_alive_at_least

if TYPE_CHECKING:
    from adapter.job_store import JobStore

LETTER_PREFIX: Final = "her2:dead-letter:"
INDEX: Final = "her2:dead-letters"
# KEYS: letter, index. ARGV: id, letter JSON, retention seconds.
_ADD: Final = f"""
local now = redis.call('TIME')
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], tonumber(now[1]) + tonumber(now[2]) / 1e6 + tonumber(ARGV[3]), ARGV[1])
{lua_keep_alive_at_least("KEYS[2]", "ARGV[3]")}
return 1
"""
# KEYS: index. ARGV: "count" (ZCARD) or "ids" (every id, earliest expiry first).
_LIVE: Final = """
local now = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(now[1]) + tonumber(now[2]) / 1e6)
if ARGV[1] == 'count' then return redis.call('ZCARD', KEYS[1]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    job: InterpretJob
    reason: str  # bad-input, write-rejected, auth-refused, retries-exhausted, unexpected
    outcome: dict[str, Any]  # OperationOutcome
    dead_lettered_at: datetime


class DeadLetterQueue:
    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._redis = client
        self._retention = retention_seconds
        self._add = client.register_script(_ADD)
        self._live = client.register_script(_LIVE)

    def add(self, job: InterpretJob, reason: str, outcome: dict[str, Any]) -> DeadLetter:
        letter = DeadLetter(
            id=job.job_id,
            job=job,
            reason=reason,
            outcome=outcome,
            dead_lettered_at=datetime.now(UTC),
        )
        self._add(
            keys=[LETTER_PREFIX + letter.id, INDEX],
            args=[letter.id, letter.model_dump_json(), self._retention],
        )
        return letter

    def get(self, id: str) -> DeadLetter | None:
        raw = self._redis.get(LETTER_PREFIX + id)
        return DeadLetter.model_validate_json(raw) if raw is not None else None

    def list(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        ids = [_text(i) for i in self._live(keys=[INDEX], args=["ids"])]
        raws = self._redis.mget([LETTER_PREFIX + i for i in ids]) if ids else []
        # a letter may lapse between the two calls: it is gone, not an error
        letters = [DeadLetter.model_validate_json(raw) for raw in raws if raw is not None]
        return sorted(letters, key=lambda letter: (letter.dead_lettered_at, letter.id))

    def size(self) -> int:
        return int(self._live(keys=[INDEX], args=["count"]))

    def replay(
        self, app: celery.Celery, jobs: JobStore, id: str | None = None
    ) -> builtins.list[str]:
        """Queue one dead letter (`id`) or all again; returns the ids queued.

        Each job is queued as the doors queue it (`JobStore.enqueue`: its record back to
        queued) and leaves the dead-letter queue only after that; `QueueUnavailable` propagates
        and leaves it (and those not yet replayed) in place. KeyError when `id` is unknown.
        """
        replayed = []
        for letter in self._chosen(id):
            jobs.enqueue(app, letter.job)
            self._remove(letter.id)
            replayed.append(letter.id)
        return replayed

    def discard(self, id: str | None = None) -> builtins.list[str]:
        """Delete one dead letter (`id`) or all, message included; returns the ids deleted.

        For a message that must not be interpreted (sent in error, superseded, resent by its
        sender). KeyError when `id` is unknown.
        """
        discarded = []
        for letter in self._chosen(id):
            self._remove(letter.id)
            discarded.append(letter.id)
        return discarded

    def _chosen(self, id: str | None) -> builtins.list[DeadLetter]:
        if id is None:
            return self.list()
        letter = self.get(id)
        if letter is None:
            raise KeyError(id)
        return [letter]

    def _remove(self, id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(LETTER_PREFIX + id)
        pipe.zrem(INDEX, id)
        pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
