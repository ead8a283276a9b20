"""The one way a process opens Redis: from `Settings.redis_url`, with short timeouts.

Short timeouts make a Redis outage an error within a second or two (the API answers 503, the
worker retries) instead of a request hanging on a dead socket.
"""

from __future__ import annotations

import redis

from adapter.settings import Settings

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
HEALTH_CHECK_INTERVAL_SECONDS = 15


def redis_client(settings: Settings) -> redis.Redis:
    """A client for `settings.redis_url` (not yet connected); raises ValueError when unset."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: the queue, the case store and the workers need it")
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=READ_TIMEOUT_SECONDS,
        health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        retry_on_timeout=False,
    )


def lua_keep_alive_at_least(key: str, seconds: str) -> str:
    """A Lua statement for a server-side script: `key` (a Lua expression such as `KEYS[2]`)
    lives at least `seconds` more, keeping a longer TTL it already has, so an index outlives
    every entry it holds even when a retention setting was shortened (EXPIRE's GT option would
    say this, but needs Redis 7; the demo's embedded Redis is 6.2)."""
    return (
        f"if redis.call('TTL', {key}) < tonumber({seconds}) then "
        f"redis.call('EXPIRE', {key}, {seconds}) end"
    )
