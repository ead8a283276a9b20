"""What starts and stops with a worker: its heartbeat and the outbox sweeper (two timer threads
of the worker's main process), on Celery's worker signals.

The heartbeat (kind `worker` of `adapter.heartbeat`, named by the worker's hostname) lets
`/health/ready` count live workers; a worker that died, even by SIGKILL, drops out within three
intervals, one that shuts down at once. The sweeper is `adapter.service.sweeper`.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from adapter.heartbeat import WORKERS, Heartbeat
from adapter.periodic import Periodic
from adapter.queue import make_celery
from adapter.redis_client import redis_client
from adapter.service.sweeper import sweep_interval, sweep_once
from adapter.settings import get_settings

_running: list[Periodic] = []


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start(sender: Any = None, **_: Any) -> None:
    settings = get_settings()
    client, app = redis_client(settings), make_celery(settings)
    name = getattr(sender, "hostname", None) or "worker"
    _running.append(Heartbeat(client, WORKERS, name, settings.worker_heartbeat_seconds).start())

    def sweep() -> None:
        sweep_once(client, app, settings)

    _running.append(
        Periodic("her2-sweeper", sweep_interval(settings), sweep, first_now=False).start()
    )


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop(**_: Any) -> None:
    """A worker shutting down says so at once (its beat is forgotten), not after the TTL."""
    for running in _running:
        running.stop()
