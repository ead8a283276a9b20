"""Heartbeat keys in Redis: a process says it is alive by refreshing a key with a TTL.

Used by the workers (`her2:worker:<name>`) and the MLLP listeners (`her2:mllp:<name>`), read by
`/health/ready`. A key lives three intervals, so a process that died (even by SIGKILL) drops
out of `alive` within three intervals; one that stops cleanly deletes its key at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import redis

from adapter.periodic import Periodic

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


class Heartbeat(Periodic):
    """Beats `key` every `interval_seconds` until `stop()`, which deletes it."""

    def __init__(self, client: redis.Redis, key: str, interval_seconds: int) -> None:
        def forget() -> None:  # a process stopping cleanly leaves at once, not after the TTL
            client.delete(key)

        super().__init__(
            "her2-heartbeat",
            interval_seconds,
            lambda: beat(client, key, interval_seconds),
            on_stop=forget,
        )

    def start(self) -> Heartbeat:
        super().start()
        return self
