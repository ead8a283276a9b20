"""Every route but `/health/live` and `/metadata` refuses a missing key (401) and a wrong key
(403), each an OperationOutcome; keys are compared in constant time (every configured key, by
fixed-length digest, with `hmac.compare_digest`). Routes are read from the app, so a new route
is covered (or must be named open here) without editing this test. The operations console
(`/console...`) takes the same keys through its login form and a session instead:
tests/console/test_console_auth.py covers each of its routes."""

from __future__ import annotations

import hmac
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import fastapi.routing
import pytest
import redis

from adapter.api.app import create_app
from adapter.api.auth import ApiKeys
from adapter.api.outcomes import MissingCredentials, WrongCredentials
from adapter.settings import Settings
from tests.security.conftest import REDIS_URL

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEYS: Final = ("sec-key-one-Lm42", "sec-key-two-Vb97", "k")
OPEN_ROUTES: Final = frozenset({"/health/live", "/metadata"})
CONSOLE: Final = "/console"  # a session, not a bearer key
FHIR_JSON: Final = "application/fhir+json"


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        redis_url=REDIS_URL, adapter_api_keys=",".join(KEYS), sink_dir=tmp_path / "sink"
    )


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, path parameters filled in. FastAPI 0.165
    keeps included routers nested (`iter_route_contexts` flattens them); older ones list
    every APIRoute in `app.routes`."""
    app = create_app(_settings(tmp_path))
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(flatten(app.routes) if flatten else app.routes)
    found = []
    for route in routes:
        methods = getattr(route, "methods", None)
        if methods and isinstance(getattr(route, "path", None), str):
            path = re.sub(r"\{[^}]+\}", "x-1", route.path)
            found += [(method, path) for method in sorted(methods)]
    return found


ROUTES: Final = _routes(Path("/nonexistent"))


@pytest.fixture
def client(tmp_path: Path, redis_db: redis.Redis) -> Iterator[TestClient]:
    assert redis_db.ping()  # the app's lifespan needs Redis: our own database
    with TestClient(create_app(_settings(tmp_path)), raise_server_exceptions=False) as test:
        yield test


def _outcome(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body


def test_the_routes_are_found_and_only_the_two_open_ones_are_open() -> None:
    paths = {path for _, path in ROUTES}
    assert {"/fhir", "/fhir/Observation", "/jobs/x-1", "/metrics", "/health/ready"} <= paths
    assert paths >= OPEN_ROUTES


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in ROUTES if r[1] not in OPEN_ROUTES and not r[1].startswith(CONSOLE)],
    ids="{0[0]} {0[1]}".format,
)
@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "login"),
        ("", 401, "login"),
        ("Bearer", 401, "login"),
        (f"Basic {KEYS[0]}", 401, "login"),
        (KEYS[0], 401, "login"),
        ("Bearer wrong-key", 403, "forbidden"),
        (f"Bearer {KEYS[0]}x", 403, "forbidden"),
        (f"Bearer {KEYS[0][:-1]}", 403, "forbidden"),
        (f"Bearer {KEYS[0].upper()}", 403, "forbidden"),
        (f"Bearer {KEYS[0]},{KEYS[1]}", 403, "forbidden"),
    ],
    ids=[
        "none",
        "empty",
        "scheme-only",
        "basic",
        "no-scheme",
        "wrong",
        "longer",
        "shorter",
        "case",
        "two-keys",
    ],
)
def test_every_keyed_route_refuses_a_missing_or_wrong_key_with_an_outcome(
    client: TestClient,
    method: str,
    path: str,
    authorization: str | None,
    status: int,
    code: str,
) -> None:
    headers = {"Content-Type": FHIR_JSON}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.request(method, path, headers=headers, content=b"{}")

    assert response.status_code == status, response.text
    assert _outcome(response)["issue"][0]["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert KEYS[0] not in response.text


@pytest.mark.parametrize("path", sorted(OPEN_ROUTES))
def test_the_open_routes_answer_without_a_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "presented",
    [KEYS[0], KEYS[1], KEYS[2], "wrong", "", "x" * 10_000, "Ã©\u0000\u00ff", KEYS[0] + " "],
    ids=["first", "second", "short", "wrong", "empty", "long", "odd", "trailing-space"],
)
def test_every_configured_key_is_compared_by_digest_whatever_is_presented(
    monkeypatch: pytest.MonkeyPatch, presented: str
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr("adapter.api.auth.hmac.compare_digest", counting)
    keys = ApiKeys(frozenset(KEYS), demo_mode=False)

    try:
        keys.check(f"Bearer {presented}")
    except (WrongCredentials, MissingCredentials):
        refused = True
    else:
        refused = False

    if presented.strip():  # an empty key is refused as missing before any comparison
        assert len(calls) == len(KEYS), "every key is compared, no early exit"
        assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in calls)
        raw = {presented.encode("utf-8", "surrogatepass"), *(k.encode() for k in KEYS)}
        assert not any(a in raw or b in raw for a, b in calls), "digests, never raw keys"
        assert refused is (presented.strip() not in KEYS)
    else:
        assert calls == []
        assert refused


def test_keys_are_kept_only_as_digests() -> None:
    keys = ApiKeys(frozenset(KEYS), demo_mode=False)
    held = repr(vars(keys)) if hasattr(keys, "__dict__") else repr(keys)
    assert not any(key in held for key in KEYS if len(key) > 1)
