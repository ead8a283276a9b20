"""Throughput and latency of the adapter as ratios to baselines measured in the same run.

    python scripts/bench.py [--quick] [--workers N] [--out out/bench.json]

One run starts what it needs (its own redis-server on a free port, the FHIR test server,
`her2-adapter serve`, `her2-adapter worker`, `her2-adapter mllp` when it exists), generates the
messages once (tests/acceptance/generator.py, seeded) and measures:

  A  bare fhir.resources R4B parse + validate + dump of the messages, one process
  B  a Celery task per message that only parses it (same Redis, same worker count)
  C  the FHIR server's own rate for the service's output Bundles, posted directly
  the offline CLI (`interpret --ndjson`) over 100,000 lines, and its per-message cost at 1k
  the service end to end (POST -> 202 -> interpreted -> written) over 10,000 messages, to the
  directory sink and to the FHIR test server
  ingest (POST -> 202) and end-to-end latency at a fixed offered rate of 200 messages/s
  (open loop: each request leaves on its schedule, whatever the previous one is doing; its
  latency counts from that moment, so a wait for a free connection is not hidden)
  worker RSS (largest process, from /proc), the MLLP door's ACK rate and latency, and
  `interpret --hl7v2` against `interpret --ndjson` on the same cases.

It prints a table (figure, value, baseline, ratio, target, met?) and writes it as JSON. A
missed target is a line of the table, never a failing exit status: this is not a timed test.
`--quick` divides every size by about 10 for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import httpx  # noqa: E402
import redis  # noqa: E402
from bench_report import Figure, Report, Target, percentile, table  # noqa: E402

from tests.acceptance.generator import Spec, build, dumps, random_spec  # noqa: E402
from tests.support.fhir_server import FhirTestServer, free_port  # noqa: E402

API_KEY = "bench-key"
JOB_PREFIX = "her2:job:"
BASE_A = "baseline A: R4B parse+validate+dump"
BASE_B = "baseline B: Celery parse-only task"
BASE_C = "baseline C: FHIR server transactions"
SEED = 20260601


# --- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    cli: int = 100_000  # NDJSON lines through `interpret --ndjson`
    cli_small: int = 1_000  # the same, for the per-message cost at 1k
    service: int = 10_000  # messages through the service, per write-back target
    service_small: int = 1_000
    baseline: int = 10_000  # messages for baselines A and B
    rate: float = 200.0  # offered rate of the latency run, messages/s
    rate_seconds: float = 30.0
    mllp: int = 10_000  # messages for the MLLP ACK rate
    v2: int = 10_000  # cases for --hl7v2 against --ndjson

    def quick(self) -> Sizes:
        return Sizes(10_000, 1_000, 1_000, 100, 1_000, 200.0, 5.0, 1_000, 1_000)


# --- messages ---------------------------------------------------------------------------------


def messages(count: int) -> list[tuple[Spec, str]]:
    """`count` seeded generator messages, one specimen (one case) each: no case lock contention."""
    rng = random.Random(SEED)
    out = []
    for n in range(count):
        spec = random_spec(rng)
        out.append((spec, dumps(build(spec, n, rng))))
    return out


def v2_message(spec: Spec, n: int) -> str | None:
    """An ORU^R01 for the IHC score and plain ISH numbers of `spec`, or None when it has none."""
    score = (spec.ihc or "").split()[0] if spec.ihc else None
    obx = []
    if score in ("0", "1+", "2+", "3+"):
        obx.append(f"85319-2^HER2 IHC^LN||{score}")
    for code, name, value in (
        ("49683-6", "HER2/CEP17 ratio", spec.ratio),
        ("74860-8", "HER2 signals per cell", spec.her2),
        ("74861-6", "CEP17 signals per cell", spec.cep17),
    ):
        if value is not None and value.replace(".", "").isdigit():
            obx.append(f"{code}^{name}^LN||{value}")
    if not obx:
        return None
    kinds = ["ST" if s.startswith("85319") else "NM" for s in obx]
    segments = [
        f"MSH|^~\\&|LIS|BENCH_LAB|EHR|HOSP|20260601120000+0000||ORU^R01^ORU_R01|B{n}|P|2.5.1",
        f"PID|1||MRN{n}^^^HOSP^MR||BENCH^PATIENT",
        f"OBR|1|PL-{n}|ACC-{n}|HER2^HER2 IHC and ISH panel|||20260531",
        f"SPM|1|^SPEC-{n}||TISS^Tissue^HL70487||||76752008^Breast structure^SCT",
    ]
    segments += [
        f"OBX|{i}|{k}|{o}||||||F" for i, (k, o) in enumerate(zip(kinds, obx, strict=True), 1)
    ]
    return "\r".join(segments) + "\r"


# --- processes --------------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as kids:
                found += [int(k) for k in kids.read().split()]
    return found


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


class Process:
    """A child process in its own group, logging to a file; stopped with SIGTERM, then KILL."""

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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> list[float]:
        """RSS of the process and every descendant, MB."""
        pids, seen = [self.proc.pid], []
        while pids:
            pid = pids.pop()
            seen.append(_rss_mb(pid))
            pids += _children(pid)
        return seen

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


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
def redis_server(logs: Path) -> Iterator[str]:
    port = free_port()
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--logfile",
        str(logs / "redis.log"),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)

        def ping() -> bool:
            with suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_for(ping, 20, "redis-server")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def workers(env: Env, **extra: str) -> Iterator[Process]:
    worker = Process(
        "worker-" + uuid.uuid4().hex[:6],
        [sys.executable, "-m", "adapter.cli", "worker"],
        env.env(**extra),
        env.logs,
    )
    app = _control_app(env)

    def ready() -> bool:
        if not worker.alive():
            raise RuntimeError("the worker stopped:\n" + worker.log()[-2000:])
        return _ping_worker(app)

    try:
        wait_for(ready, 90, "the worker")
        yield worker
    finally:
        app.close()
        worker.stop()


def _control_app(env: Env) -> Any:
    from adapter.queue import make_celery
    from adapter.settings import Settings

    return make_celery(Settings(redis_url=env.redis_url))


@contextmanager
def api(env: Env) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "adapter.cli", "serve", "--port", str(port)]
    server = Process("api", argv, env.env(), env.logs)
    base = f"http://127.0.0.1:{port}"

    def live() -> bool:
        if not server.alive():
            raise RuntimeError("the API stopped:\n" + server.log()[-2000:])
        with suppress(httpx.HTTPError):
            return httpx.get(f"{base}/health/live", timeout=1).status_code == 200
        return False

    try:
        wait_for(live, 60, "the API")
        yield base
    finally:
        server.stop()


# --- measures ---------------------------------------------------------------------------------


def baseline_a(bodies: Sequence[str]) -> float:
    """Messages/s: R4B Bundle parse + validate + dump, in this process."""
    from fhir.resources.R4B.bundle import Bundle

    started = time.perf_counter()
    for body in bodies:
        Bundle.model_validate_json(body).model_dump_json()
    return len(bodies) / (time.perf_counter() - started)


def run_cli(args: list[str]) -> float:
    """Wall seconds of `her2-adapter interpret ARGS`, output discarded (exit 0 or 2 both count)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "interpret", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 2):
        raise RuntimeError(f"interpret {args} failed: {result.stderr.decode()[-2000:]}")
    return elapsed


