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
       "mllp:listeners":              [...]   live MLLP listener heartbeats (MLLP_ENABLED only)
       "queue:depth":                 [...]   tasks waiting in the broker
       "dead-letters:count":          [...]}}

Readiness answers one question: can this API take messages now? It needs Redis for that, and
nothing else: Redis unreachable is `fail` and the answer 503 (a load balancer takes the instance
out). Everything else degrades without refusing messages and is `warn` (200): the write-back
target unreachable or slow (accepted messages wait in the queue and the workers retry), no live
worker, no live MLLP listener where the v2 door is deployed, a long queue, any dead letter. A
deployment without the v2 door (`MLLP_ENABLED` false) does not check for listeners. README
"Health" says, for each check, what its states mean and what the on-call engineer does.

Every Redis command here costs the same whatever the keyspace holds (heartbeat registries,
LLEN, the dead-letter index's ZCARD): `tests/api/test_health.py` checks it with MONITOR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Literal

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
Status = Literal["pass", "warn", "fail"]


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
    checks = {
        "redis:responseTime": [
            _timed("datastore", lambda: svc.redis.ping(), REDIS_WARN_MS, unreachable="fail")
        ],
        # Unreachable is a warning: the queue holds the messages and the workers retry.
        f"{target}:responseTime": [
            _timed("component", svc.write_back.check, WRITE_BACK_WARN_MS, unreachable="warn")
        ],
        "workers:count": [
            _counted(
                "component",
                lambda: len(alive_workers(svc.redis)),
                "workers",
                lambda n: n < MIN_WORKERS,
            )
        ],
    }
    if svc.settings.mllp_enabled:
        checks["mllp:listeners"] = [
            _counted(
                "component",
                lambda: len(alive_listeners(svc.redis)),
                "listeners",
                lambda n: n < MIN_LISTENERS,
            )
        ]
    return checks | {
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


def _timed(kind: str, probe: Callable[[], object], warn_ms: float, *, unreachable: Status) -> Check:
    """The probe's latency (`warn` above `warn_ms`); `unreachable` when the probe raised."""
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # a health check reports the error; it never raises
        return _unavailable(kind, error, unreachable)
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
    except Exception as error:  # a check that cannot run fails; it never raises
        return _unavailable(kind, error, "fail")
    return {
        "componentType": kind,
        "observedValue": value,
        "observedUnit": unit,
        "status": "warn" if warns(value) else "pass",
        "time": _now(),
    }


def _unavailable(kind: str, error: Exception, status: Status) -> Check:
    # The type only: an error's text can hold a URL or a server's answer.
    return {
        "componentType": kind,
        "status": status,
        "output": type(error).__name__,
        "time": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
