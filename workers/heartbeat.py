"""A heartbeat per worker process in Redis, read by `/health/ready`.

Key `her2:worker:<hostname>` with a TTL of 3 heartbeats: a worker that died (even by SIGKILL)
disappears from `alive_workers` within three intervals. The beat runs in a daemon thread of the
worker's main process, started and stopped by Celery's worker signals.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, Final

import redis
from celery import signals

from adapter.redis_client import redis_client
from adapter.settings import get_settings

PREFIX: Final = "her2:worker:"
log = logging.getLogger("her2.worker.heartbeat")
_stop = threading.Event()


def beat(client: redis.Redis, name: str, interval_seconds: int) -> None:
    client.set(PREFIX + name, datetime.now(UTC).isoformat(), ex=3 * interval_seconds)


def alive_workers(client: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat has not expired."""
    names = (k.decode() if isinstance(k, bytes) else k for k in client.scan_iter(PREFIX + "*"))
    return sorted(name.removeprefix(PREFIX) for name in names)


def _run(name: str) -> None:
    settings = get_settings()
    client = redis_client(settings)
    interval = settings.worker_heartbeat_seconds
    while not _stop.is_set():
        try:
            beat(client, name, interval)
        except redis.RedisError:
            log.warning("heartbeat not written: Redis unavailable", extra={"worker": name})
        _stop.wait(interval)
    try:
        client.delete(PREFIX + name)
    except redis.RedisError:
        return


_thread: list[threading.Thread] = []


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start(sender: Any = None, **_: Any) -> None:
    name = getattr(sender, "hostname", None) or "worker"
    _stop.clear()
    thread = threading.Thread(target=_run, args=(name,), name="her2-heartbeat", daemon=True)
    _thread.append(thread)
    thread.start()


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_beat(**_: Any) -> None:
    """A worker shutting down says so at once (its key is deleted), not after the TTL."""
    _stop.set()
    for thread in _thread:
        thread.join(timeout=5)
