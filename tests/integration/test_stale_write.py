"""No stale write-back (issue 15): a worker that stalls past its case's lock while another
worker writes the case's next version is refused by the FHIR server (If-Match) and settles its
message again upon the newer case. Real Redis, the FHIR test server, two real worker
processes; the stall is the server's hold (`FhirTestServer.hold`): the stalled worker's write
is received and kept waiting, and lands only after the other worker's."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis

from adapter.case_store import LOCK_PREFIX, CaseStore, digest
from adapter.fhir.report import resource_id
from adapter.fhir_server import write_back_target
from adapter.job_store import JobState
from adapter.mapping_files import default_mappings
from adapter.metrics import Metrics
from adapter.queue import HL7V2_MEDIA_TYPE, InterpretJob
from adapter.recent_cases import RecentCases
from adapter.service.processing import WorkerServices, process_job
from adapter.settings import Settings
from tests.builders import her2_bundle, ihc_observation, ish_observation, specimen
from tests.integration.conftest import ehr_holds, wait_for
from tests.soak.failover import v2_message
from tests.support.fhir_server import FhirTestServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPECIMEN = "Specimen/s1"
CASE_KEY = f"specimen|{SPECIMEN}"
LOCK_SECONDS = 2  # the stalled worker outlives its lock within the test


@pytest.fixture(autouse=True)
def ehr_patient_and_specimen(fhir_server: FhirTestServer, settings: Any) -> None:  # noqa: ARG001
    ehr_holds(fhir_server, {"resourceType": "Patient", "id": "p"}, specimen("s1"))


def versions(server: FhirTestServer, resource_type: str) -> list[dict[str, Any]]:
    """Every version of the case's resource of `resource_type`, oldest first."""
    return list(reversed(server.history(resource_type, resource_id(CASE_KEY, resource_type))))


def test_a_stalled_writers_put_is_refused_and_the_newer_report_kept(
    fhir_server: FhirTestServer,
    redis_db: redis.Redis,
    send: Callable,
    settled: Callable,
    start_worker: Callable,
) -> None:
    # Its write waits for the server's answer (no client timeout first), as a stalled one.
    stalled = start_worker(
        CASE_LOCK_SECONDS=str(LOCK_SECONDS), WORKER_CONCURRENCY="1", FHIR_TIMEOUT_SECONDS="60"
    )
    assert settled(send(her2_bundle(ihc_observation("2+", id="ihc-1", specimen=SPECIMEN))))
    # v1: IHC 2+ alone, equivocal, preliminary.

    ish_1 = ish_observation("2.5", her2="6.0", cep17="2.4", id="ish-1", specimen=SPECIMEN)
    ehr_holds(fhir_server, ish_1)  # the EHR's own record, before the hold is armed
    fhir_server.hold("Observation/ish-1")  # the first report that names the ISH
    ish = send(her2_bundle(ish_1), stored=False)
    wait_for(lambda: fhir_server.held() == 1, 30, "the ISH's write to be held")
    os.killpg(stalled.proc.pid, signal.SIGSTOP)  # the worker and its pool: stalled
    lock = LOCK_PREFIX + digest(CASE_KEY)
    wait_for(lambda: not redis_db.exists(lock), 3 * LOCK_SECONDS, "the stalled lock to expire")

    other = start_worker(CASE_LOCK_SECONDS=str(LOCK_SECONDS), WORKER_CONCURRENCY="1")
    amended = ihc_observation("0", id="ihc-1", specimen=SPECIMEN, status="amended")
    assert settled(send(her2_bundle(amended))).state is JobState.DONE  # v2: IHC 0, final
    os.killpg(stalled.proc.pid, signal.SIGCONT)
    fhir_server.release()
    assert settled(ish).state is JobState.DONE
    other.stop()

    reports = versions(fhir_server, "DiagnosticReport")
    # The held write (IHC 2+ and ISH, built on v1) never landed: v3 is the ISH settled again
    # upon v2's case, and, once final, every later version is amended (contract 3).
    assert [r["status"] for r in reports] == ["preliminary", "final", "amended"]
    assert {r["reference"] for r in reports[-1]["result"]} >= {
        "Observation/ihc-1",
        "Observation/ish-1",
    }
    assert [o["status"] for o in versions(fhir_server, "Observation")] == [
        "preliminary",
        "final",
        "amended",
    ]
    assert len(versions(fhir_server, "Provenance")) == 3
    assert Metrics(redis_db).value("her2_stale_writes_refused_total") == 1


def test_a_job_whose_case_state_was_lost_writes_no_second_version(
    fhir_server: FhirTestServer, redis_db: redis.Redis, settings: Settings
) -> None:
    """A write landed, then its case's state was lost (a primary lost before replicating the
    save, or the worker killed before it): the job run again finds the report on the server,
    the very report it would write (the server rewrote its uuids), and writes nothing."""
    with httpx.Client(timeout=10) as http:
        services = WorkerServices(
            default_mappings(),
            CaseStore(redis_db, 600),
            write_back_target(settings, http),
            Metrics(redis_db),
            RecentCases(redis_db, 600),
        )
        v2 = v2_message("LOST-1", "ACC-LOST-1")

        def job() -> InterpretJob:
            return InterpretJob(
                job_id=uuid.uuid4().hex,
                door="mllp",
                received_at=datetime.now(UTC),
                body=v2,
                media_type=HL7V2_MEDIA_TYPE,
            )

        assert process_job(job(), services)
        redis_db.flushdb()  # the case's state is lost
        assert process_job(job(), services) == []
    (report,) = fhir_server.search("DiagnosticReport", _count="10")
    assert [v["status"] for v in fhir_server.history("DiagnosticReport", report["id"])] == ["final"]