def cli_rate(path: Path, count: int, startup: float, flag: str = "--ndjson") -> float:
    """Messages/s of the CLI, its start-up (imports, mappings) taken out."""
    return count / max(run_cli([flag, str(path)]) - startup, 1e-9)


def cli_startup(work: Path) -> float:
    """Seconds the CLI needs for one trivial message: imports and mappings (best of 3)."""
    one = work / "one.ndjson"
    one.write_text(messages(1)[0][1] + "\n")
    return min(run_cli(["--ndjson", str(one)]) for _ in range(3))


def baseline_b(env: Env, bodies: Sequence[str]) -> float:
    """Messages/s through a Celery task per message that only parses it."""
    from bench_parse_worker import COUNTER, QUEUE, TASK

    from adapter.queue import PUBLISH_RETRY_POLICY

    client = env.redis()
    client.delete(COUNTER)
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench_parse_worker",
        "worker",
        "-Q",
        QUEUE,
        f"--concurrency={env.workers}",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=WARNING",
    ]
    worker = Process("baseline-b", argv, env.env(), env.logs)
    app = _control_app(env)
    try:
        wait_for(lambda: _ping_worker(app), 60, "the baseline B worker")
        started = time.perf_counter()
        for body in bodies:
            app.send_task(
                TASK,
                args=[{"body": body}],
                queue=QUEUE,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
                ignore_result=True,
            )
        wait_for(lambda: int(client.get(COUNTER) or 0) >= len(bodies), 600, "baseline B")
        return len(bodies) / (time.perf_counter() - started)
    finally:
        app.close()
        worker.stop()


