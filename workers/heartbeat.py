"""A heartbeat per worker process in Redis, read by `/health/ready`.

Kind `worker` of `adapter.heartbeat`, named by the worker's hostname: a worker that died (even
by SIGKILL) disappears from `alive_workers` within three intervals. The beat runs in a daemon
thread of the worker's main process, started and stopped by Celery's worker signals.
"""

from __future__ import annotations

from typing import Any

import redis
from celery import signals

from adapter import heartbeat
from adapter.redis_client import redis_client
from adapter.settings import get_settings

_beats: list[heartbeat.Heartbeat] = []


def alive_workers(client: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat has not expired."""
    return heartbeat.alive(client, heartbeat.WORKERS)


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start(sender: Any = None, **_: Any) -> None:
    name = getattr(sender, "hostname", None) or "worker"
    settings = get_settings()
    client = redis_client(settings)
    _beats.append(
        heartbeat.Heartbeat(
            client, heartbeat.WORKERS, name, settings.worker_heartbeat_seconds
        ).start()
    )


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_beat(**_: Any) -> None:
    """A worker shutting down says so at once (its key is deleted), not after the TTL."""
    for beating in _beats:
        beating.stop()
