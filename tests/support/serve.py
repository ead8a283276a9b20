"""A real `her2-adapter serve` process for tests: started on a free port with the environment
given, waited for with a bounded retry on `/health/live`, its standard error kept in a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"


class ServeProcess:
    """`her2-adapter serve --port <port>` with `env` on top of a clean copy of os.environ
    (no inherited REDIS_*, FHIR_*, ADAPTER_* or MAX_* settings)."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REDIS_", "FHIR_", "ADAPTER_", "MAX_", "SINK_"))
        }
        self.env = {**base_env, **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServeProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [SCRIPT, "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base_url}/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if not self.alive():
                raise RuntimeError(f"serve exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not answer within {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
