"""Redis with a replica and Sentinels (issue 15): every client finds the primary through the
Sentinels and follows a failover, and with REDIS_MIN_REPLICAS a job counts as accepted only
once a replica holds it. A local primary, replica and three Sentinels (the machine's
redis-server, tests/support/redis_sentinel.py); nothing mocked."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from adapter.api.app import create_app
from adapter.errors import QueueUnavailable
from adapter.job_store import PREFIX, JobState, JobStore
from adapter.mllp.frames import ListenerServices
from adapter.mllp.senders import SenderPolicy
from adapter.queue import QUEUE, InterpretJob, make_celery
from adapter.redis_client import Replication, redis_client
from adapter.settings import Settings
from tests.mllp.support import Client, msa, running
from tests.soak.failover import v2_message
from tests.support.processes import wait_for
from tests.support.redis_sentinel import SentinelCluster

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fhir"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    with SentinelCluster(tmp_path_factory.mktemp("sentinel")) as started:
        yield started


@pytest.fixture
def settings(cluster: SentinelCluster) -> Settings:
    return Settings(
        redis_sentinels=cluster.sentinels,
        redis_sentinel_service=cluster.service,
        redis_min_replicas=1,
        redis_replica_wait_ms=300,
    )


def a_job() -> InterpretJob:
    return InterpretJob(
        job_id=uuid.uuid4().hex, door="http", received_at=datetime.now(UTC), body="{}"
    )


def replica_port(cluster: SentinelCluster) -> int:
    primary = cluster.primary_port()
    return next(port for port in cluster.data_ports if port != primary)


def test_an_accepted_job_is_on_the_replica_when_the_door_answers(
    cluster: SentinelCluster, settings: Settings
) -> None:
    jobs = JobStore(redis_client(settings), 600, replication=Replication.of(settings))
    job = a_job()
    jobs.enqueue(make_celery(settings), job)
    replica = redis.Redis(port=replica_port(cluster))
    # WAIT returned: the replica already holds the record and the task, no polling needed.
    assert replica.hget(PREFIX + job.job_id, "state") == JobState.QUEUED.value.encode()
    assert replica.llen(QUEUE) >= 1


def test_without_a_replica_the_enqueue_is_refused_within_the_wait(
    cluster: SentinelCluster, settings: Settings
) -> None:
    jobs = JobStore(redis_client(settings), 600, replication=Replication.of(settings))
    replica = cluster.procs[replica_port(cluster)]
    os.kill(replica.pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="NotReplicated"):
            jobs.enqueue(make_celery(settings), a_job())
        assert time.monotonic() - started < 2.0  # bounded by REDIS_REPLICA_WAIT_MS (0.3 s)
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    jobs.enqueue(make_celery(settings), a_job())  # the replica is back: accepted again


def test_a_single_redis_needs_no_replica(cluster: SentinelCluster) -> None:
    single = Settings(redis_url=f"redis://127.0.0.1:{cluster.primary_port()}/1")
    client = redis_client(single)
    JobStore(client, 600, replication=Replication.of(single)).enqueue(make_celery(single), a_job())
    assert client.llen(QUEUE) == 1
    client.flushdb()


def test_every_client_follows_a_failover(cluster: SentinelCluster, settings: Settings) -> None:
    client = redis_client(settings)
    jobs = JobStore(client, 600, replication=Replication.of(settings))
    before = a_job()
    jobs.enqueue(make_celery(settings), before)
    _, new, promoted = cluster.fail_over()
    assert promoted < 30

    def accepted() -> bool:
        try:
            jobs.enqueue(make_celery(settings), a_job())
        except QueueUnavailable:
            return False
        return True

    wait_for(accepted, 30, "the same client to write to the promoted primary")
    assert jobs.get(before.job_id) is not None  # accepted before the failover: kept
    assert client.connection_pool.get_master_address()[1] == new  # type: ignore[attr-defined]


def test_the_broker_connects_through_the_sentinels(settings: Settings) -> None:
    app = make_celery(settings)
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=3)
        assert connection.transport_cls == "sentinel"


@contextlib.contextmanager
def replica_silent(cluster: SentinelCluster) -> Iterator[None]:
    """The replica SIGSTOPped: it acknowledges nothing until the block ends."""
    replica = cluster.procs[replica_port(cluster)]
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(replica.pid, signal.SIGCONT)


def test_the_http_door_answers_503_while_no_replica_confirms(
    cluster: SentinelCluster, settings: Settings, tmp_path: Path
) -> None:
    door = Settings(**{**settings.model_dump(), "adapter_api_keys": "k", "sink_dir": tmp_path})
    body = (EXAMPLES / "breast-ihc2plus-ish-group1.json").read_bytes()
    headers = {"Authorization": "Bearer k", "Content-Type": "application/fhir+json"}
    with TestClient(create_app(door), raise_server_exceptions=False) as api:
        with replica_silent(cluster):
            refused = api.post("/fhir", content=body, headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert api.post("/fhir", content=body, headers=headers).status_code == 202


def test_the_mllp_door_answers_ar_while_no_replica_confirms(
    cluster: SentinelCluster, settings: Settings
) -> None:
    services = ListenerServices.from_settings(settings, SenderPolicy())
    message = v2_message("REPL-1", "ACC-REPL-1")
    try:
        with running(services) as listener:
            with replica_silent(cluster), Client(listener.port) as mllp:
                assert msa(mllp.ack(message))[1] == "AR"
            with Client(listener.port) as mllp:
                assert msa(mllp.ack(message))[1] == "AA"
    finally:
        services.close()


@pytest.fixture(autouse=True)
def _clean(cluster: SentinelCluster, tmp_path: Path) -> Iterator[None]:  # noqa: ARG001
    yield
    redis.Redis(port=cluster.primary_port()).flushdb()
