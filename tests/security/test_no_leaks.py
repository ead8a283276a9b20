"""Secrets and patient data never leave in logs, error bodies, headers or DLQ output (issue 6,
item 4), proven on real processes: `her2-adapter serve`, `her2-adapter worker` writing to the
FHIR test server, `her2-adapter dlq list`, and a serve whose Redis is down.

The API keys, the outbound token and a Redis password are distinctive strings; the message
carries a distinctive patient (name, birth date, MRN) and result values. The FHIR server wants
a different token than the worker's, so the write-back is answered 401 and the job is
dead-lettered: that error path's log lines, job record and DLQ listing are scanned too.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import redis

from tests.builders import her2_bundle, ish_observation, specimen
from tests.integration.conftest import WorkerProcess, wait_for
from tests.security.conftest import REDIS_URL
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.phi import phi_found
from tests.support.serve import SCRIPT, ServeProcess

pytestmark = pytest.mark.integration

API_KEYS: Final = ("api-key-Hs71-SECRET-one", "api-key-Pd45-SECRET-two")
OUTBOUND_TOKEN: Final = "outbound-token-Yx93-SECRET"
SERVER_TOKEN: Final = "server-only-token-Kq2-SECRET"  # what the FHIR server wants instead
REDIS_PASSWORD: Final = "redis-pw-Tn58-SECRET"
SECRETS: Final = (*API_KEYS, OUTBOUND_TOKEN, REDIS_PASSWORD)

FAMILY, GIVEN, BIRTH, MRN = "Quillfeather", "Ysolde", "1937-02-19", "MRN-70315-QZ"
RATIO, HER2, CEP17 = "3.7081", "8.6653", "2.3368"
UNREADABLE: Final = "Qv-unreadable-77"
PHI: Final = (FAMILY, GIVEN, BIRTH, MRN, RATIO, HER2, CEP17, UNREADABLE)
FHIR_JSON: Final = "application/fhir+json"


def phi_message(ratio: str = RATIO) -> bytes:
    patient = {
        "resourceType": "Patient",
        "id": "p-sec",
        "identifier": [{"system": "urn:mrn", "value": MRN}],
        "name": [{"family": FAMILY, "given": [GIVEN]}],
        "birthDate": BIRTH,
    }
    observation = ish_observation(
        RATIO, her2=HER2, cep17=CEP17, subject="Patient/p-sec", specimen="Specimen/s-sec"
    )
    if ratio != RATIO:  # an unreadable value: the error path
        observation["valueQuantity"] = {"value": ratio}
    bundle = her2_bundle(patient, specimen("s-sec", subject="Patient/p-sec"), observation)
    # the values are short decimals: float() writes them back exactly as given
    return json.dumps(bundle, default=float).encode()


class Transcript:
    """Everything the adapter said to the outside: response bodies and headers, logs, output."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def response(self, response: httpx.Response) -> httpx.Response:
        self.parts.append(f"{response.status_code} {dict(response.headers)}\n{response.text}")
        return response

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(self) -> str:
        return "\n".join(self.parts)


