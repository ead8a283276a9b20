"""The processes scripts/bench.py starts and what it reads of them from /proc: RSS and CPU time.

Every process runs in its own process group, logs to a file of the run and is stopped with
SIGTERM, then SIGKILL. CPU time is read from /proc/PID/stat of the process and of every
descendant (utime + stime, plus cutime + cstime: a pool child that exited and was reaped still
counts in its parent), so a pool's children are part of their worker's figure.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.support.fhir_server import FhirTestServer, free_port

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
TICKS = os.sysconf("SC_CLK_TCK")


def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `probe` until truthy; bounded (no bare sleep)."""
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _tree(pid: int) -> list[int]:
    """`pid` and every descendant alive now."""
    pids, seen = [pid], []
    while pids:
        current = pids.pop()
        seen.append(current)
        with suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with suppress(OSError), open(f"/proc/{current}/task/{task}/children") as kids:
                    pids += [int(k) for k in kids.read().split()]
    return seen


def _rss_mb(pid: int) -> float:
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Cpu:
    """CPU seconds in user mode (Python, C extensions) and in the kernel (system calls)."""

    user: float = 0.0
    system: float = 0.0

    @property
    def total(self) -> float:
        return self.user + self.system

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(self.user + other.user, self.system + other.system)

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.user - other.user, self.system - other.system)


def _cpu(pid: int) -> Cpu:
    with suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
        utime, stime, cutime, cstime = (int(f) / TICKS for f in fields[11:15])
        return Cpu(utime + cutime, stime + cstime)
    return Cpu()


class Process:
    """A child process in its own group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.log_path = name, logs / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> list[float]:
        """RSS of the process and of every descendant, MB."""
        return [_rss_mb(pid) for pid in _tree(self.pid)]

    def cpu(self) -> Cpu:
        """CPU time of the process and its descendants so far."""
        return sum((_cpu(pid) for pid in _tree(self.pid)), Cpu())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


@dataclass(frozen=True)
class Finished:
    """A command run to its end: wall seconds, CPU (wait4) and peak RSS (VmHWM)."""

    wall: float
    cpu: Cpu
    peak_rss_mb: float
    returncode: int


def _vm_hwm_mb(pid: int) -> float:
    """VmHWM: the peak RSS of the program the process runs now. Not wait4's ru_maxrss, which
    counts the RSS the child had before its exec, that is this process's, copied by fork."""
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The peak RSS of a running process: its VmHWM read every 20 ms by a thread until `stop`
    (VmHWM only grows: the last reading is the peak but for the last 20 ms)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self._peak = max(self._peak, _vm_hwm_mb(self._pid))

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._done.set()
        self._thread.join()
        return self._peak


def run_to_end(argv: list[str], env: dict[str, str] | None = None) -> Finished:
    """Run `argv` with its output discarded; raise unless it exits 0 or 2 (a refused line)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = PeakRss(proc.pid)
    assert proc.stderr is not None
    errors = proc.stderr.read()  # drained while it runs: a full pipe would stop it
    _, status, usage = os.wait4(proc.pid, 0)
    peak_mb = peak.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{argv[2:]} failed: {errors.decode()[-2000:]}")
    return Finished(wall, Cpu(usage.ru_utime, usage.ru_stime), peak_mb, proc.returncode)


def adapter_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "adapter.cli", *args]


@dataclass
class Env:
    redis_url: str
    logs: Path
    workers: int
    log_level: str
    fhir: FhirTestServer

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FHIR_", "REDIS_"))}
        env.update(
            REDIS_URL=self.redis_url,
            ADAPTER_API_KEYS=API_KEY,
            WORKER_CONCURRENCY=str(self.workers),
            LOG_LEVEL=self.log_level,
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "scripts")]),
            **extra,
        )
        return env

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


@contextmanager
def redis_server(logs: Path) -> Iterator[tuple[str, Process]]:
    """A fresh redis-server of this run, no persistence: (its URL, the process)."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    server = Process(f"redis-{port}", [*argv, "--appendonly", "no"], dict(os.environ), logs)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)

        def ping() -> bool:
            with suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_for(ping, 20, "redis-server")
        yield url, server
    finally:
        server.stop()


@contextmanager
def workers(env: Env, **extra: str) -> Iterator[Process]:
    """`her2-adapter worker` (a prefork pool of `env.workers`), once it answers a ping."""
    worker = Process("worker-" + uuid.uuid4().hex[:6], adapter_command("worker"),
                     env.env(**extra), env.logs)  # fmt: skip
    from adapter.queue import make_celery
    from adapter.settings import Settings

    app = make_celery(Settings(redis_url=env.redis_url))

    def ready() -> bool:
        if not worker.alive():
            raise RuntimeError("the worker stopped:\n" + worker.log()[-2000:])
        with suppress(Exception):
            return bool(app.control.ping(timeout=0.5))
        return False

    try:
        wait_for(ready, 90, "the worker")
        yield worker
    finally:
        app.close()
        worker.stop()


@contextmanager
def api(env: Env) -> Iterator[tuple[str, Process]]:
    """`her2-adapter serve` on a free port: (its base URL, the process)."""
    port = free_port()
    server = Process("api", adapter_command("serve", "--port", str(port)), env.env(), env.logs)
    base = f"http://127.0.0.1:{port}"

    def live() -> bool:
        if not server.alive():
            raise RuntimeError("the API stopped:\n" + server.log()[-2000:])
        with suppress(httpx.HTTPError):
            return httpx.get(f"{base}/health/live", timeout=1).status_code == 200
        return False

    try:
        wait_for(live, 60, "the API")
        yield base, server
    finally:
        server.stop()


@contextmanager
def mllp_listener(env: Env) -> Iterator[int]:
    """`her2-adapter mllp` on a free port (no worker): its port, once it accepts connections."""
    port = free_port()
    listener = Process("mllp", adapter_command("mllp", "--port", str(port)), env.env(), env.logs)

    def up() -> bool:
        if not listener.alive():
            raise RuntimeError("the MLLP listener stopped:\n" + listener.log()[-2000:])
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    try:
        wait_for(up, 60, "the MLLP listener")
        yield port
    finally:
        listener.stop()


def own_cpu_seconds() -> float:
    """CPU time of this process (the load generator), seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
