"""The outbox: an accepted job the broker lost is submitted again, and only such a job."""

from __future__ import annotations

import json
from collections.abc import Callable

import celery
import redis

from adapter.broker import held_task_ids
from adapter.job_store import JobState, JobStore
from adapter.queue import QUEUE
from tests.builders import her2_bundle, ihc_observation, specimen
from tests.integration.conftest import ehr_holds, make_job
from tests.support.fhir_server import FhirTestServer
from tests.support.processes import WorkerProcess


def test_a_job_accepted_but_lost_by_the_broker_is_submitted_again(
    app: celery.Celery,
    redis_db: redis.Redis,
    jobs: JobStore,
    start_worker: Callable[..., WorkerProcess],
    settled: Callable,
    fhir_server: FhirTestServer,
) -> None:
    # Accepted as the API accepts a job, then its task is gone from the broker: as when Redis
    # crashed between Celery's BRPOP and its write of the unacknowledged task.
    result = ihc_observation("3+", id="ihc-swept")
    ehr_holds(fhir_server, {"resourceType": "Patient", "id": "p"}, specimen("s"), result)
    lost = make_job(her2_bundle(result))
    jobs.enqueue(app, lost)
    redis_db.delete(QUEUE)
    start_worker()

    record = settled(lost, timeout=60)

    assert record.state is JobState.DONE, record.outcome
    assert jobs.pending_since(float("inf")) == []


def test_settled_jobs_leave_the_outbox(app: celery.Celery, jobs: JobStore) -> None:
    done, failed = make_job("{}"), make_job("{}")
    for job in (done, failed):
        jobs.enqueue(app, job)
    assert set(jobs.pending_since(float("inf"))) >= {done.job_id, failed.job_id}
    jobs.done(done, [])
    jobs.failed(failed, {"resourceType": "OperationOutcome", "issue": []})
    pending = jobs.pending_since(float("inf"))
    assert done.job_id not in pending
    assert failed.job_id not in pending
    assert jobs.pending_job(done.job_id) is None


def test_tasks_held_unacknowledged_are_recognised(redis_db: redis.Redis) -> None:
    message = {"headers": {"id": "job-held"}, "body": "..."}
    redis_db.hset("unacked", "tag-1", json.dumps([message, "", "her2"]))
    redis_db.hset("unacked", "tag-2", "not a task message")
    try:
        assert held_task_ids(redis_db) == {"job-held"}
    finally:
        redis_db.delete("unacked")
