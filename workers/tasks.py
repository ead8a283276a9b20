"""[3] The task: thin, with its delivery policy in the decorator (STYLE.md R9).

At-least-once: `acks_late` acknowledges a job only after it ran; `reject_on_worker_lost`
re-queues a job whose process died; a job taken by a killed worker is restored by the broker
after `visibility_timeout_seconds`. Transient faults (FHIR server, network, Redis) retry with
exponential backoff and full jitter: waits 1, 2, 4, ... s capped at `retry_backoff_max_seconds`.
A retry waits in the worker unacknowledged, so every wait must stay far below the visibility
timeout or the broker would hand the same job to a second worker (Settings refuses
backoff_max * 2 >= visibility timeout). Defaults: waits <= 60 s, visibility 300 s, 10 retries:
about 5 minutes of FHIR server outage ride through before a job is dead-lettered.

Permanent failures (bad input found here, a write the FHIR server refused, retries exhausted,
anything unexpected) go to the dead-letter queue with an OperationOutcome and the job is
marked failed: nothing accepted is dropped, and `her2-adapter dlq replay` brings it back.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Final

import celery
import redis

from adapter.deadletter import DeadLetterQueue
from adapter.errors import BadInput, DependencyUnavailable, WriteRejected
from adapter.fhir.outcome import exception_outcome, operation_outcome
from adapter.fhir_server import write_back_target
from adapter.jobs import JobStore
from adapter.mappings import default_mappings
from adapter.metrics import Metrics
from adapter.queue import TASK_NAME, InterpretJob
from adapter.redis_client import redis_client
from adapter.settings import get_settings
from workers.celery_app import app
from workers.processing import Services, interpret_job

log = logging.getLogger("her2.worker")
settings = get_settings()
TRANSIENT: Final = (DependencyUnavailable, redis.ConnectionError, redis.TimeoutError)


@lru_cache(maxsize=1)
def services() -> Services:
    """This process's resources, built on first use (after the pool forked), not at import."""
    from adapter.cases import CaseStore

    client = redis_client(settings)
    return Services(
        mappings=default_mappings(),
        cases=CaseStore(client, settings.case_retention_seconds),
        target=write_back_target(settings),
        metrics=Metrics(client),
    )


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis_client(settings)


def dead_letter(job: InterpretJob, reason: str, outcome: dict[str, Any]) -> None:
    client = _redis()
    DeadLetterQueue(client).add(job, reason, outcome)
    JobStore(client, settings.job_retention_seconds).failed(job.job_id, outcome)
    Metrics(client).incr("her2_dead_lettered_total", reason=reason)
    log.warning("job dead-lettered", extra={"job_id": job.job_id, "reason": reason})


class InterpretTask(celery.Task):  # type: ignore[misc]
    """Counts retries and dead-letters a job whose task failed for good."""

    def on_retry(self, exc: Exception, task_id: str, *_: Any) -> None:
        Metrics(_redis()).incr("her2_writeback_retries_total", reason=_reason(exc))
        log.info("job retried", extra={"job_id": task_id, "reason": _reason(exc)})

    def on_failure(self, exc: Exception, task_id: str, args: Any, *_: Any) -> None:
        try:
            job = InterpretJob.model_validate(args[0])
        except Exception:  # not a job of ours: nothing to replay, say so loudly
            log.error("undecodable task message failed", extra={"task_id": task_id})
            return
        exhausted = isinstance(exc, TRANSIENT)
        reason = "retries-exhausted" if exhausted else "unexpected"
        detail = f"job {job.job_id}: {reason}: {type(exc).__name__}"
        dead_letter(job, reason, exception_outcome(detail))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DependencyUnavailable):
        return "fhir-unavailable"
    if isinstance(exc, redis.RedisError):
        return "redis-unavailable"
    return type(exc).__name__


@app.task(  # type: ignore[untyped-decorator]
    base=InterpretTask,
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=settings.retry_backoff_max_seconds,
    retry_jitter=True,
    max_retries=settings.max_retries,
    ignore_result=True,
)
def interpret_her2(payload: dict[str, Any]) -> None:
    job = InterpretJob.model_validate(payload)
    JobStore(_redis(), settings.job_retention_seconds).seen(job)
    try:
        written = interpret_job(job, services())
    except BadInput as error:
        dead_letter(job, "bad-input", operation_outcome(error))
        return
    except WriteRejected as error:
        outcome = error.outcome or exception_outcome(f"job {job.job_id}: {error}")
        dead_letter(job, "write-rejected", outcome)
        return
    JobStore(_redis(), settings.job_retention_seconds).done(job.job_id, written)
