"""A heartbeat per worker process in Redis, read by `/health/ready`.

Key `her2:worker:<hostname>` with a TTL of 3 heartbeats (`adapter.heartbeat`): a worker that
died (even by SIGKILL) disappears from `alive_workers` within three intervals. The beat runs in
a daemon thread of the worker's main process, started and stopped by Celery's worker signals.
"""

from __future__ import annotations

from typing import Any, Final

import redis
from celery import signals

from adapter import heartbeat
from adapter.redis_client import redis_client
from adapter.settings import get_settings

PREFIX: Final = heartbeat.WORKER_PREFIX
_beats: list[heartbeat.Heartbeat] = []


def beat(client: redis.Redis, name: str, interval_seconds: int) -> None:
    heartbeat.beat(client, PREFIX + name, interval_seconds)


def alive_workers(client: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat has not expired."""
    return heartbeat.alive(client, PREFIX)


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start(sender: Any = None, **_: Any) -> None:
    name = getattr(sender, "hostname", None) or "worker"
    settings = get_settings()
    client = redis_client(settings)
    _beats.append(
        heartbeat.Heartbeat(client, PREFIX + name, settings.worker_heartbeat_seconds).start()
    )


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_beat(**_: Any) -> None:
    """A worker shutting down says so at once (its key is deleted), not after the TTL."""
    for beating in _beats:
        beating.stop()
