"""The service as a user runs it: real `her2-adapter serve`, `her2-adapter mllp` and
`her2-adapter worker` (2 pool processes) on the tests' Redis server (a database of our own,
TEST_CONTRACT_REDIS_DB, default 8, emptied before and after), writing to the directory sink.
Nothing is mocked."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import redis

from adapter.fhir_server import DirectorySink
from adapter.job_store import PENDING
from tests.acceptance.generator import dumps
from tests.contract.outputs import CaseOutput, cases_of
from tests.mllp.support import Client
from tests.soak.processes import service_env
from tests.support.fhir_server import free_port
from tests.support.processes import WorkerProcess, wait_for
from tests.support.redis_db import emptied, redis_url_for_tests
from tests.support.serve import SCRIPT, ServeProcess

REDIS_DB: Final = int(os.environ.get("TEST_CONTRACT_REDIS_DB", "8"))
KEY: Final = "contract-tests-key"
FHIR_JSON: Final = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/fhir+json"}
Json = dict[str, Any]


class Service:
    """The running service: POST a FHIR message, send a v2 message, wait, read what it wrote."""

    def __init__(self, workdir: Path, client: redis.Redis, serve: ServeProcess, mllp_port: int):
        self.workdir, self.redis, self.serve, self.mllp_port = workdir, client, serve, mllp_port
        self.sink = DirectorySink(workdir / "sink")
        self.http = httpx.Client(base_url=serve.base_url, timeout=60)
        self.mllp: Client | None = None
        self._latest: dict[str, tuple[CaseOutput, Json]] = {}
        self._read: set[Path] = set()

    def post(self, message: Json) -> httpx.Response:
        route = "/fhir/Observation" if message.get("resourceType") == "Observation" else "/fhir"
        return self.post_text(route, dumps(message))

    def post_text(self, route: str, body: str | bytes) -> httpx.Response:
        return self.http.post(route, content=body, headers=FHIR_JSON)

    def ack(self, message: str) -> str:
        """Send over the open MLLP connection (opened on first use) and read the ACK."""
        if self.mllp is None:
            self.mllp = Client(self.mllp_port, timeout=60)
        return self.mllp.ack(message.encode("utf-8"))

    def hang_up(self) -> None:
        """End the MLLP connection, as a sender does between sessions (the listener closes a
        connection silent for 10 minutes)."""
        if self.mllp is not None:
            self.mllp.close()
            self.mllp = None

    def settle(self, timeout: float = 600) -> None:
        """Until every accepted job is done or failed (the outbox is empty)."""
        wait_for(lambda: self.redis.zcard(PENDING) == 0, timeout, "every job to settle")

    def reports(self) -> dict[str, tuple[CaseOutput, Json]]:
        """The last version written of every case, by its specimen reference, subject and
        (HL7 v2) accession. Call it once the jobs settled: files are read once, in the
        order they were written."""
        for path in self.sink.written():
            if path in self._read:
                continue
            self._read.add(path)
            for got, by_url in cases_of(json.loads(path.read_bytes())):
                specimen = by_url.get(got.specimen or "") or {}
                accession = (specimen.get("identifier") or [{}])[0].get("value")
                for key in (got.specimen, got.subject, accession):
                    if key:
                        self._latest[key] = (got, by_url)
        return self._latest

    def close(self) -> None:
        self.http.close()
        self.hang_up()


def _listening(port: int, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"her2-adapter mllp exited with {proc.returncode}")
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_service(workdir: Path) -> Iterator[Service]:
    """serve, mllp and a worker on an emptied Redis database; stopped (and emptied) after."""
    url = redis_url_for_tests(REDIS_DB)
    env = service_env(
        REDIS_URL=url,
        ADAPTER_API_KEYS=KEY,
        SINK_DIR=str(workdir / "sink"),
        LOG_LEVEL="WARNING",
        WORKER_CONCURRENCY="2",
    )
    with ExitStack() as stack:
        client = stack.enter_context(emptied(url))
        serve = stack.enter_context(ServeProcess(free_port(), env, workdir / "serve.log"))
        port = free_port()
        log = stack.enter_context((workdir / "mllp.log").open("ab"))
        mllp = subprocess.Popen(
            [SCRIPT, "mllp", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        stack.callback(mllp.wait, 30)
        stack.callback(mllp.terminate)
        wait_for(lambda: _listening(port, mllp), 30, "the MLLP listener")
        worker = WorkerProcess(env, workdir / "worker.log").start()
        stack.callback(worker.stop)
        service = Service(workdir, client, serve, port)
        stack.callback(service.close)
        yield service
