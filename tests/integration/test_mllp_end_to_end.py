"""HL7 v2 over MLLP end to end: the listener, a real worker process, real Redis, the FHIR test
server. Every message here is SYNTHETIC (no public v2 message carries HER2 ISH numbers).

What each test proves is read back from the FHIR server: one DiagnosticReport per case, its
status and answer, the input Observations and the Specimen written beside it; and the offline
form (`her2-adapter interpret --hl7v2`) gives the same answers for the same messages.

The FHIR server enforces references (strict mode, as HAPI by default) and holds nothing
beforehand: the v2 door writes its inputs and Specimen in the report's own transaction and
names the patient by identifier, so every report here landing proves that door passes as is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapter.heartbeat import alive_listeners
from adapter.job_store import JobState, JobStore
from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings
from adapter.settings import Settings
from tests.integration.conftest import WorkerProcess, wait_for
from tests.mllp.conftest import services_for
from tests.mllp.support import Client, ListenerThread, msa, running
from tests.support.fhir_server import FhirTestServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPECIMEN_SYSTEM = "urn:her2-fhir-adapter:v2:specimen:SYNTH_LAB"
PID = "PID|1||MRN42^^^HOSP&1.2.3.4&ISO^MR||SYNTHETIC^PATIENT||19700101|F"
ISH_ORDER = "HER2^HER2 FISH^L"
LA_POSITIVE, LA_NEGATIVE, LA_EQUIVOCAL = "LA6576-8", "LA6577-6", "LA11885-3"


def message(
    control: str,
    accession: str,
    *obx: str,
    order: str = "HER2^HER2 IHC",
    spm: str | None = None,
    separator: str = "\r",
) -> str:
    """One ORU^R01; with `spm`, the OBX sit inside the SPM group (after SPM)."""
    msh = f"MSH|^~\\&|LIS|SYNTH_LAB|EHR|HOSP|20250301120000+0100||ORU^R01^ORU_R01|{control}|P|2.5.1"
    obr = f"OBR|1|PL-{accession}|{accession}|{order}|||20250228"
    segments = [msh, PID, obr, *([spm] if spm else []), *obx]
    return separator.join(segments) + separator


def ihc(score: str, status: str = "F", n: int = 1) -> str:
    return f"OBX|{n}|ST|85319-2^HER2 IHC^LN||{score}||||||{status}"


def ish(ratio: str, her2: str, cep17: str, first: int = 2) -> list[str]:
    return [
        f"OBX|{first}|NM|49683-6^HER2/CEP17 ratio^LN||{ratio}||||||F",
        f"OBX|{first + 1}|NM|74860-8^HER2 signals per cell^LN||{her2}||||||F",
        f"OBX|{first + 2}|NM|74861-6^CEP17 signals per cell^LN||{cep17}||||||F",
    ]


CAP_IHC_2_ISH_GROUP_3 = [  # CAP biomarker template: IHC 2+, ratio 1.5, HER2 6.5 -> Pending
    "OBX|1|CWE|31012.1000043^HER2 by IHC^CAPECC||31017.1000043^Equivocal (2+)^CAPECC||||||F",
    "OBX|2|CWE|25912.1000043^Ratio^CAPECC|2131|2131.1000043^{No text}^CAPECC||||||F",
    "OBX|3|ST|25912.1000043^Ratio^CAPECC|+2131.1000043|1.5||||||F",
    "OBX|4|CWE|25910.1000043^HER2 avg^CAPECC|2132|2132.1000043^{No text}^CAPECC||||||F",
    "OBX|5|ST|25910.1000043^HER2 avg^CAPECC|2132|6.5||||||F",
    "OBX|6|CWE|25911.1000043^CEP17 avg^CAPECC|2133|2133.1000043^{No text}^CAPECC||||||F",
    "OBX|7|ST|25911.1000043^CEP17 avg^CAPECC|2133|4.3||||||F",
]
LABELLED_ISH_POSITIVE = [
    "OBX|1|TX|HER2 to Chr17 Ratio||2.3||||||F",
    "OBX|2|TX|Average HER2 Copy Number||5.1||||||F",
    "OBX|3|TX|Chr17 average copy number||2.2||||||F",
]
EPIC_GDT_IHC_1 = ["OBX|1|TX|&GDT||HER2: Score 1+||||||F"]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return default_mappings()


@pytest.fixture
def listener(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings
) -> Iterator[ListenerThread]:
    with running(services_for(settings, redis_db, mappings)) as started:
        yield started


def settle(redis_db: redis.Redis, settings: Settings, count: int, timeout: float = 90) -> None:
    """Wait until `count` jobs exist and none is still queued; every one must be done."""
    store = JobStore(redis_db, settings.job_retention_seconds)

    def records() -> list[Any] | None:
        keys = [k.decode().removeprefix("her2:job:") for k in redis_db.scan_iter("her2:job:*")]
        found = [store.get(k) for k in keys]
        if len(found) < count or any(r is None or r.state is JobState.QUEUED for r in found):
            return None
        return found

    found = wait_for(records, timeout, f"{count} jobs to settle")
    failed = [r.outcome for r in found if r.state is not JobState.DONE]
    assert not failed, failed


def reports_by_accession(server: FhirTestServer) -> dict[str, list[dict[str, Any]]]:
    """Every DiagnosticReport on the server, by the accession of its Specimen."""
    found: dict[str, list[dict[str, Any]]] = {}
    for report in server.search("DiagnosticReport", _count="1000"):
        reference = report["specimen"][0]["reference"]
        kind, _, rid = reference.partition("/")
        specimen = server.read(kind, rid)
        assert specimen is not None, f"the report's Specimen {reference} was not written"
        found.setdefault(_accession(specimen), []).append(report)
    return found


def _accession(specimen: dict[str, Any]) -> str:
    identifier = specimen["identifier"][0]
    assert identifier["system"] == SPECIMEN_SYSTEM
    return str(identifier["value"])


def answer(report: dict[str, Any]) -> str:
    return str(report["conclusionCode"][0]["coding"][0]["code"])


def offline(messages: list[str], tmp_path: Path) -> dict[str, tuple[str, str]]:
    """`her2-adapter interpret --hl7v2` on the messages: accession -> (status, answer)."""
    path = tmp_path / "messages.hl7"
    path.write_text("".join(messages), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "interpret", "--hl7v2", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    resources = [e["resource"] for e in json.loads(result.stdout)["entry"]]
    specimens = {f"Specimen/{r['id']}": r for r in resources if r["resourceType"] == "Specimen"}
    specimens |= {f"urn:uuid:{r['id']}": r for r in specimens.values()}
    out = {}
    for report in (r for r in resources if r["resourceType"] == "DiagnosticReport"):
        specimen = specimens[report["specimen"][0]["reference"]]
        out[_accession(specimen)] = (report["status"], answer(report))
    return out


def send_all(port: int, messages: list[str]) -> list[str]:
    with Client(port) as client:
        return [msa(client.ack(m))[1] for m in messages]


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_every_pattern_and_correlation_give_one_report_per_case_as_offline(
    listener: ListenerThread,
    redis_db: redis.Redis,
    settings: Settings,
    fhir_server: FhirTestServer,
    tmp_path: Path,
) -> None:
    assert fhir_server.strict  # the proof that the v2 door's transactions need nothing stored
    single = [
        message("M1", "ACC-LOINC", ihc("2+"), *ish("2.5", "6.2", "2.5")),
        message("M2", "ACC-CAP", *CAP_IHC_2_ISH_GROUP_3),
        message("M3", "ACC-TEXT", *LABELLED_ISH_POSITIVE, order=ISH_ORDER),
        message("M4", "ACC-GDT", *EPIC_GDT_IHC_1, separator="\n"),
        message(
            "M5",
            "ACC-SPM",
            ihc("3+"),
            spm="SPM|1|^ACC-SPM||TISS^Tissue^HL70487||||76752008^Breast structure^SCT",
        ),
        message("M6", "ACC-BOTH", ihc("2+"), *ish("1.5", "3.0", "2.0")),
    ]
    # IHC and ISH of one accession in separate messages, in both orders; their combined
    # message (for the offline form, which keeps no state between messages) is ACC-BOTH's.
    separate = [
        message("M7", "ACC-IHC-FIRST", ihc("2+")),
        message("M8", "ACC-ISH-FIRST", *ish("1.5", "3.0", "2.0", first=1)),
    ]
    later = [
        message("M9", "ACC-IHC-FIRST", *ish("1.5", "3.0", "2.0", first=2)),
        message("M10", "ACC-ISH-FIRST", ihc("2+", n=4)),
    ]
    assert send_all(listener.port, single + separate) == ["AA"] * 8
    settle(redis_db, settings, 8)
    assert send_all(listener.port, later) == ["AA"] * 2
    settle(redis_db, settings, 10)

    expected = offline(single, tmp_path)
    found = reports_by_accession(fhir_server)
    assert {k: len(v) for k, v in found.items()} == dict.fromkeys(
        [*expected, "ACC-IHC-FIRST", "ACC-ISH-FIRST"], 1
    )
    for accession, (status, code) in expected.items():
        report = found[accession][0]
        assert (report["status"], answer(report)) == (status, code), accession
    _, both = expected["ACC-BOTH"]
    # IHC 2+ alone was Equivocal (preliminary), so the whole is final; the ISH alone was
    # Negative (final), so the whole is its amended version (contract 3).
    for accession, version in (("ACC-IHC-FIRST", "final"), ("ACC-ISH-FIRST", "amended")):
        report = found[accession][0]
        assert (report["status"], answer(report)) == (version, both), accession
        # the input Observations were written with the report, each once
        inputs = [r["reference"] for r in report["result"][1:]]
        assert len(inputs) == 4
        for reference in inputs:
            kind, _, rid = reference.partition("/")
            observation = fhir_server.read(kind, rid)
            assert observation is not None, reference
            assert observation["subject"]["identifier"]["value"] == "MRN42"


@pytest.mark.usefixtures("worker")
def test_corrected_result_amends_and_withdrawn_result_withdraws_the_report(
    listener: ListenerThread,
    redis_db: redis.Redis,
    settings: Settings,
    fhir_server: FhirTestServer,
) -> None:
    assert send_all(
        listener.port, [message("C1", "ACC-CORR", ihc("1+")), message("W1", "ACC-WD", ihc("3+"))]
    ) == ["AA", "AA"]
    settle(redis_db, settings, 2)
    first = reports_by_accession(fhir_server)
    assert (first["ACC-CORR"][0]["status"], answer(first["ACC-CORR"][0])) == (
        "final",
        LA_NEGATIVE,
    )
    assert first["ACC-WD"][0]["status"] == "final"

    corrected = message("C2", "ACC-CORR", ihc("3+", status="C"))
    withdrawn = message("W2", "ACC-WD", "OBX|1|ST|85319-2^HER2 IHC^LN||||||||X")
    assert send_all(listener.port, [corrected, withdrawn]) == ["AA", "AA"]
    settle(redis_db, settings, 4)
    after = reports_by_accession(fhir_server)
    assert len(after["ACC-CORR"]) == 1
    assert (after["ACC-CORR"][0]["status"], answer(after["ACC-CORR"][0])) == (
        "amended",
        LA_POSITIVE,
    )
    input_ref = after["ACC-CORR"][0]["result"][1]["reference"]
    assert fhir_server.read(*input_ref.split("/"))["status"] == "corrected"  # type: ignore[index]
    assert len(after["ACC-WD"]) == 1
    assert after["ACC-WD"][0]["status"] == "entered-in-error"
    withdrawn_input = first["ACC-WD"][0]["result"][1]["reference"]
    assert fhir_server.read(*withdrawn_input.split("/"))["status"] == "entered-in-error"  # type: ignore[index]


@pytest.mark.usefixtures("worker")
def test_duplicates_and_one_message_on_two_connections_at_once_give_one_report(
    listener: ListenerThread,
    redis_db: redis.Redis,
    settings: Settings,
    fhir_server: FhirTestServer,
) -> None:
    twice = message("D1", "ACC-DUP", ihc("2+"), *ish("2.5", "6.2", "2.5"))
    assert send_all(listener.port, [twice, twice]) == ["AA", "AA"]
    same = message("D2", "ACC-RACE", ihc("3+"))
    start = threading.Barrier(4)
    codes: list[str] = []

    def sender() -> None:
        with Client(listener.port) as client:
            start.wait(10)
            codes.append(msa(client.ack(same))[1])

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert codes == ["AA"] * 4
    settle(redis_db, settings, 6)
    found = reports_by_accession(fhir_server)
    assert {k: len(v) for k, v in found.items()} == {"ACC-DUP": 1, "ACC-RACE": 1}
    assert len(fhir_server.search("Specimen", _count="100")) == 2
    # 4 inputs of ACC-DUP + 1 of ACC-RACE, plus one status Observation per case
    assert len(fhir_server.search("Observation", _count="100")) == 7


def test_the_mllp_command_listens_queues_beats_and_logs_no_patient_data(
    settings: Settings,
    redis_db: redis.Redis,
    fhir_server: FhirTestServer,
    start_worker: Callable[..., WorkerProcess],
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    start_worker()
    port = free_port()
    log_path = tmp_path / "mllp.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapter.cli", "mllp", "--port", str(port)],
            env={**worker_env, "LOG_LEVEL": "DEBUG"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: b"listening on 127.0.0.1" in log_path.read_bytes(), 30, "the listener")
        wait_for(lambda: alive_listeners(redis_db), 10, "the listener's heartbeat")
        good = message("P1", "ACC-PROC", ihc("2+"), *ish("7.913", "16.2", "2.05"))
        bad = message("P2", "ACC-BAD", ihc("2+"), "OBX|2|NM|49683-6^ratio^LN||2,37x||||||F")
        assert send_all(port, [good, bad]) == ["AA", "AE"]
        settle(redis_db, settings, 1)
        assert len(reports_by_accession(fhir_server)["ACC-PROC"]) == 1
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(30) == 0
    assert not alive_listeners(redis_db)  # a clean stop deletes its heartbeat at once
    logged = log_path.read_text()
    assert '"ack": "AA"' in logged
    assert '"ack": "AE"' in logged
    for patient_data in ("MRN42", "SYNTHETIC", "PATIENT", "19700101", "7.913", "2,37x", "ACC-"):
        assert patient_data not in logged, patient_data
