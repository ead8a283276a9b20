"""Start and drive the local FHIR R4 test server (tests/fhir_server/server.mjs) from tests.

The server is Medplum's open-source FHIR router over an in-memory repository, run with Node.js.
Its npm packages are installed by ``tests/fhir_server/install`` (start() runs it when
node_modules does not match package-lock.json). Typical use::

    server = FhirTestServer(free_port())
    server.start()
    try:
        httpx.put(f"{server.base_url}/Patient/p1", json={...})
        assert server.search("Patient", identifier="urn:mrn|123")
    finally:
        server.stop()

The FHIR base URL is ``http://127.0.0.1:<port>/fhir/R4``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "tests" / "fhir_server"
BASE_PATH = "/fhir/R4"
FHIR_JSON = "application/fhir+json"


class FhirTestServerError(RuntimeError):
    """The test server could not be started, or answered unexpectedly."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_installed() -> None:
    """Run tests/fhir_server/install unless node_modules matches package-lock.json already."""
    lock = SERVER_DIR / "package-lock.json"
    stamp = SERVER_DIR / "node_modules" / ".install-stamp"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    with contextlib.suppress(OSError):
        if stamp.read_text().strip() == want:
            return
    result = subprocess.run(
        ["bash", str(SERVER_DIR / "install")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise FhirTestServerError(
            f"tests/fhir_server/install failed ({result.returncode}):\n"
            + result.stdout
            + result.stderr
        )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _search_param_name(name: str) -> str:
    # Python keywords cannot hold "-": based_on -> based-on; leading "_" (_id, _count) is kept.
    stripped = name.lstrip("_")
    return "_" * (len(name) - len(stripped)) + stripped.replace("_", "-")


class FhirTestServer:
    """One ``node server.mjs`` process on 127.0.0.1:<port>.

    data_file: when given, the server keeps its data there (JSON lines, appended on every
        committed write, replayed on start), so stop()/kill() then start() keeps the data.
        Without it, every start begins empty.
    token: when given, the server requires ``Authorization: Bearer <token>``; this helper's
        own requests (search, reset, client()) send it.
    allow_reset: enables ``DELETE /$reset`` on the server (needed by reset()).
    strict: refuses (400 OperationOutcome naming each one) a write whose references name
        nothing the server holds, as HAPI FHIR does by default.
    log_path: where the server's stdout/stderr go (one line per request); default: a temp file.
        Never a pipe: a full pipe would block the server.
    """

    def __init__(
        self,
        port: int,
        data_file: Path | None = None,
        token: str | None = None,
        *,
        allow_reset: bool = True,
        validate: bool = True,
        strict: bool = False,
        quiet: bool = False,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.port = port
        self.data_file = data_file
        self.token = token
        self.allow_reset = allow_reset
        self.validate = validate
        self.strict = strict
        self.quiet = quiet
        self.startup_timeout = startup_timeout
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if log_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="fhir-test-server-")
            log_path = Path(self._tmpdir.name) / "server.log"
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._client: httpx.Client | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Spawn the server and wait until GET /metadata answers 200 (bounded retries)."""
        if self.is_running():
            raise FhirTestServerError(f"server already running (pid {self.pid})")
        node = shutil.which("node")
        if node is None:
            raise FhirTestServerError(
                "node not found on PATH; the FHIR test server needs Node.js 20"
            )
        ensure_installed()
        if _port_in_use(self.port):
            raise FhirTestServerError(f"port {self.port} on 127.0.0.1 is already in use")

        env = dict(os.environ)
        for key in ("FHIR_TEST_TOKEN", "FHIR_TEST_DATA_FILE", "FHIR_TEST_ALLOW_RESET"):
            env.pop(key, None)
        env["FHIR_TEST_STRICT_REFERENCES"] = "1" if self.strict else "0"
        env["FHIR_TEST_PORT"] = str(self.port)
        env["FHIR_TEST_HOST"] = "127.0.0.1"
        env["FHIR_TEST_VALIDATE"] = "1" if self.validate else "0"
        env["FHIR_TEST_QUIET"] = "1" if self.quiet else "0"
        if self.token:
            env["FHIR_TEST_TOKEN"] = self.token
        if self.data_file is not None:
            env["FHIR_TEST_DATA_FILE"] = str(self.data_file)
        if self.allow_reset:
            env["FHIR_TEST_ALLOW_RESET"] = "1"

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [node, "server.mjs"],
            cwd=SERVER_DIR,
            env=env,
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
                    raise FhirTestServerError(
                        f"server exited with {self._proc.returncode} during startup:\n"
                        + self.log_tail()
                    )
                try:
                    response = probe.get(f"{self.base_url}/metadata")
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}"
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                time.sleep(delay)
                delay = min(delay * 1.5, 0.5)
        self.kill()
        raise FhirTestServerError(
            f"server not ready after {self.startup_timeout}s ({last_error}):\n" + self.log_tail()
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the server writes its data file and exits), then wait; SIGKILL on timeout."""
        return self._terminate(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash. With a data_file, every write already answered is kept."""
        return self._terminate(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _terminate(self, sig: signal.Signals, timeout: float) -> int | None:
        self._close_client()
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

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        """Stop the server and remove the temp log directory."""
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> FhirTestServer:
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

    # --- HTTP ---------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def client(self) -> httpx.Client:
        """A keep-alive httpx client on base_url, with the token; closed by stop()/kill()."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, headers=self.headers(), timeout=30)
        return self._client

    def search(self, resource_type: str, /, **params: Any) -> list[dict[str, Any]]:
        """GET <base>/<resource_type>?params and return the matched resources.

        Keyword names map to FHIR names with "_" -> "-" except leading underscores
        (based_on -> based-on, _id -> _id); a list value repeats the parameter.
        """
        query = {_search_param_name(k): v for k, v in params.items()}
        response = self.client().get(f"/{resource_type}", params=query)
        if response.status_code != 200:
            raise FhirTestServerError(
                f"search {resource_type} -> {response.status_code}: {response.text}"
            )
        bundle = response.json()
        return [e["resource"] for e in bundle.get("entry", []) if "resource" in e]

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current version, or None when absent (404/410)."""
        response = self.client().get(f"/{resource_type}/{resource_id}")
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise FhirTestServerError(f"read -> {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def history(self, resource_type: str, resource_id: str) -> list[dict[str, Any]]:
        """All versions of one resource, newest first."""
        response = self.client().get(f"/{resource_type}/{resource_id}/_history")
        if response.status_code != 200:
            raise FhirTestServerError(f"history -> {response.status_code}: {response.text}")
        return [e["resource"] for e in response.json().get("entry", [])]

    def reset(self) -> None:
        """Empty the server (and its data file). Needs allow_reset=True."""
        response = self.client().delete(f"http://127.0.0.1:{self.port}/$reset")
        if response.status_code != 200:
            raise FhirTestServerError(f"reset -> {response.status_code}: {response.text}")
