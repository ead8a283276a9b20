"""The resources the API's routes share, built once in the lifespan from the settings.

Nothing here is built at import: `create_app(settings)` builds a `ApiServices` when the server
starts and closes it when the server stops, so tests and the demo can run several apps with
different settings in one process.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from fastapi import Request

from adapter.api.auth import ApiKeys
from adapter.api.capability import capability_statement
from adapter.api.console_session import ConsoleSessions
from adapter.backfill_store import BackfillStore
from adapter.dead_letters import DeadLetterQueue
from adapter.fhir_server import DirectorySink, FhirServer, write_back_target
from adapter.job_store import JobStore
from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings
from adapter.metrics import Metrics
from adapter.queue import make_celery
from adapter.recent_cases import RecentCases
from adapter.redis_client import redis_client
from adapter.service.console import Stores
from adapter.settings import Settings


@dataclass(frozen=True, slots=True)
class ApiServices:
    settings: Settings
    redis: redis.Redis
    celery: Celery
    jobs: JobStore
    metrics: Metrics
    dead_letters: DeadLetterQueue
    mappings: Mappings
    keys: ApiKeys
    write_back: FhirServer | DirectorySink
    capability: dict[str, Any]
    console: Stores
    sessions: ConsoleSessions

    @classmethod
    def build(cls, settings: Settings) -> ApiServices:
        """Build every shared resource; raises MappingError when mappings/ is malformed.
        Connections are opened lazily, so a broker that is down does not stop start-up."""
        client = redis_client(settings)
        jobs = JobStore(client, settings.job_retention_seconds)
        metrics = Metrics(client)
        dead_letters = DeadLetterQueue(client, settings.dead_letter_retention_seconds)
        keys = ApiKeys(settings.api_keys, demo_mode=settings.adapter_demo_mode)
        write_back = write_back_target(settings)
        configured = settings.console_session_secret
        secret = configured.get_secret_value().encode() if configured else secrets.token_bytes(32)
        return cls(
            settings=settings,
            redis=client,
            celery=make_celery(settings),
            jobs=jobs,
            metrics=metrics,
            dead_letters=dead_letters,
            mappings=default_mappings(),
            keys=keys,
            write_back=write_back,
            capability=capability_statement(settings),
            console=Stores(
                redis=client,
                metrics=metrics,
                jobs=jobs,
                dead_letters=dead_letters,
                recent=RecentCases(client, settings.case_retention_seconds),
                backfills=BackfillStore(client),
                write_back=write_back,
                mllp_enabled=settings.mllp_enabled,
            ),
            sessions=ConsoleSessions(client, keys, secret, settings.console_session_seconds),
        )

    def close(self) -> None:
        self.celery.close()
        close = getattr(self.write_back, "close", None)
        if callable(close):
            close()
        self.redis.close()


def services(request: Request) -> ApiServices:
    """FastAPI dependency: the app's ApiServices."""
    built: ApiServices = request.app.state.services
    return built
