"""Heartbeats (adapter/heartbeat.py) against real Redis: a beat lapses by the server's clock
after three intervals, a clean stop is seen at once, and nothing is left behind."""

from __future__ import annotations

import redis

from adapter.heartbeat import LISTENERS, WORKERS, Heartbeat, alive, beat, forget
from tests.support.processes import wait_for


def test_a_beat_lapses_after_three_intervals_and_leaves_no_key(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    beat(redis_db, WORKERS, "w-lapsing", 1)
    beat(redis_db, LISTENERS, "l-other-kind", 60)
    assert alive(redis_db, WORKERS) == ["w-lapsing"]

    wait_for(lambda: not alive(redis_db, WORKERS), 10, "the beat to lapse")
    assert alive(redis_db, LISTENERS) == ["l-other-kind"]
    # the registry expires with the last beat
    wait_for(lambda: not redis_db.exists(WORKERS.registry), 10, "the registry to expire")


def test_a_clean_stop_is_seen_at_once(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    beating = Heartbeat(redis_db, LISTENERS, "l-stopping", 60).start()
    wait_for(lambda: alive(redis_db, LISTENERS) == ["l-stopping"], 10, "the first beat")
    beat(redis_db, LISTENERS, "l-staying", 60)

    beating.stop()
    assert alive(redis_db, LISTENERS) == ["l-staying"]
    forget(redis_db, LISTENERS, "l-staying")
    assert alive(redis_db, LISTENERS) == []