def _ping_worker(app: Any) -> bool:
    with suppress(Exception):
        return bool(app.control.ping(timeout=0.5))
    return False


class JobWatch:
    """The jobs of one run: when each was sent, and when each settled, read once at the end
    from its job record (`settled_at`, written by the worker). Nothing polls the records while
    the run is measured: only the size of the outbox, one cheap command, says when all settled.
    Times are wall-clock seconds (time.time()), as the worker writes them, on one machine."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.sent: dict[str, float] = {}  # job id -> time the POST was sent
        self.settled: dict[str, tuple[float, float, str]] = {}  # id -> (sent, settled, state)

    def add(self, job_id: str, sent: float) -> None:
        self.sent[job_id] = sent

    def wait(self, count: int, timeout: float) -> None:
        """Until `count` jobs were accepted and the outbox is empty; then read their records."""
        from adapter.job_store import PENDING

        wait_for(
            lambda: len(self.sent) >= count and self.client.zcard(PENDING) == 0,
            timeout,
            f"{count} jobs to settle",
        )
        ids = list(self.sent)
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            pipe = self.client.pipeline(transaction=False)
            for job_id in chunk:
                pipe.hmget(JOB_PREFIX + job_id, "state", "settled_at")
            for job_id, (state, settled) in zip(chunk, pipe.execute(), strict=True):
                if settled is None:
                    raise RuntimeError(f"job {job_id} left the outbox unsettled ({state!r})")
                when = datetime.fromisoformat(settled.decode()).timestamp()
                self.settled[job_id] = (self.sent[job_id], when, state.decode())

    def failed(self) -> int:
        return sum(1 for _, _, state in self.settled.values() if state == "failed")


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs and reads the answer: a load generator
    shares the 2 cores with what it measures, so it does no more work than the wire needs
    (httpx cost about 2 ms of CPU per request here, as much as the API itself)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: bytes) -> tuple[int, dict[str, str]]:
        reused = self.streams is not None
        try:
            return await self._post(path, body, headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            if not reused:
                raise
            # The server closed the idle keep-alive connection before it read the request (its
            # keep-alive timeout): nothing was received, so send it again on a new connection.
            return await self._post(path, body, headers)

    async def _post(self, path: str, body: bytes, headers: bytes) -> tuple[int, dict[str, str]]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), headers, len(body), body)
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return int(head[0].split()[1]), fields

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _post_all(
    base: str, bodies: Sequence[str], watch: JobWatch, concurrency: int, rate: float | None
) -> list[float]:
    """POST every body; closed loop with `concurrency` in flight, or open loop at `rate`/s.

    Returns the POST -> 202 latencies (seconds). Raises on any answer but 202.
    """
    headers = f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/fhir+json\r\n".encode()
    host, port = base.removeprefix("http://").rsplit(":", 1)
    idle = collections.deque(_Connection(host, int(port)) for _ in range(concurrency))
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: list[str] = []

    async def post(body: str) -> None:
        sent = time.time()  # before waiting for a connection: no coordinated omission
        async with slots:
            connection = idle.popleft()  # the longest idle first: every connection stays warm
            try:
                status, fields = await connection.post("/fhir", body.encode(), headers)
                latencies.append(time.time() - sent)
            finally:
                idle.append(connection)
        if status != 202:
            errors.append(f"{status}")
            return
        watch.add(fields["content-location"].rsplit("/", 1)[1], sent)

    if rate is None:
        queue = iter(bodies)

        async def lane() -> None:
            for body in queue:
                await post(body)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    else:
        start, tasks = time.perf_counter(), []
        for i, body in enumerate(bodies):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(body)))
        await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    if errors:
        raise RuntimeError(f"{len(errors)} POSTs were not accepted; first status: {errors[0]}")
    return latencies


@dataclass
class ServiceRun:
    rate: float  # messages/s, first POST -> last job settled
    failed: int
    peak_rss_mb: float
    ingest: list[float]
    end_to_end: list[float]


def service_run(
    env: Env, base: str, worker: Process, bodies: Sequence[str], rate: float | None = None
) -> ServiceRun:
    """POST `bodies` to the running API and wait until the workers settled every job."""
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            peak[0] = max(peak[0], *worker.rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    watch = JobWatch(env.redis())
    started = time.time()
    ingest = asyncio.run(_post_all(base, bodies, watch, 8 if rate is None else 64, rate))
    watch.wait(len(bodies), 900)
    finished = max(settled for _, settled, _ in watch.settled.values())
    stop.set()
    sampler.join()
    return ServiceRun(
        rate=len(bodies) / (finished - started),
        failed=watch.failed(),
        peak_rss_mb=peak[0],
        ingest=ingest,
        end_to_end=[settled - sent for sent, settled, _ in watch.settled.values()],
    )


def baseline_c(fhir: FhirTestServer, bundles: Sequence[bytes], concurrency: int) -> float:
    """Transaction Bundles/s the FHIR server takes when they are posted to it directly."""
    fhir.reset()
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency))
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}

    def post(body: bytes) -> None:
        response = client.post(fhir.base_url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"FHIR server answered {response.status_code}: {response.text}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, bundles))
    rate = len(bundles) / (time.perf_counter() - started)
    client.close()
    fhir.reset()
    return rate


def sink_bundles(directory: Path) -> list[bytes]:
    """The transaction Bundles the directory sink wrote (compact, as the FHIR client sends them)."""
    from adapter.fhir_server import DirectorySink

    return [p.read_bytes() for p in DirectorySink(directory).written()]


def mllp_available() -> bool:
    from adapter.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return "mllp" in commands.choices


def mllp_run(
    env: Env, frames: Sequence[bytes], connections: int, rate: float | None
) -> tuple[float, list[float]]:
    """(ACKs/s, ACK latencies) over `connections` MLLP connections to a fresh listener."""
    port = free_port()
    argv = [sys.executable, "-m", "adapter.cli", "mllp", "--port", str(port)]
    listener = Process("mllp", argv, env.env(), env.logs)

    def up() -> bool:
        if not listener.alive():
            raise RuntimeError("the MLLP listener stopped:\n" + listener.log()[-2000:])
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        return False

    try:
        wait_for(up, 60, "the MLLP listener")
        return asyncio.run(_mllp_send(port, frames, connections, rate))
    finally:
        listener.stop()


async def _mllp_send(
    port: int, frames: Sequence[bytes], connections: int, rate: float | None
) -> tuple[float, list[float]]:
    """Closed loop (rate None: each connection waits for its ACK before the next message) or
    open loop (each message leaves on its schedule, pipelined; ACKs come back in order)."""
    latencies: list[float] = []
    refused: list[bytes] = []

    async def connection(mine: Sequence[tuple[int, bytes]], start: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent: asyncio.Queue[float] = asyncio.Queue()

        async def read_acks() -> None:
            for _ in mine:
                ack = await reader.readuntil(b"\x1c\x0d")
                latencies.append(time.perf_counter() - await sent.get())
                if b"MSA|AA" not in ack and b"MSA|CA" not in ack:
                    refused.append(ack[:300])

        acks = asyncio.create_task(read_acks())
        for i, frame in mine:
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent.put_nowait(time.perf_counter())
            writer.write(b"\x0b" + frame + b"\x1c\x0d")
            await writer.drain()
            if rate is None:
                await _until_empty(sent, acks)
        await acks
        writer.close()

    start = time.perf_counter()
    lanes = [
        [(i, f) for i, f in enumerate(frames) if i % connections == c] for c in range(connections)
    ]
    await asyncio.gather(*(connection(lane, start) for lane in lanes))
    elapsed = time.perf_counter() - start
    if refused:
        raise RuntimeError(f"{len(refused)} messages were not accepted; first: {refused[0]!r}")
    return len(frames) / elapsed, latencies


async def _until_empty(sent: asyncio.Queue[float], acks: asyncio.Task[None]) -> None:
    """Closed loop: wait until the reader took this message's ACK."""
    while not sent.empty() and not acks.done():
        await asyncio.sleep(0)


