"""submit(), job records and dead letters against the machine's real Redis (no worker)."""

from __future__ import annotations

import time

import celery
import pytest
import redis

from adapter.deadletter import DeadLetterQueue
from adapter.errors import QueueUnavailable
from adapter.jobs import JobState, JobStore
from adapter.queue import make_celery, queue_depth, submit
from adapter.settings import Settings
from tests.integration.conftest import make_job
from tests.support.fhir_server import free_port

pytestmark = pytest.mark.integration


def test_submit_returns_once_redis_holds_the_task(
    app: celery.Celery, redis_db: redis.Redis
) -> None:
    submit(app, make_job("{}"))
    assert queue_depth(redis_db) == 1


def test_submit_fails_fast_when_the_broker_is_down() -> None:
    app = make_celery(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    started = time.monotonic()
    with pytest.raises(QueueUnavailable):
        submit(app, make_job("{}"))
    assert time.monotonic() - started < 5


def test_job_record_goes_queued_done_and_failed(jobs: JobStore) -> None:
    job = make_job("{}")
    jobs.queued(job)
    record = jobs.get(job.job_id)
    assert record is not None
    assert (record.state, record.door) == (JobState.QUEUED, "http")
    jobs.failed(job, {"resourceType": "OperationOutcome", "issue": []})
    assert jobs.get(job.job_id).state is JobState.FAILED  # type: ignore[union-attr]
    jobs.done(job, ["DiagnosticReport/x/_history/1"])
    done = jobs.get(job.job_id)
    assert done is not None
    assert (done.state, done.written, done.outcome) == (
        JobState.DONE,
        ("DiagnosticReport/x/_history/1",),
        None,
    )
    assert jobs.get("unknown") is None


def test_a_job_whose_record_expired_is_settled_whole(jobs: JobStore) -> None:
    # A dead letter replayed after the retention: the worker settles a job with no record.
    job = make_job("{}")
    jobs.done(job, [])
    record = jobs.get(job.job_id)
    assert record is not None
    assert (record.state, record.door, record.received_at) == (
        JobState.DONE,
        job.door,
        job.received_at,
    )


def test_dead_letter_leaves_only_after_the_replay_was_queued(
    app: celery.Celery, redis_db: redis.Redis, jobs: JobStore
) -> None:
    dlq = DeadLetterQueue(redis_db)
    job = make_job("{}")
    dlq.add(job, "bad-input", {"resourceType": "OperationOutcome", "issue": []})
    assert dlq.size() == 1
    down = make_celery(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    with pytest.raises(QueueUnavailable):
        dlq.replay(down, job.job_id)
    assert dlq.size() == 1
    assert dlq.replay(app, jobs=jobs) == [job.job_id]
    assert dlq.size() == 0
    assert queue_depth(redis_db) == 1
    assert jobs.get(job.job_id).state is JobState.QUEUED  # type: ignore[union-attr]
