"""enqueue(), job records and dead letters against the machine's real Redis (no worker)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import celery
import pytest
import redis

from adapter.broker import queue_depth
from adapter.dead_letters import DeadLetterQueue
from adapter.errors import QueueUnavailable
from adapter.job_store import JobState, JobStore
from adapter.queue import QUEUE
from adapter.redis_client import redis_client
from adapter.settings import Settings
from tests.integration.conftest import make_job
from tests.support.fhir_server import free_port

pytestmark = pytest.mark.integration


def test_enqueue_returns_once_redis_holds_the_task_and_the_record(
    app: celery.Celery, redis_db: redis.Redis, jobs: JobStore
) -> None:
    redis_db.delete(QUEUE)
    job = make_job("{}")
    jobs.enqueue(app, job)
    assert queue_depth(redis_db) == 1
    assert jobs.pending_job(job.job_id) == job
    assert jobs.get(job.job_id).state is JobState.QUEUED  # type: ignore[union-attr]


def test_enqueue_fails_fast_when_the_broker_is_down(app: celery.Celery) -> None:
    down = JobStore(redis_client(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")), 60)
    started = time.monotonic()
    with pytest.raises(QueueUnavailable):
        down.enqueue(app, make_job("{}"))
    assert time.monotonic() - started < 5


def test_job_record_goes_queued_done_and_failed(app: celery.Celery, jobs: JobStore) -> None:
    job = make_job("{}")
    jobs.enqueue(app, job)
    record = jobs.get(job.job_id)
    assert record is not None
    assert (record.state, record.door, record.settled_at) == (JobState.QUEUED, "http", None)
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
    before = datetime.now(UTC)
    jobs.done(job, [])
    record = jobs.get(job.job_id)
    assert record is not None
    assert (record.state, record.door, record.received_at) == (
        JobState.DONE,
        job.door,
        job.received_at,
    )
    assert record.settled_at is not None
    assert before <= record.settled_at <= datetime.now(UTC)


def test_dead_letter_leaves_only_after_the_replay_was_queued(
    app: celery.Celery, redis_db: redis.Redis, jobs: JobStore, settings: Settings
) -> None:
    dlq = DeadLetterQueue(redis_db, settings.dead_letter_retention_seconds)
    job = make_job("{}")
    dlq.add(job, "bad-input", {"resourceType": "OperationOutcome", "issue": []})
    assert dlq.size() == 1
    down = JobStore(redis_client(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")), 60)
    with pytest.raises(QueueUnavailable):
        dlq.replay(app, down, job.job_id)
    assert dlq.size() == 1
    redis_db.delete(QUEUE)
    assert dlq.replay(app, jobs) == [job.job_id]
    assert dlq.size() == 0
    assert queue_depth(redis_db) == 1
    assert jobs.get(job.job_id).state is JobState.QUEUED  # type: ignore[union-attr]


def test_dlq_discard_deletes_one_or_all_and_names_an_unknown_id(
    redis_db: redis.Redis, settings: Settings, worker_env: dict[str, str]
) -> None:
    dlq = DeadLetterQueue(redis_db, settings.dead_letter_retention_seconds)
    first, second, third = (make_job("{}") for _ in range(3))
    for job in (first, second, third):
        dlq.add(job, "bad-input", {"resourceType": "OperationOutcome", "issue": []})

    def dlq_command(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "adapter.cli", "dlq", *args]
        return subprocess.run(command, env=worker_env, capture_output=True, text=True, timeout=60)

    one = dlq_command("discard", second.job_id)
    assert (one.returncode, one.stdout) == (0, f"discarded {second.job_id}\n")
    assert sorted(letter.id for letter in dlq.list()) == sorted([first.job_id, third.job_id])
    assert not redis_db.exists(f"her2:dead-letter:{second.job_id}")

    unknown = dlq_command("discard", second.job_id)
    assert (unknown.returncode, unknown.stderr) == (
        2,
        f"her2-adapter dlq discard: no dead letter {second.job_id}\n",
    )
    assert dlq_command("discard").returncode == 2  # ID or --all: argparse says which
    assert dlq_command("discard", first.job_id, "--all").returncode == 2

    every = dlq_command("discard", "--all")
    assert every.returncode == 0
    assert sorted(every.stdout.split()) == sorted(
        ["discarded", first.job_id, "discarded", third.job_id]
    )
    assert dlq.size() == 0
    assert not redis_db.exists("her2:dead-letters")
