"""[3] The task: thin, with its delivery policy in the decorator (STYLE.md R9).

At-least-once: `acks_late` acknowledges a job only after it ran; `reject_on_worker_lost`
re-queues a job whose process died; a job taken by a killed worker is restored by the broker
after `visibility_timeout_seconds`. Transient faults (FHIR server, network, Redis) retry with
exponential backoff and equal jitter: the n-th wait is between half and all of
min(2**n, Settings.backoff_cap_seconds) s, so the retries of one job always span at least half the
nominal sum (full jitter could draw ten waits of almost nothing and dead-letter a job during a
short outage). A job retries transient faults while it has had fewer than `max_retries` retries
OR was received less than `retry_window_seconds` ago. A retry waits in the worker
unacknowledged, so every wait must stay far below the visibility timeout or the broker would hand
the same job to a second worker (Settings refuses backoff cap * 2 >= visibility timeout).
Defaults: visibility 60 s (a killed worker's jobs are back within about a minute), waits <= 15 s
(a quarter of it), 10 retries and a 15 minute window: a FHIR server outage of up to 15 minutes
rides through before a job is dead-lettered.

Permanent failures (bad input found here, a write the FHIR server refused, credentials the
token server or the FHIR server refused, retries exhausted, anything unexpected) go to the
dead-letter queue with an OperationOutcome and the job is marked failed: nothing accepted is
dropped, and `her2-adapter dlq replay` brings it back.

Every way out of the task keeps the message until its outcome is stored: a retry is published
before the message is acknowledged, a dead letter is written before it is. When Redis cannot
take either (it is restarting), the task raises `Reject(requeue=True)`: the message goes back to
the queue, or, if Redis is still away, stays unacknowledged and is restored after the visibility
timeout. Celery's own paths would lose it: a retry whose publish fails is rejected WITHOUT
requeue, and a failure handler that cannot dead-letter still lets the message be acknowledged.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import celery
import kombu.exceptions
import redis
from celery.exceptions import Reject
from pydantic import TypeAdapter

from adapter.backfill_store import BackfillStore, Updates
from adapter.case_store import CaseStore
from adapter.dead_letters import DeadLetterQueue
from adapter.errors import AuthorizationRefused, BadInput, DependencyUnavailable, WriteRejected
from adapter.fhir.outcome import error_outcome, exception_outcome, operation_outcome
from adapter.fhir_server import write_back_target
from adapter.job_store import InTransaction, JobStore
from adapter.mapping_files import default_mappings
from adapter.metrics import Metrics, Tally
from adapter.queue import TASK_NAME, InterpretBatch, InterpretJob
from adapter.recent_cases import RecentCases
from adapter.redis_client import redis_client
from adapter.service.processing import WorkerServices, process_job
from adapter.settings import get_settings
from workers.celery_app import app

log = logging.getLogger("her2.worker")
settings = get_settings()
TRANSIENT: Final = (DependencyUnavailable, redis.ConnectionError, redis.TimeoutError)
# What a retry publish or a dead-letter write raises while Redis is away.
BROKER_DOWN: Final = (redis.RedisError, kombu.exceptions.OperationalError, OSError)


@lru_cache(maxsize=1)
def services() -> WorkerServices:
    """This process's resources, built on first use (after the pool forked), not at import."""
    client = redis_client(settings)
    return WorkerServices(
        mappings=default_mappings(),
        cases=CaseStore(client, settings.case_retention_seconds),
        target=write_back_target(settings),
        metrics=Metrics(client),
        recent=RecentCases(client, settings.case_retention_seconds),
    )


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis_client(settings)


def dead_letter(job: InterpretJob, reason: str, outcome: dict[str, Any]) -> None:
    client = _redis()
    DeadLetterQueue(client, settings.dead_letter_retention_seconds).add(job, reason, outcome)
    counted = Tally()
    counted.incr("her2_dead_lettered_total", door=job.door, reason=reason)
    also: list[InTransaction] = [counted, *backfill_counts([job], failed=True)]
    JobStore(client, settings.job_retention_seconds).failed(job, outcome, also=also)
    log.warning("job dead-lettered", extra={"job_id": job.job_id, "reason": reason})


def finished(jobs: Iterable[InterpretJob]) -> Tally:
    """`jobs` counted processed, each with its time from receipt at its door to now."""
    counted, now = Tally(), datetime.now(UTC)
    for job in jobs:
        counted.incr("her2_jobs_processed_total", door=job.door)
        seconds = (now - job.received_at).total_seconds()
        counted.observe("her2_end_to_end_seconds", seconds, door=job.door)
    return counted


