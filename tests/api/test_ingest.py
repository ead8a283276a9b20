"""POST /fhir/Observation and POST /fhir: every refusal is an OperationOutcome with the status of
the one table; a good message is 202 with Content-Location only after Redis holds the task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapter.api.app import create_app
from adapter.broker import queue_depth
from adapter.job_store import JobStore
from adapter.service.admission import MAX_DEPTH, MAX_ENTRIES
from tests.api.conftest import (
    AUTH,
    FHIR_JSON,
    KEY,
    ROOT,
    TestClient,
    closed_port,
    make_settings,
    outcome_issue,
)
from tests.builders import ihc_observation, observation

EXAMPLES = ROOT / "examples" / "fhir"
HEADERS = {**AUTH, **FHIR_JSON}


def post(client: TestClient, route: str, body: Any, **headers: str) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(route, content=content, headers={**HEADERS, **headers})


def bundle(*resources: dict[str, Any], type_: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": type_,
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)],
    }


def test_observation_is_accepted_with_job_location_and_queued_in_redis(
    client: TestClient, redis_db: redis.Redis
) -> None:
    response = post(client, "/fhir/Observation", ihc_observation("3+"))

    assert response.status_code == 202, response.text
    location = response.headers["content-location"]
    assert location.startswith("/jobs/")
    job_id = location.removeprefix("/jobs/")
    assert outcome_issue(response)["severity"] == "information"
    record = JobStore(redis_db, 60).get(job_id)
    assert record is not None
    assert record.state == "queued"
    assert queue_depth(redis_db) == 1
    job = client.get(location, headers=AUTH)
    assert job.status_code == 200
    assert job.json() == {
        "job_id": job_id,
        "state": "queued",
        "received_at": record.received_at.isoformat(),
        "written": [],
    }


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_message_is_accepted(client: TestClient, path: Path) -> None:
    kind = json.loads(path.read_bytes())["resourceType"]
    route = "/fhir/Observation" if kind == "Observation" else "/fhir"
    response = post(client, route, path.read_bytes())
    assert response.status_code == 202, response.text


def test_plain_application_json_with_charset_is_accepted(client: TestClient) -> None:
    response = post(
        client,
        "/fhir/Observation",
        ihc_observation("1+"),
        **{"Content-Type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 202, response.text


def test_a_message_that_only_withdraws_a_result_is_accepted(client: TestClient) -> None:
    withdrawn = ihc_observation("2+", status="entered-in-error")
    assert post(client, "/fhir/Observation", withdrawn).status_code == 202


def test_an_entered_in_error_observation_of_another_kind_is_still_no_her2_data(
    client: TestClient,
) -> None:
    other = observation("2160-0", status="entered-in-error", valueQuantity={"value": 1.1})
    response = post(client, "/fhir/Observation", other)
    assert response.status_code == 422
    assert outcome_issue(response)["code"] == "not-found"


@pytest.fixture
def fetching_client(tmp_path: Path) -> Iterator[TestClient]:
    """An API whose worker reads named results from a FHIR server (none runs: admission only
    checks the message; the worker's fetch is tested with a real server elsewhere)."""
    settings = make_settings(tmp_path, fhir_server_url="http://127.0.0.1:9/fhir")
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_references_only_bundle_is_checked_for_structure_and_accepted(
    fetching_client: TestClient,
) -> None:
    message = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "GET", "url": "Observation/ihc-17"}}],
    }
    assert post(fetching_client, "/fhir", message).status_code == 202


def test_references_only_without_a_fhir_server_to_read_them_is_refused(
    client: TestClient,
) -> None:
    message = {"resourceType": "Bundle", "type": "batch", "entry": [{"fullUrl": "Observation/o1"}]}
    response = post(client, "/fhir", message)
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["Bundle.entry"]


@pytest.mark.parametrize(
    ("entry", "expression"),
    [
        ({}, "Bundle.entry[1].resource"),
        ({"fullUrl": "urn:uuid:6d0c1f6e-5d2b-4c5a-9b1e-0f1a2b3c4d5e"}, "Bundle.entry[1].resource"),
        ({"fullUrl": "Observation/elsewhere"}, "Bundle.entry[1].resource"),
        ({"resource": None}, "Bundle.entry[1].resource"),
    ],
)
def test_an_entry_without_a_resource_beside_full_resources_is_bad_input(
    fetching_client: TestClient, entry: dict[str, Any], expression: str
) -> None:
    # issue 18, class 7: such a Bundle was taken for references-only and its held results
    # written back without the entry, which names nothing the adapter could read.
    message = bundle(ihc_observation("3+"))
    message["entry"].append(entry)
    response = post(fetching_client, "/fhir", message)
    assert response.status_code == 400, response.text
    assert expression in outcome_issue(response)["expression"]


def test_a_references_only_entry_naming_nothing_to_fetch_is_bad_input(
    fetching_client: TestClient,
) -> None:
    message = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"fullUrl": "Observation/o1"}, {"fullUrl": "urn:uuid:x"}],
    }
    response = post(fetching_client, "/fhir", message)
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["Bundle.entry[1]"]


def test_subscription_notification_naming_results_is_accepted(
    fetching_client: TestClient,
) -> None:
    message = {
        "resourceType": "Bundle",
        "type": "subscription-notification",
        "timestamp": "2025-03-04T10:15:00+01:00",
        "entry": [
            {
                "fullUrl": "urn:uuid:0",
                "resource": {
                    "resourceType": "SubscriptionStatus",
                    "status": "active",
                    "type": "event-notification",
                    "subscription": {"reference": "Subscription/her2"},
                },
            },
            {"fullUrl": "https://ehr.example/fhir/Observation/ish-9"},
        ],
    }
    assert post(fetching_client, "/fhir", message).status_code == 202


