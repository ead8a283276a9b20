"""[3] The backfill's task: a batch of messages (adapter/service/batch.py), delivered as one job.

The delivery policy is the single job's (workers/tasks.py): acknowledged after it ran,
transient faults retried with the same backoff and window, nothing let go before its outcome is
stored. What differs is what fails. A message the worker finds bad is dead-lettered alone and
the others are written. A batch that fails as a whole for any other permanent reason (the FHIR
server refused the transaction, a bug) is split into jobs of their own: alone, only the message
at fault fails. When the retries are exhausted every message of the batch is dead-lettered
(replayable), as a single job would be.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import celery
from celery.exceptions import Reject

from adapter.errors import QueueUnavailable
from adapter.fhir.outcome import exception_outcome, operation_outcome
from adapter.job_store import InTransaction, JobStore
from adapter.queue import BATCH_TASK_NAME, InterpretBatch
from adapter.service.batch import process_batch
from workers.celery_app import app
from workers.tasks import (
    BROKER_DOWN,
    DELIVERY,
    TRANSIENT,
    _dead_letter_or_keep,
    _redis,
    backfill_counts,
    backoff,
    finished,
    may_retry,
    services,
    settings,
)

log = logging.getLogger("her2.worker")


@app.task(name=BATCH_TASK_NAME, **DELIVERY)  # type: ignore[untyped-decorator]
def interpret_her2_batch(self: celery.Task, payload: dict[str, Any]) -> None:
    batch = InterpretBatch.model_validate(payload)
    jobs = JobStore(_redis(), settings.job_retention_seconds)
    try:
        with services().metrics.batch() as tally:
            outcome = process_batch(batch, services(), tally)
    except TRANSIENT as error:
        _retry_or_give_up(self, batch, jobs, error)
        return
    except Exception as error:  # permanent for the batch as a whole
        log.warning(
            "batch split into jobs", extra={"batch_id": batch.batch_id, "reason": repr(error)}
        )
        _split_or_keep(batch, jobs)
        return
    for job in batch.jobs:
        refused = outcome.refused.get(job.job_id)
        if refused is not None:
            _dead_letter_or_keep(job, "bad-input", operation_outcome(refused))
    written = [job for job in batch.jobs if job.job_id in outcome.written]
    also: list[InTransaction] = [finished(written), *backfill_counts(written)]
    _settle_or_keep(batch, jobs, outcome.written, also)


def _retry_or_give_up(
    task: celery.Task, batch: InterpretBatch, jobs: JobStore, error: Exception
) -> None:
    retries = int(task.request.retries or 0)
    if not may_retry(batch, retries, datetime.now(UTC)):
        for job in batch.jobs:
            detail = f"job {job.job_id}: retries-exhausted: {type(error).__name__}"
            _dead_letter_or_keep(job, "retries-exhausted", exception_outcome(detail))
        _settle_or_keep(batch, jobs, {}, [])
        return
    try:
        raise task.retry(exc=error, countdown=backoff(retries, settings.backoff_cap_seconds))
    except Reject as lost:  # the retry could not be published: keep this message instead
        log.warning("retry not published; batch kept", extra={"batch_id": batch.batch_id})
        raise Reject(lost.reason, requeue=True) from error


def _split_or_keep(batch: InterpretBatch, jobs: JobStore) -> None:
    try:
        jobs.split_batch(app, batch)
    except QueueUnavailable as error:
        log.warning("batch not split; kept", extra={"batch_id": batch.batch_id})
        raise Reject(str(error), requeue=True) from error


def _settle_or_keep(
    batch: InterpretBatch,
    jobs: JobStore,
    written: dict[str, list[str]],
    also: list[InTransaction],
) -> None:
    try:
        jobs.done_batch(batch, written, also=also)
    except BROKER_DOWN as error:  # written and saved: a redelivery finds it all unchanged
        log.warning("batch outcome not stored; kept", extra={"batch_id": batch.batch_id})
        raise Reject(type(error).__name__, requeue=True) from error