def backfill_counts(jobs: Iterable[InterpretJob], *, failed: bool = False) -> list[Updates]:
    """The progress of the backfills `jobs` came from (`InterpretJob.backfill`): settled."""
    counts = Counter(job.backfill for job in jobs if job.backfill)
    if not counts:
        return []
    settled = {b: (0, n) if failed else (n, 0) for b, n in counts.items() if b is not None}
    return [BackfillStore(_redis()).settled(settled)]


class InterpretTask(celery.Task):  # type: ignore[misc]
    """Counts retries and dead-letters a job whose task failed for good."""

    def on_retry(self, exc: Exception, task_id: str, args: Any, *_: Any) -> None:
        payload = args[0] if args and isinstance(args[0], dict) else {}
        door = payload.get("door") or ("backfill" if "jobs" in payload else "unknown")
        Metrics(_redis()).incr("her2_writeback_retries_total", door=door, reason=_reason(exc))
        log.info("job retried", extra={"job_id": task_id, "reason": _reason(exc)})

    def on_failure(self, exc: Exception, task_id: str, args: Any, *_: Any) -> None:
        try:
            task = TypeAdapter(InterpretJob | InterpretBatch).validate_python(args[0])
        except Exception:  # not a job of ours: nothing to replay, say so loudly
            log.error("undecodable task message failed", extra={"task_id": task_id})
            return
        if isinstance(task, InterpretBatch):  # alone, only the message at fault fails
            JobStore(_redis(), settings.job_retention_seconds).split_batch(app, task)
            return
        detail = f"job {task.job_id}: unexpected: {type(exc).__name__}"
        dead_letter(task, "unexpected", exception_outcome(detail))


def backoff(retries: int, cap: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number `retries` + 1: equal jitter over min(2**retries, cap)."""
    ceiling = float(min(2**retries, cap))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def may_retry(job: InterpretJob | InterpretBatch, retries: int, now: datetime) -> bool:
    """Whether a transient fault is retried: fewer than max_retries, or inside the window."""
    age = (now - job.received_at).total_seconds()
    return retries < settings.max_retries or age < settings.retry_window_seconds


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DependencyUnavailable):
        return "fhir-unavailable"
    if isinstance(exc, redis.RedisError):
        return "redis-unavailable"
    return type(exc).__name__


# The delivery policy of every task of ours (this module's docstring).
DELIVERY: Final[dict[str, Any]] = {
    "base": InterpretTask,
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": None,  # may_retry() decides: a count and a time window
    "ignore_result": True,
}


@app.task(name=TASK_NAME, **DELIVERY)  # type: ignore[untyped-decorator]
def interpret_her2(self: celery.Task, payload: dict[str, Any]) -> None:
    job = InterpretJob.model_validate(payload)
    try:
        written = process_job(job, services())
        jobs = JobStore(_redis(), settings.job_retention_seconds)
        jobs.done(job, written, also=[finished([job]), *backfill_counts([job])])
    except BadInput as error:
        _dead_letter_or_keep(job, "bad-input", operation_outcome(error))
    except AuthorizationRefused as error:  # fix the configuration or registration, then replay
        outcome = error.outcome or error_outcome("security", f"job {job.job_id}: {error}")
        _dead_letter_or_keep(job, "auth-refused", outcome)
    except WriteRejected as error:
        outcome = error.outcome or exception_outcome(f"job {job.job_id}: {error}")
        _dead_letter_or_keep(job, "write-rejected", outcome)
    except TRANSIENT as error:
        retries = int(self.request.retries or 0)
        if not may_retry(job, retries, datetime.now(UTC)):
            detail = f"job {job.job_id}: retries-exhausted: {type(error).__name__}"
            _dead_letter_or_keep(job, "retries-exhausted", exception_outcome(detail))
            return
        countdown = backoff(retries, settings.backoff_cap_seconds)
        try:
            raise self.retry(exc=error, countdown=countdown)
        except Reject as lost:  # the retry could not be published: keep this message instead
            log.warning("retry not published; job kept", extra={"job_id": job.job_id})
            raise Reject(lost.reason, requeue=True) from error
    except Exception as error:  # a bug of ours: dead-letter it (replayable), never drop it
        detail = f"job {job.job_id}: unexpected: {type(error).__name__}"
        _dead_letter_or_keep(job, "unexpected", exception_outcome(detail))


def _dead_letter_or_keep(job: InterpretJob, reason: str, outcome: dict[str, Any]) -> None:
    """Dead-letter `job`; if Redis cannot take it, keep the message (Reject with requeue)."""
    try:
        dead_letter(job, reason, outcome)
    except BROKER_DOWN as error:
        log.warning("dead letter not written; job kept", extra={"job_id": job.job_id})
        raise Reject(type(error).__name__, requeue=True) from error
