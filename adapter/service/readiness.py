"""Readiness: can this deployment take messages now? Each dependency checked, with its state.

Redis is needed to accept (the queue, the job records): unreachable is `fail`. Everything else
degrades without refusing messages and is `warn`: the write-back target unreachable or slow
(accepted messages wait in the queue and the workers retry), no live worker, no live MLLP
listener where the v2 door is deployed (`MLLP_ENABLED`), a long queue, any dead letter (until it
is replayed or discarded). README "Health" says, for each check, what its states mean and what
the on-call engineer does. `/health/ready` renders it (application/health+json); the
operations console shows it.

Every Redis command here costs the same whatever the keyspace holds (heartbeat registries,
LLEN, the dead-letter index's ZCARD): `tests/api/test_health.py` checks it with MONITOR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, Literal

import redis

from adapter.broker import queue_depth
from adapter.dead_letters import DeadLetterQueue
from adapter.fhir_server import DirectorySink, FhirServer
from adapter.heartbeat import alive_listeners, alive_workers

REDIS_WARN_MS: Final = 100.0
WRITE_BACK_WARN_MS: Final = 1000.0
QUEUE_DEPTH_WARN: Final = 1000
DEAD_LETTERS_WARN: Final = 1
MIN_WORKERS: Final = 1
MIN_LISTENERS: Final = 1

Check = dict[str, Any]
Status = Literal["pass", "warn", "fail"]


def overall(checks: dict[str, list[Check]]) -> Status:
    """`fail` when any check fails, else `warn` when any warns, else `pass`."""
    statuses = {check[0]["status"] for check in checks.values()}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def readiness_checks(
    client: redis.Redis,
    write_back: FhirServer | DirectorySink,
    dead_letters: DeadLetterQueue,
    *,
    mllp_enabled: bool,
) -> dict[str, list[Check]]:
    """Every dependency's check, each run whatever the others gave."""
    target = "directory-sink" if isinstance(write_back, DirectorySink) else "fhir-server"
    checks = {
        "redis:responseTime": [_timed("datastore", client.ping, REDIS_WARN_MS, unreachable="fail")],
        # Unreachable is a warning: the queue holds the messages and the workers retry.
        f"{target}:responseTime": [
            _timed("component", write_back.check, WRITE_BACK_WARN_MS, unreachable="warn")
        ],
        "workers:count": [
            _counted(
                "component",
                lambda: len(alive_workers(client)),
                "workers",
                lambda n: n < MIN_WORKERS,
            )
        ],
    }
    if mllp_enabled:
        checks["mllp:listeners"] = [
            _counted(
                "component",
                lambda: len(alive_listeners(client)),
                "listeners",
                lambda n: n < MIN_LISTENERS,
            )
        ]
    return checks | {
        "queue:depth": [
            _counted(
                "datastore",
                lambda: queue_depth(client),
                "messages",
                lambda n: n >= QUEUE_DEPTH_WARN,
            )
        ],
        "dead-letters:count": [
            _counted("datastore", dead_letters.size, "messages", lambda n: n >= DEAD_LETTERS_WARN)
        ],
    }


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
