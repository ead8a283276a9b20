"""Jobs, capability, health, metrics, FastAPI's own errors, and the key on every route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from prometheus_client import CONTENT_TYPE_LATEST

from adapter.api.app import create_app
from adapter.api.auth import ApiKeys, MissingCredentials, WrongCredentials
from adapter.api.outcomes import OUTCOMES, outcome_body, outcome_for
from adapter.errors import BadInput
from adapter.fhir.outcome import ISSUE_CODES
from tests.api.conftest import (
    AUTH,
    FHIR_JSON,
    OTHER_KEY,
    TestClient,
    closed_port,
    make_settings,
    outcome_issue,
)
from tests.builders import ihc_observation

PROTECTED = [
    ("GET", "/jobs/0f1e2d3c"),
    ("GET", "/metrics"),
    ("GET", "/health/ready"),
    ("POST", "/fhir"),
    ("POST", "/fhir/Observation"),
]


@pytest.mark.parametrize(("method", "route"), PROTECTED)
def test_every_protected_route_refuses_a_missing_or_wrong_key(
    client: TestClient, method: str, route: str
) -> None:
    missing = client.request(method, route, headers=FHIR_JSON)
    wrong = client.request(method, route, headers={**FHIR_JSON, "Authorization": "Bearer nope"})
    basic = client.request(method, route, headers={**FHIR_JSON, "Authorization": "Basic a2V5"})
    assert (missing.status_code, wrong.status_code, basic.status_code) == (401, 403, 401)
    assert outcome_issue(wrong)["code"] == "forbidden"


def test_any_configured_key_is_accepted(client: TestClient) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert response.status_code == 200


def test_api_keys_compare_every_key() -> None:
    keys = ApiKeys(frozenset({"alpha", "beta-longer"}), demo_mode=False)
    keys.check("Bearer beta-longer")
    keys.check("bearer alpha")
    with pytest.raises(WrongCredentials):
        keys.check("Bearer alph")
    with pytest.raises(MissingCredentials):
        keys.check(None)


def test_demo_mode_without_keys_is_open_and_without_demo_mode_is_closed() -> None:
    ApiKeys(frozenset(), demo_mode=True).check(None)
    with pytest.raises(MissingCredentials):
        ApiKeys(frozenset(), demo_mode=False).check(None)
    with pytest.raises(WrongCredentials):
        ApiKeys(frozenset(), demo_mode=False).check("Bearer anything")


def test_unknown_route_is_404_operation_outcome(client: TestClient) -> None:
    response = client.get("/fhir/Patient/1", headers=AUTH)
    assert response.status_code == 404
    assert outcome_issue(response)["code"] == "not-found"


def test_wrong_method_is_405_operation_outcome_with_allow(client: TestClient) -> None:
    response = client.get("/fhir/Observation", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert outcome_issue(response)["code"] == "not-supported"


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/0f1e2d3c-aaaa", headers=AUTH)
    assert response.status_code == 404
    assert outcome_issue(response)["code"] == "not-found"


def test_metadata_needs_no_key_and_is_a_capability_statement(client: TestClient) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert "application/fhir+json" in statement["format"]
    assert statement["rest"][0]["resource"][0]["type"] == "Observation"


def test_live_needs_no_key(client: TestClient) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "pass"}


def test_ready_with_redis_up_reports_every_dependency(client: TestClient) -> None:
    response = client.get("/health/ready", headers=AUTH)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/health+json")
    health = response.json()
    assert set(health["checks"]) == {  # HTTP only (MLLP_ENABLED unset): no listener expected
        "redis:responseTime",
        "directory-sink:responseTime",
        "workers:count",
        "queue:depth",
        "dead-letters:count",
    }
    redis_check = health["checks"]["redis:responseTime"][0]
    assert redis_check["status"] == "pass"
    assert redis_check["observedUnit"] == "ms"
    assert health["checks"]["queue:depth"][0]["observedValue"] == 0
    # No worker runs in this test: that warns (messages still queue), it does not fail.
    assert health["checks"]["workers:count"][0]["status"] == "warn"
    assert health["status"] == "warn"


def test_ready_where_the_v2_door_is_deployed_warns_without_a_listener(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mllp_enabled=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        health = client.get("/health/ready", headers=AUTH).json()

    # the HTTP door still takes messages: a warning, not a failure
    assert health["checks"]["mllp:listeners"][0]["status"] == "warn"
    assert health["checks"]["mllp:listeners"][0]["observedValue"] == 0


def test_ready_with_redis_down_fails_with_503(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/health/ready", headers=AUTH)

    assert response.status_code == 503
    health = response.json()
    assert health["status"] == "fail"
    assert health["checks"]["redis:responseTime"][0]["status"] == "fail"
    assert health["checks"]["directory-sink:responseTime"][0]["status"] == "pass"


def test_metrics_count_received_accepted_and_rejected_by_reason(client: TestClient) -> None:
    good = json.dumps(ihc_observation("3+"))
    bad = json.dumps(ihc_observation(valueString="4+"))
    for body in (good, good, bad):
        client.post("/fhir/Observation", content=body, headers={**AUTH, **FHIR_JSON})
    client.post("/fhir/Observation", content=good, headers={"Content-Type": "text/plain", **AUTH})

    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST  # prometheus-client's
    text = response.text
    assert 'her2_messages_received_total{door="http"} 4.0' in text
    assert 'her2_messages_accepted_total{door="http"} 2.0' in text
    assert 'her2_messages_rejected_total{door="http",reason="unreadable-value"} 1.0' in text
    assert 'her2_messages_rejected_total{door="http",reason="media-type"} 1.0' in text


def test_metrics_with_redis_down_is_503_operation_outcome(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 503
    assert outcome_issue(response)["code"] == "transient"


def test_bad_input_answers_with_the_one_issue_code_table_and_its_own_status() -> None:
    for error_type, code in ISSUE_CODES.items():
        row = OUTCOMES[error_type]  # every kind of bad input has its HTTP status and label
        assert row.code is None, error_type  # ...and takes its code from the one table
        body = outcome_body(error_type("x"), "cid")
        assert body["issue"][0]["code"] == code, error_type


def test_outcome_lookup_walks_the_mro() -> None:
    class Special(BadInput):
        pass

    assert outcome_for(Special("x")).status == 400
    assert outcome_for(redis.ConnectionError()).status == 503
    assert outcome_for(KeyError()).status == 500
