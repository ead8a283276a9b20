"""What the operations console shows, gathered from the stores (the page renders it).

Flow (`adapter.service.flow`), Now (readiness with what each check means, the queue's depth and
the age of its oldest pending job, the live workers and MLLP listeners with their last beat),
the dead letters, the recent cases (`adapter.recent_cases`) and the backfills. Replay and
discard are `DeadLetterQueue.replay` / `discard`, the functions `her2-adapter dlq` runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import redis

from adapter.backfill_store import BackfillProgress, BackfillStore
from adapter.dead_letters import DeadLetter, DeadLetterQueue
from adapter.fhir_server import DirectorySink, FhirServer
from adapter.heartbeat import LISTENERS, WORKERS, last_beats
from adapter.job_store import JobStore
from adapter.metrics import Metrics
from adapter.recent_cases import RecentCase, RecentCases
from adapter.service.flow import WINDOWS, DoorFlow, door_flows
from adapter.service.readiness import Check, overall, readiness_checks

# What each readiness check means, for the person reading the page (README "Health").
MEANINGS: Final = {
    "redis": "Redis holds the queue, the jobs and the cases: without it nothing is accepted",
    "fhir-server": "where reports are written; while it is away, jobs wait and are retried",
    "directory-sink": "where reports are written (a directory: no FHIR server configured)",
    "workers": "live workers; with none, accepted messages wait in the queue",
    "mllp": "live MLLP listeners; with none, the HL7 v2 feed is not received",
    "queue": "tasks waiting in the queue; a long queue means workers are behind or stopped",
    "dead-letters": "jobs that failed for good; replay or discard them below",
}


@dataclass(frozen=True, slots=True)
class Stores:
    """The stores and targets the console reads (the API's own, shared)."""

    redis: redis.Redis
    metrics: Metrics
    jobs: JobStore
    dead_letters: DeadLetterQueue
    recent: RecentCases
    backfills: BackfillStore
    write_back: FhirServer | DirectorySink
    mllp_enabled: bool


@dataclass(frozen=True, slots=True)
class Readiness:
    name: str  # the check's name in /health/ready
    meaning: str
    check: Check


@dataclass(frozen=True, slots=True)
class Now:
    status: str  # pass, warn, fail
    checks: tuple[Readiness, ...]
    oldest_pending_seconds: float | None  # None: nothing is pending
    workers: dict[str, datetime]  # live process name -> its last beat
    listeners: dict[str, datetime]


@dataclass(frozen=True, slots=True)
class ConsoleView:
    window: str  # "hour" or "day"
    flows: list[DoorFlow]
    now: Now
    dead_letters: list[DeadLetter]
    cases: list[RecentCase]
    accession: str  # the search, "" for the latest cases
    backfills: list[BackfillProgress]


def console_view(stores: Stores, window: str, accession: str = "") -> ConsoleView:
    """Everything the page shows, read now. `window` is a key of `WINDOWS`."""
    minutes, per_point = WINDOWS[window]
    now = time.time()
    return ConsoleView(
        window=window,
        flows=door_flows(stores.metrics.totals(), stores.metrics.minutes(minutes, now), per_point),
        now=_now(stores, now),
        dead_letters=stores.dead_letters.list(),
        cases=stores.recent.search(accession) if accession else stores.recent.recent(),
        accession=accession,
        backfills=stores.backfills.recent(),
    )


def _now(stores: Stores, now: float) -> Now:
    checks = readiness_checks(
        stores.redis, stores.write_back, stores.dead_letters, mllp_enabled=stores.mllp_enabled
    )
    oldest = stores.jobs.oldest_pending()
    return Now(
        status=overall(checks),
        checks=tuple(
            Readiness(name, MEANINGS.get(name.split(":")[0], ""), found[0])
            for name, found in checks.items()
        ),
        oldest_pending_seconds=max(0.0, now - oldest) if oldest is not None else None,
        workers=last_beats(stores.redis, WORKERS),
        listeners=last_beats(stores.redis, LISTENERS),
    )


def outcome_issues(letter: DeadLetter) -> list[dict[str, Any]]:
    """The dead letter's OperationOutcome issues (severity, code, diagnostics, expression)."""
    issues = letter.outcome.get("issue") or []
    return [issue for issue in issues if isinstance(issue, dict)]
