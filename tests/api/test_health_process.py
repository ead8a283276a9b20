"""`/health/ready` of a real HTTP-only deployment (README "Health"): its own `redis-server` on a
free port, the FHIR test server, `her2-adapter serve` and `her2-adapter worker`, and the states
an on-call engineer sees: pass when healthy and idle, warn for a dead letter until it is
discarded and for the FHIR server down (still 200, messages still accepted), fail with 503
once Redis is gone. Every state is awaited with a bounded poll (a loaded machine may answer a
probe slowly once); nothing is mocked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEY
from tests.builders import ihc_observation
from tests.soak.processes import SCRIPT, RedisServer, service_env
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.processes import WorkerProcess, wait_for
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/fhir+json"}
HTTP_ONLY_CHECKS = {
    "redis:responseTime",
    "fhir-server:responseTime",
    "workers:count",
    "queue:depth",
    "dead-letters:count",
}


@dataclass
class Deployment:
    redis: RedisServer
    fhir: FhirTestServer
    serve: ServeProcess
    env: dict[str, str]
    http: httpx.Client

    def ready(self) -> httpx.Response:
        return self.http.get("/health/ready", headers=AUTH)

    def ready_when(self, status: str, code: int) -> dict[str, Any]:
        """The first readiness answer with `status` and HTTP `code` (bounded wait)."""

        def probe() -> dict[str, Any] | None:
            response = self.ready()
            body: dict[str, Any] = response.json()
            return body if (body["status"], response.status_code) == (status, code) else None

        found: dict[str, Any] = wait_for(probe, 30, f"/health/ready {status} {code}")
        return found

    def settled(self, location: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            record: dict[str, Any] = self.http.get(location, headers=AUTH).json()
            return record if record["state"] != "queued" else None

        record: dict[str, Any] = wait_for(probe, 60, f"{location} to settle")
        return record


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    redis_server = RedisServer(free_port(), tmp_path / "redis")
    redis_server.start()
    fhir = FhirTestServer(free_port(), quiet=True)
    worker: WorkerProcess | None = None
    serve: ServeProcess | None = None
    try:
        fhir.start()
        env = service_env(
            REDIS_URL=redis_server.url,
            FHIR_SERVER_URL=fhir.base_url,
            ADAPTER_API_KEYS=KEY,
            WORKER_HEARTBEAT_SECONDS="1",
            SINK_DIR=str(tmp_path / "sink"),
        )
        env.pop("MLLP_ENABLED", None)  # HTTP only: the v2 door is not deployed
        serve = ServeProcess(free_port(), env, tmp_path / "serve.log").start()
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        with httpx.Client(base_url=serve.base_url, timeout=30) as http:
            yield Deployment(redis_server, fhir, serve, env, http)
    finally:
        for process in (worker, serve):
            if process is not None:
                process.stop()
        fhir.close()
        redis_server.kill()


def post(deployment: Deployment, message: dict[str, Any]) -> str:
    route = "/fhir/Observation" if message["resourceType"] == "Observation" else "/fhir"
    response = deployment.http.post(route, json=message, headers=AUTH)
    assert response.status_code == 202, response.text
    return str(response.headers["content-location"])


def test_http_only_run_passes_and_a_dead_letter_warns_until_discarded(
    deployment: Deployment,
) -> None:
    good = ihc_observation("3+", id="ihc-ok", specimen="Specimen/s-ok")
    assert deployment.settled(post(deployment, good))["state"] == "done"
    healthy = deployment.ready_when("pass", 200)
    assert set(healthy["checks"]) == HTTP_ONLY_CHECKS  # no MLLP listener is expected

    unreadable = ihc_observation(None, id="ihc-bad", specimen="Specimen/s-bad")
    unreadable["valueString"] = "4+"
    stored = deployment.fhir.client().put("/Observation/ihc-bad", json=unreadable)
    assert stored.status_code in (200, 201), stored.text
    by_reference = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{deployment.fhir.base_url}/Observation/ihc-bad"}],
    }
    location = post(deployment, by_reference)
    assert deployment.settled(location)["state"] == "failed"  # read by the worker: dead letter
    warned = deployment.ready_when("warn", 200)
    dead_letters = warned["checks"]["dead-letters:count"][0]
    assert (dead_letters["status"], dead_letters["observedValue"]) == ("warn", 1)

    job_id = location.rsplit("/", 1)[-1]
    discard = subprocess.run(
        [SCRIPT, "dlq", "discard", job_id],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (discard.returncode, discard.stdout) == (0, f"discarded {job_id}\n"), discard.stderr
    cleared = deployment.ready_when("pass", 200)
    assert cleared["checks"]["dead-letters:count"][0]["observedValue"] == 0


def test_fhir_server_down_warns_with_200_and_redis_down_fails_with_503(
    deployment: Deployment,
) -> None:
    deployment.ready_when("pass", 200)

    deployment.fhir.stop()
    degraded = deployment.ready_when("warn", 200)
    fhir_check = degraded["checks"]["fhir-server:responseTime"][0]
    assert fhir_check["status"] == "warn"
    assert fhir_check["output"] == "DependencyUnavailable"
    assert degraded["checks"]["redis:responseTime"][0]["status"] == "pass"
    # the point of warn: the API still takes messages, the queue holds them for the worker
    message = ihc_observation("2+", id="ihc-later", specimen="Specimen/s-later")
    post(deployment, message)

    deployment.redis.kill()
    failed = deployment.ready_when("fail", 503)
    assert failed["checks"]["redis:responseTime"][0]["status"] == "fail"
