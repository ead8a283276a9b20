"""The local FHIR test server behaves like the EHR's FHIR R4 server where the adapter needs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fhir_server import FhirTestServer, free_port

pytestmark = pytest.mark.integration

SYSTEM = "urn:her2-fhir-adapter:case"


@pytest.fixture(scope="module")
def server() -> Iterator[FhirTestServer]:
    with FhirTestServer(free_port()) as srv:
        yield srv


@pytest.fixture
def fhir(server: FhirTestServer) -> httpx.Client:
    server.reset()
    return server.client()


def case_bundle(case: str, status: str = "final") -> dict[str, Any]:
    """One case as the adapter writes it: DiagnosticReport + Observation + Provenance, all PUT."""
    dr_urn, obs_urn, prov_urn = (
        f"urn:uuid:{n:08d}-0000-4000-8000-{int(case.split('-')[-1]):012d}" for n in (1, 2, 3)
    )
    ident = {"system": SYSTEM, "value": case}
    observation = {
        "resourceType": "Observation",
        "id": f"obs-{case}",
        "identifier": [ident],
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]},
        "subject": {"reference": "Patient/pat-1"},
        "specimen": {"reference": "Specimen/spec-1"},
        "valueCodeableConcept": {"text": "HER2 positive"},
    }
    report = {
        "resourceType": "DiagnosticReport",
        "id": f"dr-{case}",
        "identifier": [ident],
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]},
        "subject": {"reference": "Patient/pat-1"},
        "specimen": [{"reference": "Specimen/spec-1"}],
        "result": [{"reference": obs_urn}],
    }
    provenance = {
        "resourceType": "Provenance",
        "id": f"prov-{case}",
        "target": [{"reference": dr_urn}, {"reference": obs_urn}],
        "recorded": "2025-01-01T00:00:00Z",
        "agent": [{"who": {"display": "her2-fhir-adapter"}}],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": urn,
                "resource": res,
                "request": {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"},
            }
            for urn, res in ((dr_urn, report), (obs_urn, observation), (prov_urn, provenance))
        ],
    }


def test_put_creates_then_read_back(fhir: httpx.Client) -> None:
    patient = {"resourceType": "Patient", "id": "pat-1", "gender": "female"}
    created = fhir.put("/Patient/pat-1", json=patient)
    assert created.status_code == 201
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Content-Type"].startswith("application/fhir+json")

    updated = fhir.put("/Patient/pat-1", json={**patient, "gender": "other"})
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"

    read = fhir.get("/Patient/pat-1")
    assert read.status_code == 200
    assert read.json()["gender"] == "other"
    assert fhir.get("/Patient/pat-1/_history/1").json()["gender"] == "female"
    assert fhir.get("/Patient/nope").status_code == 404


def test_transaction_put_twice_gives_new_versions_not_duplicates(
    server: FhirTestServer, fhir: httpx.Client
) -> None:
    first = fhir.post("", json=case_bundle("case-1"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3

    second = fhir.post("", json=case_bundle("case-1"))
    assert second.status_code == 200, second.text
    assert [e["response"]["status"] for e in second.json()["entry"]] == ["200 OK"] * 3
    assert [e["response"]["etag"] for e in second.json()["entry"]] == ['W/"2"'] * 3

    for resource_type, rid in (
        ("DiagnosticReport", "dr-case-1"),
        ("Observation", "obs-case-1"),
        ("Provenance", "prov-case-1"),
    ):
        assert [r["id"] for r in server.search(resource_type)] == [rid]
        assert [v["meta"]["versionId"] for v in server.history(resource_type, rid)] == ["2", "1"]

    # urn:uuid references were rewritten to the PUT targets.
    report = server.read("DiagnosticReport", "dr-case-1")
    assert report is not None
    assert report["result"] == [{"reference": "Observation/obs-case-1"}]
    provenance = server.read("Provenance", "prov-case-1")
    assert provenance is not None
    assert [t["reference"] for t in provenance["target"]] == [
        "DiagnosticReport/dr-case-1",
        "Observation/obs-case-1",
    ]


def test_search_parameters_the_adapter_uses(server: FhirTestServer, fhir: httpx.Client) -> None:
    for n in range(1, 4):
        assert fhir.post("", json=case_bundle(f"case-{n}")).status_code == 200

    found = server.search("DiagnosticReport", identifier=f"{SYSTEM}|case-2")
    assert [r["id"] for r in found] == ["dr-case-2"]
    assert server.search("DiagnosticReport", identifier=f"{SYSTEM}|case-9") == []
    assert len(server.search("Observation", subject="Patient/pat-1")) == 3
    assert len(server.search("DiagnosticReport", specimen="Specimen/spec-1")) == 3
    assert [r["id"] for r in server.search("Observation", _id="obs-case-3")] == ["obs-case-3"]

    page = fhir.get("/Observation", params={"_count": "2", "_total": "accurate"}).json()
    assert page["total"] == 3
    assert len(page["entry"]) == 2

    # A typo must not look like "no match": unknown or unsupported parameters are a 400.
    assert fhir.get("/Observation", params={"subjekt": "Patient/pat-1"}).status_code == 400
    assert (
        fhir.get("/DiagnosticReport", params={"_include": "DiagnosticReport:result"}).status_code
        == 400
    )


def test_failed_transaction_changes_nothing(server: FhirTestServer, fhir: httpx.Client) -> None:
    assert fhir.post("", json=case_bundle("case-1")).status_code == 200
    bundle = case_bundle("case-1", status="amended")
    bundle["entry"][2]["request"]["ifMatch"] = 'W/"7"'  # stale version: the whole Bundle fails
    failed = fhir.post("", json=bundle)
    assert failed.status_code == 412
    assert failed.json()["resourceType"] == "OperationOutcome"

    report = server.read("DiagnosticReport", "dr-case-1")
    assert report is not None
    assert (report["status"], report["meta"]["versionId"]) == ("final", "1")
    assert len(server.history("Observation", "obs-case-1")) == 1


def test_conditional_update_and_if_match(server: FhirTestServer, fhir: httpx.Client) -> None:
    report = case_bundle("case-5")["entry"][0]["resource"]
    del report["id"]  # conditional create-by-update must not carry an id
    report["result"] = [{"reference": "Observation/obs-case-5"}]
    url = f"/DiagnosticReport?identifier={SYSTEM}|case-5"

    created = fhir.put(url, json=report)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    again = fhir.put(url, json={**report, "status": "amended"})
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["meta"]["versionId"]) == (rid, "2")
    assert len(server.search("DiagnosticReport", identifier=f"{SYSTEM}|case-5")) == 1

    current = {**again.json(), "status": "corrected"}
    stale = fhir.put(f"/DiagnosticReport/{rid}", json=current, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    fresh = fhir.put(f"/DiagnosticReport/{rid}", json=current, headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200


@pytest.mark.usefixtures("fhir")
def test_simultaneous_puts_of_one_id_make_one_resource(server: FhirTestServer) -> None:
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def put() -> None:
        with httpx.Client(base_url=server.base_url, headers=server.headers()) as client:
            barrier.wait()
            response = client.post("", json=case_bundle("case-7"))
            statuses.append(response.status_code)
            report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"}}
            report["identifier"] = [{"system": SYSTEM, "value": "cond-7"}]
            response = client.put(f"/DiagnosticReport?identifier={SYSTEM}|cond-7", json=report)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] * 8 + [200] * 7 + [201]
    assert len(server.search("DiagnosticReport", identifier=f"{SYSTEM}|case-7")) == 1
    assert len(server.history("DiagnosticReport", "dr-case-7")) == 8
    assert len(server.search("DiagnosticReport", identifier=f"{SYSTEM}|cond-7")) == 1


def test_invalid_resource_is_rejected(fhir: httpx.Client) -> None:
    response = fhir.put("/Observation/bad", json={"resourceType": "Observation", "id": "bad"})
    assert response.status_code == 400  # status and code are required
    response = fhir.put("/Observation/bad2", json={"resourceType": "Patient", "id": "bad2"})
    assert response.status_code == 400


def test_token_is_enforced_when_set() -> None:
    with FhirTestServer(free_port(), token="s3cret") as srv:
        url = f"{srv.base_url}/Patient/p1"
        patient = {"resourceType": "Patient", "id": "p1"}
        denied = httpx.put(url, json=patient)
        assert denied.status_code == 401
        assert denied.json()["resourceType"] == "OperationOutcome"
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx.get(f"{srv.base_url}/metadata").status_code == 200
        ok = httpx.put(url, json=patient, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        assert srv.read("Patient", "p1") is not None


@pytest.fixture(scope="module")
def strict_server() -> Iterator[FhirTestServer]:
    with FhirTestServer(free_port(), strict=True, quiet=True) as srv:
        yield srv


@pytest.fixture
def strict(strict_server: FhirTestServer) -> httpx.Client:
    strict_server.reset()
    return strict_server.client()


def test_strict_server_refuses_a_report_naming_what_it_does_not_hold(
    strict_server: FhirTestServer, strict: httpx.Client
) -> None:
    refused = strict.post("", json=case_bundle("case-1"))  # Patient/pat-1, Specimen/spec-1 absent
    assert refused.status_code == 400
    issues = refused.json()["issue"]
    assert {i["diagnostics"] for i in issues} >= {
        "Resource Patient/pat-1 not found, specified in path: DiagnosticReport.subject",
        "Resource Specimen/spec-1 not found, specified in path: DiagnosticReport.specimen[0]",
    }
    assert {i["code"] for i in issues} == {"processing"}
    assert strict_server.search("DiagnosticReport") == []  # all or nothing

    holder = {"resourceType": "Patient", "id": "pat-1"}
    assert strict.put("/Patient/pat-1", json=holder).status_code == 201
    specimen = {
        "resourceType": "Specimen",
        "id": "spec-1",
        "subject": {"reference": "Patient/pat-1"},
    }
    assert strict.put("/Specimen/spec-1", json=specimen).status_code == 201
    assert strict.post("", json=case_bundle("case-1")).status_code == 200


@pytest.mark.usefixtures("strict")
def test_strict_server_resolves_references_among_one_bundles_entries_in_any_order(
    strict_server: FhirTestServer,
) -> None:
    bundle = case_bundle("case-2")
    patient = {"resourceType": "Patient", "id": "pat-1"}
    specimen = {
        "resourceType": "Specimen",
        "id": "spec-1",
        "subject": {"reference": "Patient/pat-1"},
    }
    for resource in (specimen, patient):  # after the report that names them
        url = f"{resource['resourceType']}/{resource['id']}"
        bundle["entry"].append({"resource": resource, "request": {"method": "PUT", "url": url}})
    response = strict_server.client().post("", json=bundle)
    assert response.status_code == 200, response.text


@pytest.mark.usefixtures("strict")
def test_strict_server_refuses_placeholders_and_external_urls_but_not_logical_references(
    strict_server: FhirTestServer,
) -> None:
    fhir = strict_server.client()
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "HER2"},
        "derivedFrom": [
            {"reference": "urn:uuid:8c1a7c52-0000-4000-8000-000000000001"},
            {"reference": "https://elsewhere.example/fhir/Observation/x"},
        ],
    }
    refused = fhir.put("/Observation/o1", json={**observation, "id": "o1"})
    assert refused.status_code == 400
    assert [i["expression"] for i in refused.json()["issue"]] == [
        ["Observation.derivedFrom[0]"],
        ["Observation.derivedFrom[1]"],
    ]
    logical = {
        **observation,
        "id": "o2",
        "derivedFrom": [
            {"type": "Observation", "identifier": {"system": SYSTEM, "value": "ihc-1"}},
            {"display": "an input without id"},
            {"reference": f"{strict_server.base_url}/Observation/o2"},  # its own URL: local
        ],
    }
    assert fhir.put("/Observation/o2", json=logical).status_code == 201


def test_data_file_survives_stop_and_kill(tmp_path: Path) -> None:
    data_file = tmp_path / "fhir.jsonl"
    with FhirTestServer(free_port(), data_file=data_file) as srv:
        assert srv.client().post("", json=case_bundle("case-1")).status_code == 200
        assert srv.client().post("", json=case_bundle("case-1")).status_code == 200
        assert srv.client().delete("/Provenance/prov-case-1").status_code == 200

        srv.restart()  # SIGTERM: snapshot written on the way out
        assert len(srv.history("DiagnosticReport", "dr-case-1")) == 2
        assert srv.read("Provenance", "prov-case-1") is None

        assert srv.client().post("", json=case_bundle("case-2")).status_code == 200
        srv.kill()  # SIGKILL: every answered write was appended before the answer
        srv.start()
        assert [r["id"] for r in srv.search("Observation", subject="Patient/pat-1")] == [
            "obs-case-1",
            "obs-case-2",
        ]
        report = srv.client().put(
            "/DiagnosticReport/dr-case-1",
            json=case_bundle("case-1")["entry"][0]["resource"] | {"result": []},
        )
        assert report.json()["meta"]["versionId"] == "3"

    with FhirTestServer(free_port()) as fresh:  # no data file: starts empty
        assert fresh.search("Observation") == []
