"""The worker end to end: real Redis, the real FHIR test server, real worker processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapter.dead_letters import DeadLetterQueue
from adapter.fhir.report import ID_NAMESPACE, REPORT_ID_SYSTEM, resource_id
from adapter.heartbeat import alive_workers
from adapter.job_store import JobState
from adapter.metrics import KEY as METRICS_KEY
from adapter.settings import Settings
from tests.builders import her2_bundle, ihc_observation, ish_observation, specimen
from tests.integration.conftest import WorkerProcess, ehr_holds, wait_for
from tests.support.fhir_server import FhirTestServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPECIMEN = "Specimen/s1"
CASE_KEY = f"specimen|{SPECIMEN}"
LA_POSITIVE, LA_NEGATIVE, LA_EQUIVOCAL = "LA6576-8", "LA6577-6", "LA11885-3"


def ihc(score: str, **fields: Any) -> dict[str, Any]:
    return ihc_observation(score, id="ihc-1", specimen=SPECIMEN, **fields)


def ish_group_1(**fields: Any) -> dict[str, Any]:
    return ish_observation("2.5", her2="6.0", cep17="2.4", id="ish-1", specimen=SPECIMEN, **fields)


def ish_group_5(**fields: Any) -> dict[str, Any]:
    return ish_observation("1.5", her2="3.0", cep17="2.0", id="ish-1", specimen=SPECIMEN, **fields)


def reports(server: FhirTestServer, case_key: str = CASE_KEY) -> list[dict[str, Any]]:
    """The DiagnosticReports of a case, found by its business identifier."""
    value = str(uuid.uuid5(ID_NAMESPACE, case_key))
    return server.search("DiagnosticReport", identifier=f"{REPORT_ID_SYSTEM}|{value}")


def the_report(server: FhirTestServer) -> dict[str, Any]:
    found = reports(server)
    assert len(found) == 1, f"expected exactly one report, found {len(found)}"
    return found[0]


def answer(resource: dict[str, Any]) -> str:
    return resource["conclusionCode"][0]["coding"][0]["code"]


@pytest.fixture(autouse=True)
def ehr_patient_and_specimen(
    fhir_server: FhirTestServer,
    settings: Any,  # noqa: ARG001 - requested to run first: it empties the server
) -> None:
    """The patient and specimen the test results belong to, on the (strict) EHR server."""
    ehr_holds(fhir_server, {"resourceType": "Patient", "id": "p"}, specimen("s1"))


@pytest.mark.usefixtures("worker")
def test_ihc_then_ish_turns_the_preliminary_report_final(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    first = settled(send(her2_bundle(ihc("2+"))))
    assert first.state is JobState.DONE, first.outcome
    report = the_report(fhir_server)
    assert (report["status"], answer(report)) == ("preliminary", LA_EQUIVOCAL)
    assert f"DiagnosticReport/{report['id']}" in {w.split("/_history")[0] for w in first.written}

    second = settled(send(her2_bundle(ish_group_1())))
    assert second.state is JobState.DONE, second.outcome
    final = the_report(fhir_server)
    assert final["id"] == report["id"] == resource_id(CASE_KEY, "DiagnosticReport")
    assert (final["status"], answer(final)) == ("final", LA_POSITIVE)
    assert int(final["meta"]["versionId"]) > int(report["meta"]["versionId"])
    assert {r["reference"] for r in final["result"]} >= {"Observation/ihc-1", "Observation/ish-1"}
    status = fhir_server.read("Observation", resource_id(CASE_KEY, "Observation"))
    assert status is not None
    assert status["status"] == "final"


@pytest.mark.usefixtures("worker")
def test_the_first_messages_laboratory_names_the_report_after_a_later_message(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    # The sender and its Organization come with the IHC only: the stored case keeps them, so
    # the report re-issued for the ISH still names the laboratory (qa-report-contract.md 2).
    header = {
        "resourceType": "MessageHeader",
        "id": "h1",
        "eventCoding": {"system": "urn:example:events", "code": "result"},
        "source": {"endpoint": "urn:example:lis"},
        "sender": {"reference": "Organization/lab-a"},
    }
    lab = {"resourceType": "Organization", "id": "lab-a", "identifier": [{"value": "LAB-A"}]}
    ihc_2 = ihc("2+", effectiveDateTime="2026-03-02")
    assert settled(send(her2_bundle(header, ihc_2, lab, type="message"))).state is JobState.DONE
    ish = ish_group_1(effectiveDateTime="2026-03-09T10:00:00Z")
    assert settled(send(her2_bundle(ish))).state is JobState.DONE
    report = the_report(fhir_server)
    assert report["performer"] == [{"type": "Organization", "identifier": {"value": "LAB-A"}}]
    assert report["effectiveDateTime"] == "2026-03-09T10:00:00Z"


@pytest.mark.usefixtures("worker")
def test_ish_then_ihc_is_one_report_whose_second_version_is_amended(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    assert settled(send(her2_bundle(ish_group_1()))).state is JobState.DONE
    assert the_report(fhir_server)["status"] == "final"  # group 1 alone: Positive
    assert settled(send(her2_bundle(ihc("2+")))).state is JobState.DONE
    report = the_report(fhir_server)
    # once final, every later version is amended (contract 3)
    assert (report["status"], answer(report)) == ("amended", LA_POSITIVE)
    assert report["meta"]["versionId"] == "2"
    assert {r["reference"] for r in report["result"]} >= {"Observation/ihc-1", "Observation/ish-1"}


@pytest.mark.usefixtures("worker")
def test_a_message_sent_three_times_makes_one_report_of_one_version(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    message = her2_bundle(ihc("2+"), ish_group_1(), specimen("s1"), urn=True)
    for _ in range(3):
        assert settled(send(message)).state is JobState.DONE
    report = the_report(fhir_server)
    assert (report["status"], answer(report)) == ("final", LA_POSITIVE)
    # a copy changes nothing: no new version, and none says amended where nothing was
    assert len(fhir_server.history("DiagnosticReport", report["id"])) == 1
    # urn:uuid input references were written as the inputs' Type/id
    assert {r["reference"] for r in report["result"]} >= {"Observation/ihc-1", "Observation/ish-1"}


@pytest.mark.usefixtures("worker")
def test_amended_input_reissues_the_report_as_amended(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    assert settled(send(her2_bundle(ihc("1+"), ish_group_1()))).state is JobState.DONE
    assert (the_report(fhir_server)["status"], answer(the_report(fhir_server))) == (
        "final",
        LA_POSITIVE,
    )
    assert settled(send(her2_bundle(ish_group_5(status="amended")))).state is JobState.DONE
    report = the_report(fhir_server)
    assert (report["status"], answer(report)) == ("amended", LA_NEGATIVE)
    # a replay of the superseded version changes nothing
    assert settled(send(her2_bundle(ish_group_1()))).state is JobState.DONE
    assert (the_report(fhir_server)["status"], answer(the_report(fhir_server))) == (
        "amended",
        LA_NEGATIVE,
    )


@pytest.mark.usefixtures("worker")
def test_entered_in_error_input_is_withdrawn_then_the_report_is(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    assert settled(send(her2_bundle(ihc("3+"), ish_group_5()))).state is JobState.DONE
    assert the_report(fhir_server)["status"] == "final"

    assert settled(send(her2_bundle(ish_group_5(status="entered-in-error")))).state is JobState.DONE
    report = the_report(fhir_server)
    assert (report["status"], answer(report)) == ("amended", LA_POSITIVE)
    assert "Observation/ish-1" not in {r["reference"] for r in report["result"]}

    assert settled(send(her2_bundle(ihc("3+", status="entered-in-error")))).state is JobState.DONE
    withdrawn = the_report(fhir_server)
    assert withdrawn["status"] == "entered-in-error"
    status = fhir_server.read("Observation", resource_id(CASE_KEY, "Observation"))
    assert status is not None
    assert status["status"] == "entered-in-error"


def test_fhir_server_down_retries_until_the_report_lands(
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
    redis_db: redis.Redis,
    tmp_path: Path,
) -> None:
    # The EHR's server keeps its records across the outage (a data file), as a real one does.
    ehr = FhirTestServer(free_port(), data_file=tmp_path / "ehr.jsonl", strict=True, quiet=True)
    ehr.start()
    try:
        start_worker(FHIR_SERVER_URL=ehr.base_url)
        message = her2_bundle(ihc("3+"))
        ehr_holds(ehr, {"resourceType": "Patient", "id": "p"}, specimen("s1"), ihc("3+"))
        ehr.stop()
        job = send(message, stored=False)
        wait_for(
            lambda: any(
                k.startswith(b"her2_writeback_retries_total") for k in redis_db.hkeys(METRICS_KEY)
            ),
            30,
            "a retry",
        )
        ehr.start()
        record = settled(job, timeout=60)
        assert record.state is JobState.DONE, record.outcome
        assert the_report(ehr)["status"] == "final"
    finally:
        ehr.close()


@pytest.mark.usefixtures("worker")
def test_poison_message_is_dead_lettered_then_replayed_after_the_fix(
    fhir_server: FhirTestServer,
    send: Callable,
    settled: Callable,
    redis_db: redis.Redis,
    worker_env: dict[str, str],
    settings: Settings,
) -> None:
    client = fhir_server.client()
    bad = ihc_observation(None, id="ihc-9", specimen=SPECIMEN, valueString="4+")
    assert client.put("/Observation/ihc-9", json=bad).status_code == 201
    message = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{fhir_server.base_url}/Observation/ihc-9"}],
    }
    job = send(message)
    failed = settled(job)
    assert failed.state is JobState.FAILED
    assert failed.outcome is not None
    assert failed.outcome["issue"][0]["code"] == "value"
    dead_letters = DeadLetterQueue(redis_db, settings.dead_letter_retention_seconds)
    letters = dead_letters.list()
    assert [(d.id, d.reason) for d in letters] == [(job.job_id, "bad-input")]
    assert reports(fhir_server) == []

    listed = _cli(worker_env, "dlq", "list")
    assert job.job_id in listed.stdout
    # the unreadable value stays out of the listing (its time, e.g. "...:14+00:00", may not)
    fields = [field for line in listed.stdout.splitlines() for field in line.split("\t")]
    assert not [field for field in fields if "4+" in field and "+00:00" not in field]
    assert "'4+'" not in listed.stdout

    fixed = ihc_observation("3+", id="ihc-9", specimen=SPECIMEN)
    assert client.put("/Observation/ihc-9", json=fixed).status_code == 200
    replay = _cli(worker_env, "dlq", "replay", job.job_id)
    assert f"replayed {job.job_id}" in replay.stdout
    record = settled(job, state=JobState.DONE)
    assert record.outcome is None
    assert dead_letters.size() == 0
    assert answer(the_report(fhir_server)) == LA_POSITIVE


def test_fhir_rejection_is_dead_lettered_with_the_servers_outcome(
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
    redis_db: redis.Redis,
) -> None:
    protected = FhirTestServer(free_port(), token="right", quiet=True)
    protected.start()
    try:
        start_worker(FHIR_SERVER_URL=protected.base_url, FHIR_SERVER_TOKEN="wrong")
        record = settled(send(her2_bundle(ihc("3+"))))
        assert record.state is JobState.FAILED
        assert record.outcome is not None
        assert record.outcome["issue"][0]["details"]["text"] == "Invalid bearer token"
        [letter] = DeadLetterQueue(redis_db, 3600).list()
        assert letter.reason == "auth-refused"
    finally:
        protected.close()


@pytest.mark.usefixtures("worker")
def test_report_whose_inputs_are_not_on_the_server_is_dead_lettered_naming_them(
    fhir_server: FhirTestServer,
    send: Callable,
    settled: Callable,
    redis_db: redis.Redis,
    worker_env: dict[str, str],
) -> None:
    message = her2_bundle(ihc("2+"), ish_group_1())
    job = send(message, stored=False)  # the EHR notified before it stored its results
    failed = settled(job)
    assert failed.state is JobState.FAILED
    [letter] = DeadLetterQueue(redis_db, 3600).list()
    assert (letter.id, letter.reason) == (job.job_id, "write-rejected")
    assert failed.outcome is not None
    named = " ".join(i["diagnostics"] for i in failed.outcome["issue"])
    assert "Resource Observation/ihc-1 not found" in named
    assert "Resource Observation/ish-1 not found" in named
    assert reports(fhir_server) == []

    ehr_holds(fhir_server, *(e["resource"] for e in message["entry"]))
    _cli(worker_env, "dlq", "replay", job.job_id)
    assert settled(job, state=JobState.DONE).outcome is None
    assert answer(the_report(fhir_server)) == LA_POSITIVE


@pytest.mark.usefixtures("worker")
def test_inputs_named_only_by_urn_are_referenced_by_identifier_or_display_and_land(
    fhir_server: FhirTestServer, send: Callable, settled: Callable
) -> None:
    by_identifier, described = ihc("3+"), ish_group_1()
    del by_identifier["id"], described["id"]
    by_identifier["identifier"] = [{"system": "urn:lab:result", "value": "R-7"}]
    message = her2_bundle(by_identifier, described)
    for n, entry in enumerate(message["entry"]):
        entry["fullUrl"] = f"urn:uuid:3b2f4d6e-0000-4000-8000-00000000000{n}"
    assert settled(send(message)).state is JobState.DONE
    report = the_report(fhir_server)
    assert report["result"][1:] == [
        {"type": "Observation", "identifier": {"system": "urn:lab:result", "value": "R-7"}},
        {
            "type": "Observation",
            "display": f"Observation {message['entry'][1]['fullUrl']} of the message: "
            "no id or identifier",
        },
    ]
    assert report["result"][0]["reference"].startswith("Observation/")


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A FHIR base URL whose server accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", free_port()))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir/R4"
    listener.close()
    for conn in accepted:
        conn.close()


def test_job_of_a_killed_worker_is_redelivered_and_lands(
    fhir_server: FhirTestServer,
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
    black_hole: str,
    jobs: Any,
) -> None:
    stuck = start_worker(FHIR_SERVER_URL=black_hole, FHIR_TIMEOUT_SECONDS="120")
    job = send(her2_bundle(ihc("2+"), ish_group_1()))
    wait_for(lambda: "case" not in stuck.log() and jobs.get(job.job_id), 10, "the job to start")
    wait_for(lambda: _connected(black_hole), 20, "the worker to be writing")
    stuck.kill()  # mid-write: the task was never acknowledged
    assert jobs.get(job.job_id).state is JobState.QUEUED
    start_worker()
    record = settled(job, timeout=90)
    assert record.state is JobState.DONE, record.outcome
    assert (the_report(fhir_server)["status"], answer(the_report(fhir_server))) == (
        "final",
        LA_POSITIVE,
    )


def _connected(url: str) -> bool:
    out = subprocess.run(["ss", "-tn", "state", "established"], capture_output=True, text=True)
    return f":{url.split(':')[2].split('/')[0]}" in out.stdout


def test_directory_sink_writes_one_file_per_bundle(
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
    worker_env: dict[str, str],
) -> None:
    start_worker(FHIR_SERVER_URL=None)
    assert settled(send(her2_bundle(ihc("2+")))).state is JobState.DONE
    assert settled(send(her2_bundle(ish_group_1()))).state is JobState.DONE
    files = sorted(Path(worker_env["SINK_DIR"]).glob("*.json"))
    report_id = resource_id(CASE_KEY, "DiagnosticReport")
    assert [f.name.split("-1")[0] for f in files] == [report_id.split("-1")[0]] * 2
    assert all(f.name.startswith(report_id) for f in files)


def test_worker_heartbeat_is_visible_while_it_runs(
    worker: WorkerProcess, redis_db: redis.Redis
) -> None:
    assert wait_for(lambda: alive_workers(redis_db), 10, "a heartbeat")
    worker.stop()
    assert alive_workers(redis_db) == []


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result
