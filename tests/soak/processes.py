"""The soak's own processes: a redis-server with AOF, `her2-adapter worker` processes.

Redis runs with `--appendonly yes --appendfsync always --save ""`: every write is appended to the
AOF and fsynced before Redis answers, so a task message (and its job record) that made the API
answer 202 is on disk and survives a SIGKILL of Redis; RDB snapshots are off (the AOF is the one
source, and a snapshot fork would only add latency).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"


def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `probe` until truthy; bounded (AssertionError after `timeout` seconds)."""
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


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


class WorkerProcess:
    """One `her2-adapter worker` in its own process group (SIGKILL reaches its pool too)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [SCRIPT, "worker", "--loglevel", "INFO"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_for(lambda: self._ready(offset), 60, "a worker to be ready")

    def _ready(self, offset: int) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"worker exited at start:\n{self.log()[-3000:]}")
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return b"ready" in log.read()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


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