def auth(key: str = API_KEYS[0]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": FHIR_JSON}


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    with FhirTestServer(free_port(), token=SERVER_TOKEN, quiet=True) as server:
        yield server


@pytest.fixture
def start(redis_db: redis.Redis, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    assert redis_db.ping()
    started: list[ServeProcess | WorkerProcess] = []

    def start_(kind: str, **env: str) -> Any:
        name = f"{kind}-{len(started)}"
        if kind == "serve":
            process: Any = ServeProcess(free_port(), env, tmp_path / f"{name}.log")
        else:
            process = WorkerProcess(ServeProcess(0, env, tmp_path).env, tmp_path / f"{name}.log")
        started.append(process)
        return process.start()

    yield start_
    for process in started:
        process.stop()


def base_env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        "REDIS_URL": REDIS_URL,
        "ADAPTER_API_KEYS": ",".join(API_KEYS),
        "SINK_DIR": str(tmp_path / "sink"),
        "LOG_LEVEL": "DEBUG",
        "WORKER_HEARTBEAT_SECONDS": "1",
        **more,
    }


def settle(http: httpx.Client, location: str, transcript: Transcript) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = transcript.response(http.get(location, headers=auth())).json()
        return body if body.get("state") in ("done", "failed") else None

    settled: dict[str, Any] = wait_for(probe, 60, f"{location} to settle")
    return settled


def exercise_api(http: httpx.Client, transcript: Transcript) -> list[str]:
    """Success and error paths; returns the Content-Location of each 202."""
    say = transcript.response
    accepted = say(http.post("/fhir", content=phi_message(), headers=auth()))
    assert accepted.status_code == 202, accepted.text
    assert (
        say(http.post("/fhir", content=phi_message(), headers=auth(API_KEYS[1]))).status_code == 202
    )
    bad_value = say(http.post("/fhir", content=phi_message(UNREADABLE), headers=auth()))
    assert bad_value.status_code == 422, bad_value.text
    near_miss = API_KEYS[0][:-1] + "X"
    for headers in (
        {"Content-Type": FHIR_JSON},
        auth(near_miss),
        auth(f"{API_KEYS[0]},{API_KEYS[1]}"),
        {"Authorization": f"Basic {API_KEYS[0]}", "Content-Type": FHIR_JSON},
        {"Authorization": API_KEYS[0], "Content-Type": FHIR_JSON},
    ):
        assert say(http.post("/fhir", content=phi_message(), headers=headers)).status_code in (
            401,
            403,
        )
        assert say(http.get("/metrics", headers=headers)).status_code in (401, 403)
    for body in (b"{", b"\xff\xfe", phi_message()[:-3], b'{"resourceType": "Bundle", "type": []}'):
        assert say(http.post("/fhir", content=body, headers=auth())).status_code == 400
    assert (
        say(
            http.post(
                "/fhir", content=phi_message(), headers={**auth(), "Content-Type": "text/plain"}
            )
        ).status_code
        == 415
    )
    say(http.get("/jobs/nope", headers=auth()))
    say(http.get("/metrics", headers=auth()))
    say(http.get("/health/ready", headers=auth()))
    say(http.get("/metadata"))
    return [accepted.headers["content-location"]]


def test_no_secret_and_no_patient_data_leaves_serve_worker_or_dlq(
    fhir_server: FhirTestServer, start: Callable[..., Any], tmp_path: Path
) -> None:
    transcript = Transcript()
    env = base_env(
        tmp_path,
        FHIR_SERVER_URL=fhir_server.base_url,
        FHIR_SERVER_TOKEN=OUTBOUND_TOKEN,
        MAX_RETRIES="2",
    )
    serve = start("serve", **env)
    worker = start("worker", **env)
    with httpx.Client(base_url=serve.base_url, timeout=30) as http:
        locations = exercise_api(http, transcript)
        for location in locations:
            record = settle(http, location, transcript)
            assert record["state"] == "failed", record  # the FHIR server answered 401
        ready = transcript.response(http.get("/health/ready", headers=auth()))
        assert ready.json()["status"] in ("warn", "fail")  # a dead letter at least

    listed = subprocess.run(
        [SCRIPT, "dlq", "list"], env=serve.env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert "auth-refused" in listed.stdout  # the FHIR server refused the token
    transcript.add(listed.stdout + listed.stderr)

    # Redis down (with a password in its URL): 503 from the API, an error line from dlq list.
    down_env = {**env, "REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"}
    down = start("serve", **down_env)
    with httpx.Client(base_url=down.base_url, timeout=30) as http:
        refused = transcript.response(http.post("/fhir", content=phi_message(), headers=auth()))
        assert refused.status_code == 503, refused.text
        transcript.response(http.get("/health/ready", headers=auth()))
    broken = subprocess.run(
        [SCRIPT, "dlq", "list"], env=down.env, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1
    transcript.add(broken.stdout + broken.stderr)

    logs = serve.log() + worker.log() + down.log()
    assert "job dead-lettered" in worker.log()
    assert phi_found(logs, SECRETS) == []
    assert phi_found(transcript.text(), SECRETS) == []
    assert phi_found(logs, PHI) == []
    assert phi_found(listed.stdout, PHI) == []


def test_a_written_report_leaves_no_patient_data_in_the_logs(
    start: Callable[..., Any], tmp_path: Path
) -> None:
    transcript = Transcript()
    env = base_env(tmp_path)  # the directory sink: the write succeeds
    serve = start("serve", **env)
    worker = start("worker", **env)
    with httpx.Client(base_url=serve.base_url, timeout=30) as http:
        locations = exercise_api(http, transcript)
        record = settle(http, locations[0], transcript)
    assert record["state"] == "done", record
    written = "".join(p.read_text() for p in (tmp_path / "sink").rglob("*.json"))
    assert phi_found(written, [RATIO]) == [RATIO]  # the values did reach the report

    logs = serve.log() + worker.log()
    assert phi_found(logs, PHI) == []
    assert phi_found(logs + transcript.text(), SECRETS) == []