# --- the 4xx table ---------------------------------------------------------------------------

BAD_MESSAGES: list[tuple[str, str, bytes, int, str]] = [
    ("bad JSON", "/fhir/Observation", b'{"resourceType": "Observation",', 400, "structure"),
    ("NaN", "/fhir/Observation", b'{"resourceType": "Observation", "x": NaN}', 400, "structure"),
    ("not UTF-8", "/fhir/Observation", b'{"resourceType": "Observ\xff"}', 400, "structure"),
    ("JSON array", "/fhir", b"[1, 2]", 400, "structure"),
    ("no resourceType", "/fhir", b'{"type": "collection"}', 400, "invalid"),
    ("a Patient", "/fhir", json.dumps({"resourceType": "Patient"}).encode(), 400, "invalid"),
    (
        "Observation to /fhir",
        "/fhir",
        json.dumps(ihc_observation("1+")).encode(),
        400,
        "invalid",
    ),
    (
        "wrong Bundle type",
        "/fhir",
        json.dumps(bundle(ihc_observation("1+"), type_="history")).encode(),
        400,
        "invalid",
    ),
    (
        "two value[x]",
        "/fhir/Observation",
        json.dumps(ihc_observation("2+", valueString="2+")).encode(),
        400,
        "invalid",
    ),
    (
        "unreadable IHC 4+",
        "/fhir/Observation",
        json.dumps(ihc_observation(valueString="4+")).encode(),
        422,
        "value",
    ),
    (
        "no HER2 data",
        "/fhir",
        json.dumps(bundle(observation("2160-0", valueString="1.1"))).encode(),
        422,
        "not-found",
    ),
]


@pytest.mark.parametrize(
    ("route", "body", "status", "code"),
    [case[1:] for case in BAD_MESSAGES],
    ids=[case[0] for case in BAD_MESSAGES],
)
def test_bad_message_is_an_operation_outcome_with_the_table_status(
    client: TestClient, redis_db: redis.Redis, route: str, body: bytes, status: int, code: str
) -> None:
    response = post(client, route, body)

    assert response.status_code == status, response.text
    assert outcome_issue(response)["code"] == code
    assert "content-location" not in response.headers
    assert queue_depth(redis_db) == 0


def test_bad_value_names_the_field(client: TestClient) -> None:
    response = post(client, "/fhir/Observation", ihc_observation(valueString="4+"))
    assert outcome_issue(response)["expression"] == ["Observation.valueString"]


def test_deep_nesting_is_refused_before_validation(client: TestClient) -> None:
    nested: dict[str, Any] = {}
    for _ in range(MAX_DEPTH + 5):
        nested = {"extension": [nested]}
    response = post(client, "/fhir/Observation", {**ihc_observation("1+"), **nested})
    assert response.status_code == 400
    assert outcome_issue(response)["code"] == "structure"


def test_bundle_over_the_entry_limit_is_413(client: TestClient) -> None:
    entries = [{"fullUrl": f"Observation/o{i}"} for i in range(MAX_ENTRIES + 1)]
    message = {"resourceType": "Bundle", "type": "batch", "entry": entries}
    response = post(client, "/fhir", message)
    assert response.status_code == 413
    assert outcome_issue(response)["code"] == "too-long"


def test_body_over_the_limit_is_413_by_content_length(client: TestClient) -> None:
    response = post(client, "/fhir", b" " * (64 * 1024 + 1))
    assert response.status_code == 413
    assert outcome_issue(response)["code"] == "too-long"


def test_body_over_the_limit_is_413_while_streaming(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = client.post("/fhir", content=chunks(), headers=HEADERS)
    assert response.status_code == 413
    assert outcome_issue(response)["code"] == "too-long"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/fhir+json; charset=latin-1", ""]
)
def test_wrong_media_type_is_415(client: TestClient, content_type: str) -> None:
    response = post(
        client, "/fhir/Observation", ihc_observation("1+"), **{"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert outcome_issue(response)["code"] == "not-supported"


def test_no_key_is_401_with_a_challenge(client: TestClient) -> None:
    response = client.post(
        "/fhir/Observation", content=json.dumps(ihc_observation("1+")), headers=FHIR_JSON
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert outcome_issue(response)["code"] == "login"


def test_wrong_key_is_403_and_never_echoed(client: TestClient) -> None:
    wrong = KEY + "x"
    response = post(client, "/fhir", ihc_observation("1+"), Authorization=f"Bearer {wrong}")
    assert response.status_code == 403
    assert outcome_issue(response)["code"] == "forbidden"
    assert wrong not in response.text
    assert KEY not in response.text


def test_unknown_site_override_is_400(client: TestClient) -> None:
    response = client.post(
        "/fhir/Observation?site=lung",
        content=json.dumps(ihc_observation("1+")),
        headers=HEADERS,
    )
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["site"]


def test_broker_down_is_503_and_leaves_no_job(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    from adapter.api.app import create_app

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = post(client, "/fhir/Observation", ihc_observation("3+"))

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert outcome_issue(response)["code"] == "transient"
    assert "127.0.0.1" not in response.text


def test_unexpected_error_is_500_with_correlation_id_and_no_trace(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("secret detail Zq-991")

    monkeypatch.setattr("adapter.api.ingest.admit", broken)
    response = post(client, "/fhir/Observation", ihc_observation("3+"))

    assert response.status_code == 500
    issue = outcome_issue(response)
    assert issue["code"] == "exception"
    assert response.headers["x-correlation-id"] in issue["diagnostics"]
    assert "Zq-991" not in response.text
    assert "Traceback" not in response.text
