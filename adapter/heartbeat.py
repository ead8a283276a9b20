"""Heartbeat keys in Redis: a process says it is alive by refreshing a key with a TTL.

Used by the workers (`her2:worker:<name>`) and the MLLP listeners (`her2:mllp:<name>`), read by
`/health/ready`. A key lives three intervals, so a process that died (even by SIGKILL) drops
out of `alive` within three intervals; one that stops cleanly deletes its key at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Final

import redis

log = logging.getLogger("her2.heartbeat")
WORKER_PREFIX: Final = "her2:worker:"
LISTENER_PREFIX: Final = "her2:mllp:"


def beat(client: redis.Redis, key: str, interval_seconds: int) -> None:
    """Refresh `key` for three intervals."""
    client.set(key, datetime.now(UTC).isoformat(), ex=3 * interval_seconds)


def alive(client: redis.Redis, prefix: str) -> list[str]:
    """Names (the key without `prefix`) whose heartbeat has not expired."""
    names = (k.decode() if isinstance(k, bytes) else k for k in client.scan_iter(prefix + "*"))
    return sorted(name.removeprefix(prefix) for name in names)


def alive_listeners(client: redis.Redis) -> list[str]:
    """Names of the MLLP listeners whose heartbeat has not expired."""
    return alive(client, LISTENER_PREFIX)


class Heartbeat:
    """A daemon thread beating `key` every `interval_seconds` until `stop()` (which deletes it)."""

    def __init__(self, client: redis.Redis, key: str, interval_seconds: int) -> None:
        self._client = client
        self._key = key
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="her2-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                beat(self._client, self._key, self._interval)
            except redis.RedisError:
                log.warning("heartbeat not written: Redis unavailable")
            self._stop.wait(self._interval)
        try:
            self._client.delete(self._key)
        except redis.RedisError:
            return
