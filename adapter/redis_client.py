"""The one way a process opens Redis: from `Settings.redis_url`, or through the Sentinels of
`REDIS_SENTINELS` (the client asks them for the primary, and again after a failover), with
short timeouts; and how a write is confirmed replicated (`REDIS_MIN_REPLICAS`).

Short timeouts make a Redis outage an error within a second or two (the API answers 503, the
worker retries) instead of a request hanging on a dead socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import redis
import redis.sentinel

from adapter.settings import Settings

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
HEALTH_CHECK_INTERVAL_SECONDS = 15


class NotReplicated(redis.RedisError):
    """The primary took a write but fewer replicas than REDIS_MIN_REPLICAS confirmed it within
    REDIS_REPLICA_WAIT_MS: a failover now could lose it."""


def redis_client(settings: Settings) -> redis.Redis:
    """A client for `settings.redis_url`, or for the primary the Sentinels name (not yet
    connected); raises ValueError when neither is set."""
    if not settings.redis_configured:
        raise ValueError("REDIS_URL is not set: the queue, the case store and the workers need it")
    timeouts: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": READ_TIMEOUT_SECONDS,
        "health_check_interval": HEALTH_CHECK_INTERVAL_SECONDS,
        "retry_on_timeout": False,
    }
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.redis_url or "", **timeouts)
    sentinels = redis.sentinel.Sentinel(
        settings.sentinel_addresses,
        sentinel_kwargs={
            "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )
    password, db = _password_and_db(settings.redis_url)
    primary: redis.Redis = sentinels.master_for(
        settings.redis_sentinel_service or "", password=password, db=db, **timeouts
    )
    return primary


def broker_url(settings: Settings) -> str:
    """Celery's broker URL: REDIS_URL, or kombu's `sentinel://` form naming every Sentinel
    (the service name goes in the transport options: `broker_transport_options`)."""
    if not settings.redis_sentinels:
        return settings.redis_url or ""
    password, db = _password_and_db(settings.redis_url)
    auth = f":{quote(password, safe='')}@" if password else ""
    return ";".join(f"sentinel://{auth}{h}:{p}/{db}" for h, p in settings.sentinel_addresses)


@dataclass(frozen=True, slots=True)
class Replication:
    """How many replicas must hold a write before it counts (REDIS_MIN_REPLICAS; 0: the
    primary's answer suffices) and how long to wait for them (REDIS_REPLICA_WAIT_MS)."""

    replicas: int = 0
    wait_ms: int = 1000

    @classmethod
    def of(cls, settings: Settings) -> Replication:
        return cls(settings.redis_min_replicas, settings.redis_replica_wait_ms)

    def execute(self, pipe: redis.client.Pipeline) -> None:
        """Execute a MULTI pipeline and, when replicas are required, a WAIT for them in the
        same round trip; raises NotReplicated when fewer confirmed in time (the primary holds
        the write: a sender told to send again may repeat a message, never lose one), or any
        Redis error.

        WAIT cannot go inside the MULTI (there it never blocks), and redis-py's transaction
        pipeline sends nothing after EXEC; so the queued commands are sent here on one of the
        client's connections as MULTI, the commands, EXEC, WAIT, and their replies read in
        order. A connection left mid-reply by an error is dropped, never reused."""
        if not self.replicas:
            pipe.execute()
            return
        commands = [args for args, _ in pipe.command_stack]
        pipe.reset()
        pool = pipe.connection_pool
        connection: Any = pool.get_connection()  # redis-py's Connection is untyped
        try:
            connection.send_packed_command(
                connection.pack_commands(
                    [("MULTI",), *commands, ("EXEC",), ("WAIT", self.replicas, self.wait_ms)]
                )
            )
            replies = [connection.read_response() for _ in range(len(commands) + 3)]
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        for reply in replies[-2] or ():  # EXEC's: one reply per command, errors among them
            if isinstance(reply, redis.ResponseError):
                raise reply
        self.check(replies[-1])

    def wait_after(self, pipe: redis.client.Pipeline) -> None:
        """Append to `pipe` (a pipeline without MULTI) a WAIT for the replicas to hold
        everything written before it, so the confirmation costs no round trip of its own;
        nothing when none are required. `check` judges its reply (the pipeline's last)."""
        if self.replicas:
            untyped: Any = pipe  # redis-py's execute_command is untyped
            untyped.execute_command("WAIT", self.replicas, self.wait_ms)

    def check(self, confirmed: Any) -> None:
        """Raises NotReplicated when `confirmed` (WAIT's reply) is below the replicas required."""
        if int(confirmed) < self.replicas:
            raise NotReplicated(
                f"{confirmed} of {self.replicas} replicas confirmed in {self.wait_ms} ms"
            )


def _password_and_db(url: str | None) -> tuple[str | None, int]:
    """The password and database number a REDIS_URL gives (beside Sentinels: its host and
    port are not used)."""
    if not url:
        return None, 0
    parts = urlsplit(url)
    path = parts.path.strip("/")
    return parts.password, int(path) if path.isdigit() else 0


def lua_keep_alive_at_least(key: str, seconds: str) -> str:
    """A Lua statement for a server-side script: `key` (a Lua expression such as `KEYS[2]`)
    lives at least `seconds` more, keeping a longer TTL it already has, so an index outlives
    every entry it holds even when a retention setting was shortened (EXPIRE's GT option would
    say this, but needs Redis 7; the demo's embedded Redis is 6.2)."""
    return (
        f"if redis.call('TTL', {key}) < tonumber({seconds}) then "
        f"redis.call('EXPIRE', {key}, {seconds}) end"
    )
