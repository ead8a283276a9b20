"""Heartbeats in Redis: a process says it is alive by beating; readers count the live ones
without scanning the keyspace.

Workers (`WORKERS`) and MLLP listeners (`LISTENERS`) beat; `/health/ready` reads. One beat is
one server-side script that writes:

`her2:heartbeats:<kind>`, a sorted set: process name -> the instant its beat lapses (three
intervals on, by the Redis server's clock, so hosts whose clocks differ agree), and
`her2:heartbeats:<kind>:last`, a hash: process name -> the instant of its last beat (for the
operations console). `alive` drops the lapsed names from both and returns the rest: its cost
grows with the number of processes, never with the keyspace (case keys alone live 90 days; a
SCAN would walk them all). Both expire with the longest-lived beat. The compose file's health
checks read it too (`her2-adapter alive`).

A process that dies (even by SIGKILL) drops out within three intervals; one that stops cleanly
(`Heartbeat.stop`) is removed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import redis

from adapter.periodic import Periodic
from adapter.redis_client import lua_keep_alive_at_least

BEATS_PER_LIFE: Final = 3  # a name lapses after three intervals without a beat
# KEYS: registry, last beats. ARGV: name, seconds to live.
_BEAT: Final = f"""
local now = redis.call('TIME')
local instant = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZADD', KEYS[1], instant + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], tostring(instant))
{lua_keep_alive_at_least("KEYS[1]", "ARGV[2]")}
{lua_keep_alive_at_least("KEYS[2]", "ARGV[2]")}
return 1
"""
# KEYS: registry, last beats. Returns the names whose beat has not lapsed, after dropping the
# others from both.
_ALIVE: Final = """
local now = redis.call('TIME')
local instant = tonumber(now[1]) + tonumber(now[2]) / 1e6
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', instant)
if #lapsed > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', instant)
  redis.call('HDEL', KEYS[2], unpack(lapsed))
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of process that beats: where its registry and its per-process keys live."""

    name: str

    @property
    def registry(self) -> str:
        return f"her2:heartbeats:{self.name}"

    @property
    def last_beats(self) -> str:
        return f"her2:heartbeats:{self.name}:last"


WORKERS: Final = Kind("worker")
LISTENERS: Final = Kind("mllp")
KINDS: Final = {kind.name: kind for kind in (WORKERS, LISTENERS)}


def beat(client: redis.Redis, kind: Kind, process: str, interval_seconds: int) -> None:
    """Say `process` is alive for the next three intervals."""
    ttl = BEATS_PER_LIFE * interval_seconds
    client.register_script(_BEAT)(keys=[kind.registry, kind.last_beats], args=[process, ttl])


def alive(client: redis.Redis, kind: Kind) -> list[str]:
    """Names of the processes of `kind` whose beat has not lapsed, sorted."""
    names = client.register_script(_ALIVE)(keys=[kind.registry, kind.last_beats])
    return sorted(_text(n) for n in names)


def last_beats(client: redis.Redis, kind: Kind) -> dict[str, datetime]:
    """The live processes of `kind`, each with the instant of its last beat (Redis's clock)."""
    names = alive(client, kind)
    instants = client.hmget(kind.last_beats, names) if names else []
    return {
        name: datetime.fromtimestamp(float(instant), UTC)
        for name, instant in zip(names, instants, strict=True)
        if instant is not None
    }


def forget(client: redis.Redis, kind: Kind, process: str) -> None:
    """Remove `process` at once (it stopped cleanly)."""
    pipe = client.pipeline(transaction=True)
    pipe.zrem(kind.registry, process)
    pipe.hdel(kind.last_beats, process)
    pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def alive_listeners(client: redis.Redis) -> list[str]:
    """Names of the MLLP listeners whose heartbeat has not lapsed."""
    return alive(client, LISTENERS)


def alive_workers(client: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat has not lapsed."""
    return alive(client, WORKERS)


class Heartbeat(Periodic):
    """Beats for `process` every `interval_seconds` until `stop()`, which forgets it."""

    def __init__(
        self, client: redis.Redis, kind: Kind, process: str, interval_seconds: int
    ) -> None:
        super().__init__(
            "her2-heartbeat",
            interval_seconds,
            lambda: beat(client, kind, process, interval_seconds),
            on_stop=lambda: forget(client, kind, process),
        )

    def start(self) -> Heartbeat:
        super().start()
        return self
