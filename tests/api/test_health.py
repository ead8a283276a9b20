"""`/health/ready` in-process (TestClient) against the tests' real Redis: what it costs.

`test_health_process.py` drives the states (pass, warn, fail) through real processes.
"""

from __future__ import annotations

from typing import Any, Final

import redis

from tests.api.conftest import AUTH, REDIS_URL, TestClient

MARK: Final = "health-commands-end"
SCANS: Final = frozenset({"KEYS", "SCAN"})


def commands_of_one_ready(client: TestClient, redis_db: redis.Redis) -> list[str]:
    """The Redis commands (names, in order) one `/health/ready` sent to the tests' database,
    as Redis's MONITOR saw them (commands of server-side scripts included)."""
    db = redis_db.connection_pool.connection_kwargs["db"]
    watcher = redis.Redis.from_url(REDIS_URL)
    try:
        with watcher.monitor() as monitor:
            assert client.get("/health/ready", headers=AUTH).status_code == 200
            redis_db.echo(MARK)
            seen: list[dict[str, Any]] = []
            while not (seen and seen[-1]["command"] == f"ECHO {MARK}"):
                seen.append(monitor.next_command())
    finally:
        watcher.close()
    return [c["command"].split()[0].upper() for c in seen[:-1] if c["db"] == db]


def test_ready_costs_the_same_whatever_the_keyspace_holds(
    client: TestClient, redis_db: redis.Redis
) -> None:
    commands_of_one_ready(client, redis_db)  # connections opened, scripts loaded
    empty = commands_of_one_ready(client, redis_db)
    pipe = redis_db.pipeline(transaction=False)
    for n in range(20_000):  # a keyspace as 90 days of cases leave it, in small
        pipe.set(f"her2:case-input:{n:032x}", "h", ex=600)
    pipe.execute()
    full = commands_of_one_ready(client, redis_db)

    assert SCANS.isdisjoint(full), full
    assert full == empty
