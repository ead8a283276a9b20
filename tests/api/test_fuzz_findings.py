"""Regressions for what the API fuzzer (tests/fuzz) found: each input once answered a 500 or a
202 it should not have; now each is a 400 OperationOutcome and nothing is queued."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from adapter.broker import queue_depth
from tests.api.conftest import AUTH, FHIR_JSON, TestClient, outcome_issue
from tests.builders import ihc_observation

HEADERS = {**AUTH, **FHIR_JSON}


def post(client: TestClient, route: str, body: bytes) -> Any:
    return client.post(route, content=body, headers=HEADERS)


@pytest.mark.parametrize(
    "message",
    [
        {"resourceType": "Bundle", "type": [], "entry": []},
        {"resourceType": "Bundle", "type": {"x": 1}, "entry": []},
        {"resourceType": "Bundle", "type": ["collection"], "entry": [{"fullUrl": "Observation/1"}]},
        {
            "resourceType": "Bundle",
            "type": "subscription-notification",
            "entry": [{"resource": {"resourceType": ["SubscriptionStatus"]}}],
        },
    ],
    ids=["type-list", "type-object", "type-list-with-references", "notification-type-list"],
)
def test_bundle_type_or_resource_type_that_is_not_a_string_is_400_not_500(
    client: TestClient, redis_db: redis.Redis, message: dict[str, Any]
) -> None:
    response = post(client, "/fhir", json.dumps(message).encode())

    assert response.status_code == 400, response.text
    assert outcome_issue(response)["code"] == "invalid"
    assert queue_depth(redis_db) == 0


@pytest.mark.parametrize("entry", ["1e400", "1", "-0", "true"])
def test_bundle_entry_that_is_a_number_or_boolean_is_a_4xx_not_500(
    client: TestClient, redis_db: redis.Redis, entry: str
) -> None:
    for kind in ("collection", "subscription-notification"):
        body = f'{{"resourceType": "Bundle", "type": "{kind}", "entry": {entry}}}'.encode()
        response = post(client, "/fhir", body)

        assert response.status_code in (400, 422), response.text
        assert outcome_issue(response)["severity"] == "error"
    assert queue_depth(redis_db) == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType":null,' + json.dumps(ihc_observation("3+")).encode()[1:],
        json.dumps(ihc_observation("3+")).encode()[:-1] + b',"status":"entered-in-error"}',
        json.dumps(ihc_observation("3+"))
        .encode()
        .replace(b'"code": {', b'"code": {"text": 1, ', 1)
        .replace(b'"coding"', b'"text": "x", "coding"', 1),
    ],
    ids=["resourceType-twice", "status-twice", "nested-name-twice"],
)
def test_a_member_named_twice_is_400_structure_not_accepted(
    client: TestClient, redis_db: redis.Redis, body: bytes
) -> None:
    # Parsers disagree on which duplicate wins; one text must not read as two resources.
    response = post(client, "/fhir/Observation", body)

    assert response.status_code == 400, response.text
    issue = outcome_issue(response)
    assert issue["code"] == "structure"
    assert "twice" in issue["diagnostics"]
    assert queue_depth(redis_db) == 0
