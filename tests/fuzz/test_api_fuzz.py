"""Fuzzing a real `her2-adapter serve` (issue 6, item 3): hostile bodies, headers, routes and
methods never earn a 5xx; every 4xx is an OperationOutcome in `application/fhir+json`; a 2xx
only for a message an independent validator finds valid; nothing is queued or recorded for a
refused request; and the service is alive and ready afterwards.

The short form (CI) runs HER2_FUZZ_EXAMPLES=1000 generated requests with a fixed derandomized
seed; the long form sets HER2_FUZZ_EXAMPLES=10000 (README, "Reliability"). No worker runs, so
the queue depth and the job records count exactly the requests answered 202.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings

from adapter.broker import queue_depth
from adapter.job_store import PREFIX as JOB_PREFIX
from tests.fuzz.strategies import (
    AUTH,
    FHIR_JSON,
    KEY,
    VALID_MESSAGES,
    Probe,
    dumps,
    genuinely_valid,
    hostile_requests,
    route_of,
)
from tests.support.fhir_server import free_port
from tests.support.redis_db import emptied, redis_url_for_tests
from tests.support.serve import ServeProcess

REDIS_DB: Final = int(os.environ.get("TEST_FUZZ_REDIS_DB", "9"))
REDIS_URL: Final = redis_url_for_tests(REDIS_DB)
EXAMPLES: Final = int(os.environ.get("HER2_FUZZ_EXAMPLES", "1000"))
# 1 MB strings must fit under the limit; over-size bodies go past it by 1 byte to 2x.
MAX_BODY: Final = 2 * 1024 * 1024

pytestmark = [pytest.mark.integration, pytest.mark.timeout(max(300, EXAMPLES // 10))]


class Tally:
    """What the fuzzer sent and what came back."""

    def __init__(self) -> None:
        self.sent = 0
        self.accepted = 0
        self.statuses: Counter[int] = Counter()
        self.families: Counter[str] = Counter()
        self.started = time.monotonic()

    def summary(self) -> str:
        seconds = time.monotonic() - self.started
        return (
            f"fuzz: {self.sent} requests in {seconds:.1f}s, {self.accepted} accepted; statuses "
            f"{dict(sorted(self.statuses.items()))}; families {dict(sorted(self.families.items()))}"
        )


@pytest.fixture(scope="module")
def fuzz_redis() -> Iterator[redis.Redis]:
    with emptied(REDIS_URL) as client:
        yield client


@pytest.fixture(scope="module")
def server(
    fuzz_redis: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    assert fuzz_redis.ping()  # our own database, flushed
    tmp = tmp_path_factory.mktemp("fuzz")
    env = {
        "REDIS_URL": REDIS_URL,
        "ADAPTER_API_KEYS": KEY,
        "MAX_BODY_BYTES": str(MAX_BODY),
        "SINK_DIR": str(tmp / "sink"),
        "LOG_LEVEL": "INFO",
    }
    with ServeProcess(free_port(), env, tmp / "serve.log") as process:
        yield process


@pytest.fixture(scope="module")
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:  # one keep-alive client
        yield client


def send(http: httpx.Client, probe: Probe) -> httpx.Response:
    body: Any = probe.body if isinstance(probe.body, bytes) else probe.body()
    # h11 refuses to send a header value with surrounding whitespace; the server never sees one
    probe.headers = {name: value.strip() for name, value in probe.headers.items()}
    request = http.build_request(probe.method, probe.path, headers=probe.headers, content=body)
    return http.send(request)


def check_response(probe: Probe, response: httpx.Response) -> None:
    status = response.status_code
    assert status < 500, f"{status} for {probe!r}: {response.text[:500]}"
    if 400 <= status < 500:
        assert response.headers.get("content-type", "").startswith(FHIR_JSON), (
            f"{status} {response.headers.get('content-type')} for {probe!r}"
        )
        if probe.method != "HEAD":
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome", (probe, outcome)
            assert outcome["issue"], (probe, outcome)
            for issue in outcome["issue"]:
                assert issue["severity"] in ("fatal", "error", "warning", "information")
                assert isinstance(issue["code"], str), (probe, outcome)
                assert issue["code"], (probe, outcome)
    if 200 <= status < 300 and probe.method == "POST":
        assert not probe.hostile, f"{status} for a hostile {probe!r}"
        assert genuinely_valid(probe), f"{status} for an invalid {probe!r}"
    elif 200 <= status < 300:
        assert not probe.hostile, f"{status} for {probe!r}"
    if status == 202:
        assert response.headers["content-location"].startswith("/jobs/")


SENTINEL: Final = "her2-fuzz:sentinel"  # gone at the end: someone else flushed our database


def job_records(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter(match=JOB_PREFIX + "*", count=1000))


def test_hostile_requests_get_no_5xx_only_outcomes_and_write_nothing(
    server: ServeProcess, http: httpx.Client, fuzz_redis: redis.Redis
) -> None:
    tally = Tally()
    fuzz_redis.set(SENTINEL, "1")
    depth = [queue_depth(fuzz_redis)]

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(probe=hostile_requests(MAX_BODY))
    def probe_once(probe: Probe) -> None:
        try:
            response = send(http, probe)
        except httpx.TransportError as error:
            raise AssertionError(
                f"{type(error).__name__} for {probe!r}\n{server.log()[-2000:]}"
            ) from error
        tally.sent += 1
        tally.statuses[response.status_code] += 1
        tally.families[probe.family] += 1
        check_response(probe, response)
        if response.status_code == 202:
            tally.accepted += 1
        # nothing queued for a refusal, exactly one task for a 202 (no worker consumes)
        now = queue_depth(fuzz_redis)
        assert now - depth[0] == (response.status_code == 202), (
            f"queue {depth[0]}->{now}: {probe!r}"
        )
        depth[0] = now

    probe_once()
    print(tally.summary())

    assert tally.sent >= EXAMPLES
    assert fuzz_redis.get(SENTINEL), f"Redis db {REDIS_DB} was flushed by another process"
    assert (queue_depth(fuzz_redis), job_records(fuzz_redis)) == (tally.accepted, tally.accepted)
    assert server.alive()
    assert http.get("/health/live").status_code == 200
    ready = http.get("/health/ready", headers=AUTH)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] != "fail"
    message = VALID_MESSAGES[0]
    still = http.post(
        route_of(message), content=dumps(message), headers={**AUTH, "Content-Type": FHIR_JSON}
    )
    assert still.status_code == 202, still.text
    assert job_records(fuzz_redis) == tally.accepted + 1
    logged = server.log()
    assert "Traceback" not in logged
    assert '"level": "error"' not in logged, _errors(logged)
    _save(tally, Path(os.environ.get("HER2_FUZZ_REPORT", "")))


def _errors(logged: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logged.splitlines() if '"level": "error"' in line][:5]


def _save(tally: Tally, path: Path) -> None:
    if str(path) not in ("", "."):
        path.write_text(tally.summary() + "\n", encoding="utf-8")
