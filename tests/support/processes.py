"""Real processes for tests: bounded waiting, and `her2-adapter worker` under test control."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `probe` until it returns something truthy; bounded, never a bare sleep."""
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class WorkerProcess:
    """One `her2-adapter worker` in its own process group, so SIGKILL reaches its pool too."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> WorkerProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "adapter.cli", "worker", "--loglevel", "INFO"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_for(lambda: self._ready(offset), 60, "a worker to be ready")
        return self

    def _ready(self, offset: int) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"worker exited at start:\n{self.log()[-3000:]}")
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return b"ready" in log.read()

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): a crash, nothing acknowledged."""
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
