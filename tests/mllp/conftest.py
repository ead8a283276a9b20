"""Real parts for the MLLP tests: the machine's Redis on a database of our own (picked with a
file lock as tests/integration does, flushed), the listener on a free port in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from adapter.job_store import JobStore
from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings
from adapter.metrics import Metrics
from adapter.mllp.frames import ListenerServices
from adapter.mllp.senders import SenderPolicy
from adapter.queue import make_celery
from adapter.settings import Settings
from tests.integration.conftest import redis_db, redis_url  # noqa: F401 - fixtures
from tests.mllp.support import ListenerThread, running


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return default_mappings()


@pytest.fixture
def settings(redis_db: redis.Redis, redis_url: str) -> Settings:  # noqa: F811
    redis_db.flushdb()
    return Settings(redis_url=redis_url)


def services_for(
    settings: Settings,
    client: redis.Redis,
    mappings: Mappings,
    *,
    senders: SenderPolicy | None = None,
) -> ListenerServices:
    return ListenerServices(
        mappings=mappings,
        celery=make_celery(settings),
        jobs=JobStore(client, settings.job_retention_seconds),
        metrics=Metrics(client),
        senders=senders or SenderPolicy(),
    )


@pytest.fixture
def services(
    settings: Settings,
    redis_db: redis.Redis,  # noqa: F811
    mappings: Mappings,
) -> ListenerServices:
    return services_for(settings, redis_db, mappings)


@pytest.fixture
def listener(services: ListenerServices) -> Iterator[ListenerThread]:
    with running(services) as running_listener:
        yield running_listener
