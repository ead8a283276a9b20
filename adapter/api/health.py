"""Health (STYLE.md R15): `/health/live` and `/health/ready` (application/health+json).

`/health/live` answers 200 whenever the process answers; it needs no key and touches nothing.
`/health/ready` (API key required) checks each dependency and reports it with its latency, in
the draft-inadarei-api-health-check format:

    {"status": "pass" | "warn" | "fail",
     "checks": {
       "redis:responseTime":          [{"componentType": "datastore", "observedValue": 0.4,
                                        "observedUnit": "ms", "status": "pass", "time": "..."}],
       "fhir-server:responseTime":    [...]   (or "directory-sink:responseTime")
       "workers:count":               [...]   live worker heartbeats
       "mllp:listeners":              [...]   live MLLP listener heartbeats
       "queue:depth":                 [...]   tasks waiting in the broker
       "dead-letters:count":          [...]}}

Any check `fail` makes the answer 503 with status "fail"; otherwise any `warn` gives "warn"
(200). The thresholds are the constants below: a slow dependency, no live worker (messages are
still accepted and wait in the queue), no live MLLP listener (the HTTP door still works), a long
queue and any dead letter warn; an unreachable
Redis or FHIR server (or sink directory) fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from adapter.api.auth import require_api_key
from adapter.api.services import Services
from adapter.deadletter import DeadLetterQueue
from adapter.fhir_server import DirectorySink
from adapter.heartbeat import alive_listeners
from adapter.queue import queue_depth
from workers.heartbeat import alive_workers

HEALTH_JSON: Final = "application/health+json"
REDIS_WARN_MS: Final = 100.0
WRITE_BACK_WARN_MS: Final = 1000.0
QUEUE_DEPTH_WARN: Final = 1000
DEAD_LETTERS_WARN: Final = 1
MIN_WORKERS: Final = 1
MIN_LISTENERS: Final = 1

router = APIRouter(prefix="/health")

Check = dict[str, Any]


class HealthJSONResponse(JSONResponse):
    media_type = HEALTH_JSON


@router.get("/live")
def live() -> HealthJSONResponse:
    return HealthJSONResponse({"status": "pass"})


@router.get("/ready", dependencies=[Depends(require_api_key)])
def ready(request: Request) -> HealthJSONResponse:
    svc: Services = request.app.state.services
    checks = readiness_checks(svc)
    statuses = {check[0]["status"] for check in checks.values()}
    status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return HealthJSONResponse(
        {"status": status, "checks": checks}, status_code=503 if status == "fail" else 200
    )


def readiness_checks(svc: Services) -> dict[str, list[Check]]:
    """Every dependency's check, each run whatever the others gave."""
    target = "directory-sink" if isinstance(svc.write_back, DirectorySink) else "fhir-server"
    return {
        "redis:responseTime": [_timed("datastore", lambda: svc.redis.ping(), REDIS_WARN_MS)],
        f"{target}:responseTime": [_timed("component", svc.write_back.check, WRITE_BACK_WARN_MS)],
        "workers:count": [
            _counted(
                "component",
                lambda: len(alive_workers(svc.redis)),
                "workers",
                lambda n: n < MIN_WORKERS,
            )
        ],
        "mllp:listeners": [
            _counted(
                "component",
                lambda: len(alive_listeners(svc.redis)),
                "listeners",
                lambda n: n < MIN_LISTENERS,
            )
        ],
        "queue:depth": [
            _counted(
                "datastore",
                lambda: queue_depth(svc.redis),
                "messages",
                lambda n: n >= QUEUE_DEPTH_WARN,
            )
        ],
        "dead-letters:count": [
            _counted(
                "datastore",
                lambda: _dead_letters(svc.dead_letters),
                "messages",
                lambda n: n >= DEAD_LETTERS_WARN,
            )
        ],
    }


def _dead_letters(queue: DeadLetterQueue) -> int:
    return queue.size()


def _timed(kind: str, probe: Callable[[], object], warn_ms: float) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # a health check reports failure; it never raises
        return _failed(kind, error)
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    return {
        "componentType": kind,
        "observedValue": elapsed,
        "observedUnit": "ms",
        "status": "warn" if elapsed > warn_ms else "pass",
        "time": _now(),
    }


def _counted(kind: str, probe: Callable[[], int], unit: str, warns: Callable[[int], bool]) -> Check:
    try:
        value = probe()
    except Exception as error:  # a health check reports failure; it never raises
        return _failed(kind, error)
    return {
        "componentType": kind,
        "observedValue": value,
        "observedUnit": unit,
        "status": "warn" if warns(value) else "pass",
        "time": _now(),
    }


def _failed(kind: str, error: Exception) -> Check:
    # The type only: an error's text can hold a URL or a server's answer.
    return {
        "componentType": kind,
        "status": "fail",
        "output": type(error).__name__,
        "time": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
