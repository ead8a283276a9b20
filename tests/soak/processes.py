"""The soak's own processes: a redis-server with AOF, `her2-adapter worker` processes.

Redis runs with `--appendonly yes --appendfsync always --save ""`: every write is appended to the
AOF and fsynced before Redis answers, so a task message (and its job record) that made the API
answer 202 is on disk and survives a SIGKILL of Redis; RDB snapshots are off (the AOF is the one
source, and a snapshot fork would only add latency).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import redis

from tests.support.processes import wait_for

SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"


class RedisServer:
    """A redis-server of the soak's own, on `port`, with its AOF in `directory`."""

    ARGS = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.log_path = directory / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = _redis_server()
        if binary is None:
            raise RuntimeError("redis-server is not on PATH: the soak needs its own Redis")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.directory),
                    *self.ARGS,
                    "--protected-mode",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            wait_for(lambda: self._loaded(client), 60, "redis-server to load its AOF")
        finally:
            client.close()

    @staticmethod
    def _loaded(client: redis.Redis) -> bool:
        try:
            return client.info("persistence").get("loading") == 0
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: nothing flushed at exit; only what the AOF already holds survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def _redis_server() -> str | None:
    """The machine's redis-server (7.x), not the older one a Python package may put in the venv."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return shutil.which("redis-server", path=path) or shutil.which("redis-server")


def service_env(**values: str) -> dict[str, str]:
    """os.environ without any setting of the service, plus `values`."""
    prefixes = ("REDIS_", "FHIR_", "ADAPTER_", "MAX_", "SINK_", "VISIBILITY_", "RETRY_", "WORKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(values)
    return env
