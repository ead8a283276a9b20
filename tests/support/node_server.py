"""One Node.js test server process from tests/fhir_server (the FHIR server, the token server).

Their npm packages are installed from package-lock.json by `ensure_npm_packages` (start() runs
it when node_modules does not match the lock file; ``tests/fhir_server/install`` is the same by
hand). A subclass names its script, the environment it runs with and the URL that answers 200
once it is ready.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.support.npm_packages import ensure_npm_packages

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "tests" / "fhir_server"


class NodeServerError(RuntimeError):
    """The test server could not be started, or answered unexpectedly."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class NodeServer:
    """``node <script>`` on 127.0.0.1:<port>, its output in `log_path` (a temp file unless
    given; never a pipe, which would block the server when full)."""

    script = ""  # the file in tests/fhir_server
    name = "test server"

    def __init__(
        self, port: int, *, log_path: Path | None = None, startup_timeout: float = 30.0
    ) -> None:
        self.port = port
        self.startup_timeout = startup_timeout
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if log_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix=f"{self.script}-")
            log_path = Path(self._tmpdir.name) / "server.log"
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def environment(self) -> dict[str, str]:
        """The variables the script reads (added to this process's environment)."""
        raise NotImplementedError

    @property
    def ready_url(self) -> str:
        """A URL that answers 200 once the server is ready."""
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Spawn the server and wait until `ready_url` answers 200 (bounded retries)."""
        if self.is_running():
            raise NodeServerError(f"{self.name} already running (pid {self.pid})")
        node = shutil.which("node")
        if node is None:
            raise NodeServerError(f"node not found on PATH; the {self.name} needs Node.js 20")
        ensure_npm_packages(SERVER_DIR)
        if _port_in_use(self.port):
            raise NodeServerError(f"port {self.port} on 127.0.0.1 is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [node, self.script],
            cwd=SERVER_DIR,
            env={**os.environ, **self.environment()},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0) as probe:
            while time.monotonic() < deadline:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    self._close_log()
                    raise NodeServerError(
                        f"{self.name} exited with {self._proc.returncode} during startup:\n"
                        + self.log_tail()
                    )
                try:
                    response = probe.get(self.ready_url)
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                time.sleep(delay)
                delay = min(delay * 1.5, 0.5)
        self.kill()
        raise NodeServerError(
            f"{self.name} not ready after {self.startup_timeout}s ({last_error}):\n"
            + self.log_tail()
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the server finishes what it is doing and exits), then wait; SIGKILL on
        timeout."""
        return self._terminate(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash."""
        return self._terminate(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _terminate(self, sig: signal.Signals, timeout: float) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._close_log()
        return proc.returncode

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self) -> None:
        """Stop the server and remove the temp log directory."""
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""
