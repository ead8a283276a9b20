"""Real parts for the worker's integration tests (STYLE.md R20): the machine's Redis on a
database of our own (flushed before and after), the local FHIR R4 test server, and real
`her2-adapter worker` processes. A missing service fails the run; nothing is mocked.

The FHIR test server runs with strict references, as HAPI FHIR does by default: a report naming
an input the server does not hold is refused. So `send` stores a message's resources on the
server before it queues the message, as an EHR holds its results before it notifies the
adapter (`stored=False`: a message sent before its results were stored)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import celery
import pytest
import redis

from adapter.job_store import JobRecord, JobState, JobStore
from adapter.queue import InterpretJob, make_celery
from adapter.settings import Settings
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.processes import WorkerProcess, wait_for
from tests.support.redis_db import TEST_REDIS, emptied, redis_url_for_tests

# Our own Redis databases: the first one no other test run on this machine holds (a file lock),
# so two runs of this suite never flush each other's queue. TEST_WORKER_REDIS_DB forces one.
REDIS_DBS = (11, 13, 14, 15)
VISIBILITY_TIMEOUT = 6  # short, so a killed worker's job comes back within the test
BACKOFF_MAX = 2  # retries wait 1-2 s: far below the visibility timeout (Settings checks it)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    forced = os.environ.get("TEST_WORKER_REDIS_DB")
    for db in (int(forced),) if forced else REDIS_DBS:
        # One lock per Redis server and database: runs on other servers (TEST_REDIS) never wait.
        name = f"her2-worker-tests-redis-{TEST_REDIS.replace(':', '-')}-db{db}.lock"
        handle = Path(tempfile.gettempdir(), name).open("w")  # noqa: SIM115 - held for the session
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield redis_url_for_tests(db)
        finally:
            handle.close()
        return
    raise RuntimeError(f"every test Redis database {REDIS_DBS} is in use by another test run")


@pytest.fixture(scope="session")
def redis_db(redis_url: str) -> Iterator[redis.Redis]:
    with emptied(redis_url) as client:
        yield client


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirTestServer]:
    with FhirTestServer(free_port(), strict=True, quiet=True) as server:
        yield server


@pytest.fixture
def settings(redis_db: redis.Redis, redis_url: str, fhir_server: FhirTestServer) -> Settings:
    redis_db.flushdb()
    fhir_server.reset()
    return Settings(
        redis_url=redis_url,
        fhir_server_url=fhir_server.base_url,
        visibility_timeout_seconds=VISIBILITY_TIMEOUT,
        retry_backoff_max_seconds=BACKOFF_MAX,
        max_retries=30,
        fhir_timeout_seconds=3.0,
    )


@pytest.fixture
def app(settings: Settings) -> celery.Celery:
    return make_celery(settings)


@pytest.fixture
def jobs(redis_db: redis.Redis, settings: Settings) -> JobStore:
    return JobStore(redis_db, settings.job_retention_seconds)


@pytest.fixture
def worker_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FHIR_", "REDIS_"))}
    env.update(
        REDIS_URL=str(settings.redis_url),
        FHIR_SERVER_URL=str(settings.fhir_server_url),
        VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT),
        RETRY_BACKOFF_MAX_SECONDS=str(BACKOFF_MAX),
        MAX_RETRIES="30",
        FHIR_TIMEOUT_SECONDS="3",
        WORKER_CONCURRENCY="2",
        WORKER_HEARTBEAT_SECONDS="1",
        SINK_DIR=str(tmp_path / "sink"),
    )
    return env


@pytest.fixture
def start_worker(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**overrides: str | None) -> WorkerProcess:
        env = dict(worker_env)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    return start_worker()


def make_job(message: dict[str, Any] | str, *, job_id: str | None = None) -> InterpretJob:
    body = message if isinstance(message, str) else json.dumps(message, default=float)
    return InterpretJob(
        job_id=job_id or uuid.uuid4().hex,
        door="http",
        received_at=datetime.now(UTC),
        body=body,
    )


def ehr_holds(server: FhirTestServer, *resources: dict[str, Any]) -> None:
    """PUT `resources` on the FHIR server in one transaction, as the EHR's own records."""
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in resources
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = server.client().post("", content=json.dumps(bundle, default=float))
    assert response.status_code == 200, response.text


@pytest.fixture
def send(
    app: celery.Celery, jobs: JobStore, fhir_server: FhirTestServer
) -> Callable[..., InterpretJob]:
    """Queue a message as the API does, its resources stored on the FHIR server first."""

    def send_(
        message: dict[str, Any] | str, *, job_id: str | None = None, stored: bool = True
    ) -> InterpretJob:
        if stored and isinstance(message, dict):
            bundled = message.get("resourceType") == "Bundle"
            resources = [e.get("resource") for e in message["entry"]] if bundled else [message]
            held = [r for r in resources if r and r.get("id")]
            if held:
                ehr_holds(fhir_server, *held)
        job = make_job(message, job_id=job_id)
        jobs.enqueue(app, job)
        return job

    return send_


@pytest.fixture
def settled(jobs: JobStore) -> Callable[..., JobRecord]:
    """Wait until a job is done or failed (bounded polling) and return its record."""

    def settled_(
        job: InterpretJob, timeout: float = 60.0, state: JobState | None = None
    ) -> JobRecord:
        def probe() -> JobRecord | None:
            record = jobs.get(job.job_id)
            if record is None or record.state is JobState.QUEUED:
                return None
            if state is not None and record.state is not state:
                return None
            return record

        record: JobRecord = wait_for(probe, timeout, f"job {job.job_id} to settle")
        return record

    return settled_