# --- the run ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    mem = 0
    with suppress(OSError), open("/proc/meminfo") as meminfo:
        mem = int(meminfo.readline().split()[1]) // 1024 // 1024
    versions = {}
    for name, argv in (("redis", ["redis-server", "--version"]), ("node", ["node", "--version"])):
        with suppress(OSError):
            versions[name] = subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    return {
        "load_average": os.getloadavg(),  # other work on the machine skews every figure
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size about 10x smaller")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the services")
    args = parser.parse_args(argv)
    sizes = Sizes().quick() if args.quick else Sizes()
    report = Report()
    started = datetime.now(UTC)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="her2-bench-")))
        logs = work / "logs"
        logs.mkdir()
        say(f"generating messages (logs in {logs})")
        pool = messages(max(sizes.cli, sizes.service, sizes.baseline))
        bodies = [body for _, body in pool]
        fhir = stack.enter_context(FhirTestServer(free_port(), quiet=True))
        env = Env(stack.enter_context(redis_server(logs)), logs, args.workers, args.log_level, fhir)
        measure_baselines(report, env, bodies[: sizes.baseline])
        measure_cli(report, work, bodies, sizes)
        measure_service(report, env, work, bodies, sizes)
        measure_mllp(report, env, work, pool, sizes)
    print()  # noqa: T201 - the table is the output
    print(table(report))  # noqa: T201
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "quick": args.quick,
                "workers": args.workers,
                "sizes": sizes.__dict__,
                "machine": machine(),
                "figures": report.as_json(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten: {args.out}")  # noqa: T201
    return 0


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: T201


def measure_baselines(report: Report, env: Env, bodies: Sequence[str]) -> None:
    say(f"baseline A: R4B parse + validate + dump, {len(bodies)} messages")
    report.add(Figure(BASE_A, baseline_a(bodies), "msg/s"))
    say(f"baseline B: Celery parse-only task, {len(bodies)} messages, {env.workers} workers")
    report.add(Figure(BASE_B, baseline_b(env, bodies), "msg/s"))


def measure_cli(report: Report, work: Path, bodies: Sequence[str], sizes: Sizes) -> None:
    startup = cli_startup(work)
    report.add(Figure("CLI start-up (imports, mappings)", startup, "s"))
    big, small = work / "big.ndjson", work / "small.ndjson"
    big.write_text("\n".join(bodies[: sizes.cli]) + "\n")
    small.write_text("\n".join(bodies[: sizes.cli_small]) + "\n")
    say(f"CLI: interpret --ndjson, {sizes.cli_small} and {sizes.cli} lines")
    rate_small = cli_rate(small, sizes.cli_small, startup)
    rate_big = cli_rate(big, sizes.cli, startup)
    report.add(
        Figure(
            f"CLI --ndjson, {sizes.cli:,} lines",
            rate_big,
            "msg/s",
            Target(">=", 0.7, BASE_A),
        )
    )
    report.add(Figure(f"CLI ms/message at {sizes.cli_small:,}", 1000 / rate_small, "ms"))
    report.add(
        Figure(
            f"CLI ms/message at {sizes.cli:,}",
            1000 / rate_big,
            "ms",
            Target("<=", 1.2, f"CLI ms/message at {sizes.cli_small:,}"),
        )
    )


def measure_service(
    report: Report, env: Env, work: Path, bodies: Sequence[str], sizes: Sizes
) -> None:
    sink = work / "sink"
    with api(env) as base:
        with workers(env, SINK_DIR=str(sink)) as worker:
            say(f"service -> directory sink: {sizes.service_small} then {sizes.service} messages")
            small = service_run(env, base, worker, bodies[: sizes.service_small])
            shutil.rmtree(sink, ignore_errors=True)
            run = service_run(env, base, worker, bodies[: sizes.service])
            bundles = sink_bundles(sink)
            shutil.rmtree(sink, ignore_errors=True)
            say(f"latency: open loop at {sizes.rate:g} msg/s for {sizes.rate_seconds:g} s")
            count = int(sizes.rate * sizes.rate_seconds)
            paced = service_run(env, base, worker, bodies[:count], rate=sizes.rate)
            rss = max(run.peak_rss_mb, paced.peak_rss_mb, small.peak_rss_mb)
        _sink_figures(report, small, run, paced, sizes)
        report.add(Figure("worker RSS, largest process", rss, "MB", Target("<", 200)))
        say(f"baseline C: {len(bundles)} output Bundles posted to the FHIR server directly")
        report.add(Figure(BASE_C, baseline_c(env.fhir, bundles, 2 * env.workers), "bundle/s"))
        with workers(env, FHIR_SERVER_URL=env.fhir.base_url) as worker:
            say(f"service -> FHIR server: {sizes.service} messages")
            fhir_run = service_run(env, base, worker, bodies[: sizes.service])
        env.fhir.reset()
        report.add(
            Figure(
                f"service -> FHIR server, {sizes.service:,} msgs",
                fhir_run.rate,
                "msg/s",
                Target(">=", 0.8, BASE_C),
                note=_failed(fhir_run),
            )
        )


def _sink_figures(
    report: Report, small: ServiceRun, run: ServiceRun, paced: ServiceRun, sizes: Sizes
) -> None:
    name = f"service -> sink, {sizes.service:,} msgs"
    report.add(Figure(name, run.rate, "msg/s", Target(">=", 0.5, BASE_A), note=_failed(run)))
    report.add(
        Figure("service -> sink vs Celery parse-only", run.rate, "msg/s", Target(">=", 4, BASE_B))
    )
    small_name = f"service ms/message at {sizes.service_small:,}"
    report.add(Figure(small_name, 1000 / small.rate, "ms"))
    report.add(
        Figure(
            f"service ms/message at {sizes.service:,}",
            1000 / run.rate,
            "ms",
            Target("<=", 1.2, small_name),
        )
    )
    for what, values, bound in (
        ("ingest", paced.ingest, 10.0),
        ("end to end", paced.end_to_end, 1000.0),
    ):
        for p in (50, 95, 99):
            report.add(
                Figure(
                    f"{what} p{p} at {sizes.rate:g} msg/s",
                    percentile(values, p) * 1000,
                    "ms",
                    Target("<", bound) if p == 99 else None,
                    note=_failed(paced) if p == 99 and what == "end to end" else "",
                )
            )


def _failed(run: ServiceRun) -> str:
    return f"{run.failed} jobs failed (dead-lettered)" if run.failed else ""


def measure_mllp(
    report: Report, env: Env, work: Path, pool: Sequence[tuple[Spec, str]], sizes: Sizes
) -> None:
    v2 = [(n, m) for n, (spec, _) in enumerate(pool[: sizes.v2]) if (m := v2_message(spec, n))]
    fhir_same = [pool[n][1] for n, _ in v2]
    ndjson, hl7 = work / "same.ndjson", work / "same.hl7"
    ndjson.write_text("\n".join(fhir_same) + "\n")
    hl7.write_text("".join("\x0b" + m + "\x1c\x0d" for _, m in v2))
    startup = cli_startup(work)
    say(f"CLI: --hl7v2 against --ndjson on the same {len(v2)} cases")
    rate_ndjson = cli_rate(ndjson, len(v2), startup)
    rate_v2 = cli_rate(hl7, len(v2), startup, flag="--hl7v2")
    report.add(Figure(f"CLI --ndjson, same {len(v2):,} cases as v2", rate_ndjson, "msg/s"))
    report.add(
        Figure(
            "CLI --hl7v2, same cases",
            rate_v2,
            "msg/s",
            Target(">=", 0.7, f"CLI --ndjson, same {len(v2):,} cases as v2"),
        )
    )
    names = ("MLLP ACKs/s, 4 connections", "MLLP ACK p99 at 200 msg/s")
    if not mllp_available():
        for name in names:
            report.add(Figure(name, None, "", note="not available: no `her2-adapter mllp` yet"))
        return
    frames = [m.encode() for _, m in v2][: sizes.mllp]
    say(f"MLLP: {len(frames)} messages over 4 connections, then open loop at {sizes.rate:g}/s")
    rate, _ = mllp_run(env, frames, 4, None)
    env.redis().delete("her2")  # no worker runs here: drop the queued jobs
    count = int(sizes.rate * sizes.rate_seconds)
    _, latencies = mllp_run(env, (frames * 10)[:count], 4, sizes.rate)
    env.redis().delete("her2")
    report.add(Figure(names[0], rate, "ack/s", Target(">=", 1000)))
    report.add(Figure(names[1], percentile(latencies, 99) * 1000, "ms", Target("<", 10)))


if __name__ == "__main__":
    sys.exit(main())
