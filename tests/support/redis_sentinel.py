"""A local Redis primary, its replica and three Sentinels, all the machine's `redis-server`
(`--sentinel` for the Sentinels), for the failover tests and the failover soak.

Typical use::

    with SentinelCluster(tmp_path) as cluster:
        settings = Settings(redis_sentinels=cluster.sentinels, redis_sentinel_service="her2")
        cluster.fail_over()  # SIGKILL the primary, wait for a replica to be promoted, restart it

Every data node keeps an AOF (fsync always), as the soak's single Redis does. The Sentinels
judge a primary down after `down_after_ms` (1 s) and need two of three to agree.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from tests.soak.processes import _redis_server
from tests.support.processes import wait_for

SERVICE = "her2"
DATA_PORTS = (6396, 6397)
SENTINEL_PORTS = (26390, 26391, 26392)


class SentinelCluster:
    def __init__(
        self,
        directory: Path,
        *,
        data_ports: tuple[int, ...] = DATA_PORTS,
        sentinel_ports: tuple[int, ...] = SENTINEL_PORTS,
        down_after_ms: int = 1000,
    ) -> None:
        self.dir = directory
        self.data_ports = data_ports
        self.sentinel_ports = sentinel_ports
        self.down_after_ms = down_after_ms
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.service = SERVICE
        self.failovers = 0

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS for this cluster."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def __enter__(self) -> SentinelCluster:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        primary = self.data_ports[0]
        for port in self.data_ports:
            self._start_data(port, None if port == primary else primary)
        for port in self.sentinel_ports:
            self._start_sentinel(port, primary)
        wait_for(lambda: self._synced(primary), 30, "the replicas to sync with the primary")
        wait_for(self._sentinels_see_all, 30, "the Sentinels to see the primary and its replicas")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def primary_port(self) -> int:
        """The port of the primary as the Sentinels name it now."""
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1)
        try:
            _, port = client.sentinel_get_master_addr_by_name(self.service)
        finally:
            client.close()
        return int(port)

    def fail_over(self) -> tuple[int, int, float]:
        """SIGKILL the primary, wait until the Sentinels promoted a replica, start the killed
        one again as the new primary's replica and wait until the cluster settled: every
        Sentinel names one primary and its replica is in sync (a Sentinel may still promote
        the restarted node, in a later epoch, when an earlier attempt was aborted). Returns
        (old port, the primary now, seconds until the first promotion)."""
        old = self.primary_port()
        self.kill(old)
        killed = time.monotonic()
        wait_for(lambda: self.primary_port() != old, 60, "a replica to be promoted")
        promoted = time.monotonic() - killed
        self._start_data(old, self.primary_port())  # back as a replica, as an operator would
        settled = wait_for(self._settled, 60, "one primary with its replica in sync")
        self.failovers += 1
        return old, settled, promoted

    def _settled(self) -> int | None:
        """The primary every Sentinel names, once its replicas are in sync; else None."""
        named = set()
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=1)
            try:
                named.add(int(client.sentinel_get_master_addr_by_name(self.service)[1]))
            except (redis.RedisError, TypeError):
                return None
            finally:
                client.close()
        if len(named) != 1:
            return None
        (primary,) = named
        return primary if self._synced(primary) else None

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.kill()
        proc.wait(timeout=30)

    def _start_data(self, port: int, replica_of: int | None) -> None:
        directory = self.dir / f"redis-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        args = [
            _binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--protected-mode", "no",
        ]  # fmt: skip
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self._spawn(port, args)
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        try:
            wait_for(lambda: self._answers(port, client), 60, f"redis-server on {port} to load")
        finally:
            client.close()

    def _start_sentinel(self, port: int, primary: int) -> None:
        directory = self.dir / f"sentinel-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {directory}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.service} 10000\n"
            f"sentinel parallel-syncs {self.service} 1\n"
        )
        self._spawn(port, [_binary(), str(config), "--sentinel"])
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        try:
            wait_for(lambda: self._answers(port, client), 30, f"Sentinel on {port} to answer")
        finally:
            client.close()

    def _spawn(self, port: int, args: list[str]) -> None:
        with (self.dir / f"{port}.log").open("ab") as log:
            self.procs[port] = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def _answers(self, port: int, client: redis.Redis) -> bool:
        """Whether our process on `port` answers (a port another process holds fails loudly:
        its answer is not ours)."""
        if self.procs[port].poll() is not None:
            log = (self.dir / f"{port}.log").read_text(errors="replace")
            raise RuntimeError(f"redis-server on {port} exited:\n{log[-1500:]}")
        return _answers_ping(client)

    def _synced(self, primary: int) -> bool:
        """Every other data node is an online replica of `primary`."""
        client = redis.Redis(port=primary, socket_timeout=1)
        try:
            info = client.info("replication")
        except redis.RedisError:
            return False
        finally:
            client.close()
        online = sum(
            1
            for key, value in info.items()
            if key.startswith("slave")
            and isinstance(value, dict)
            and value.get("state") == "online"
        )
        return info.get("role") == "master" and online == len(self.data_ports) - 1

    def _sentinels_see_all(self) -> bool:
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=1)
            try:
                master = client.sentinel_master(self.service)
            except redis.RedisError:
                return False
            finally:
                client.close()
            if master.get("num-slaves") != len(self.data_ports) - 1:
                return False
            if master.get("num-other-sentinels") != len(self.sentinel_ports) - 1:
                return False
        return True


def _answers_ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping()) and client.info("persistence").get("loading") in (0, None)
    except redis.RedisError:
        return False


def _binary() -> str:
    binary = _redis_server()
    if binary is None:
        raise RuntimeError("redis-server is not on PATH: the failover tests need it")
    return binary
