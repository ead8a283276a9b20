"""The API against a real Redis (its own database, flushed before each test), through FastAPI's
TestClient; `test_serve_process.py` runs the real `her2-adapter serve`."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from adapter.api.app import create_app
from adapter.settings import Settings
from tests.support.redis_db import emptied, redis_url_for_tests

REDIS_DB = 12
REDIS_URL = os.environ.get("TEST_API_REDIS_URL", redis_url_for_tests(REDIS_DB))
KEY = "test-key-Aq7"
OTHER_KEY = "second-key-Zp3"
AUTH = {"Authorization": f"Bearer {KEY}"}
FHIR_JSON = {"Content-Type": "application/fhir+json"}
ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(autouse=True)
def redis_db() -> Iterator[redis.Redis]:
    """The tests' own Redis database, empty before and after each test."""
    with emptied(REDIS_URL) as client:
        yield client


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "adapter_api_keys": f"{KEY},{OTHER_KEY}",
        "sink_dir": tmp_path / "sink",
        "max_body_bytes": 64 * 1024,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def outcome_issue(response: Any) -> dict[str, Any]:
    """The first issue of an OperationOutcome response, after checking it is one."""
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue: dict[str, Any] = body["issue"][0]
    return issue
