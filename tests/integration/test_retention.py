"""Patient data in Redis expires (README "Retention"): a real worker run with retentions of two
seconds leaves, once they pass, no key but the service's own bookkeeping.

Dead letters, job records (with the outbox) and case state each hold patient data; every key
their stores write, index keys included, must go. The wait is a bounded poll, never a sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import celery
import pytest
import redis

from adapter.dead_letters import DeadLetterQueue
from adapter.job_store import JobState, JobStore
from tests.builders import her2_bundle, ihc_observation, specimen
from tests.integration.conftest import ehr_holds, make_job
from tests.support.fhir_server import FhirTestServer
from tests.support.processes import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETENTION: Final = 2
# What may outlive the retentions: counters, heartbeats, the sweeper's lock, Celery's bindings.
BOOKKEEPING: Final = ("her2:metrics", "her2:heartbeats:", "her2:sweeper", "_kombu.binding")


def kept(client: redis.Redis) -> list[str]:
    """Keys of the test database other than the service's bookkeeping."""
    names = (k.decode() for k in client.scan_iter(count=1000))
    return sorted(name for name in names if not name.startswith(BOOKKEEPING))


def test_dead_letters_jobs_and_cases_expire_after_their_retention(
    start_worker: Callable[..., WorkerProcess],
    app: celery.Celery,
    redis_db: redis.Redis,
    settled: Callable,
    fhir_server: FhirTestServer,
) -> None:
    seconds = str(RETENTION)
    start_worker(
        JOB_RETENTION_SECONDS=seconds,
        CASE_RETENTION_SECONDS=seconds,
        DEAD_LETTER_RETENTION_SECONDS=seconds,
    )
    jobs = JobStore(redis_db, RETENTION)  # the door's side: record, outbox entry, task
    good_message = her2_bundle(ihc_observation("3+", id="ihc-r", specimen="Specimen/r1"))
    # The FHIR server refuses dangling references: the EHR holds the inputs and what they name.
    patient = {"resourceType": "Patient", "id": "p"}
    ehr_holds(fhir_server, patient, specimen("r1"), *(e["resource"] for e in good_message["entry"]))
    good = make_job(good_message)
    poison = make_job(
        her2_bundle(ihc_observation(None, id="ihc-p", specimen="Specimen/r2", valueString="4+"))
    )
    pending = make_job(her2_bundle(ihc_observation("1+", id="ihc-q", specimen="Specimen/r3")))
    for job in (good, poison):
        jobs.enqueue(app, job)
    assert settled(good).state is JobState.DONE
    assert settled(poison).state is JobState.FAILED
    dead_letters = DeadLetterQueue(redis_db, RETENTION)
    assert [letter.id for letter in dead_letters.list()] == [poison.job_id]
    # a job accepted but never taken (its task removed): its record holds the message
    jobs.enqueue(app, pending)
    redis_db.delete("her2")
    written = kept(redis_db)
    assert any(k.startswith("her2:case:") for k in written), written
    assert any(k.startswith("her2:case-input:") for k in written), written
    assert {"her2:jobs:pending", "her2:dead-letters", f"her2:dead-letter:{poison.job_id}"} <= set(
        written
    ), written

    wait_for(lambda: not kept(redis_db), 10 * RETENTION, "every patient-data key to expire")
    assert dead_letters.size() == 0
    assert dead_letters.list() == []
    assert jobs.get(good.job_id) is None
    assert jobs.pending_since(float("inf")) == []
