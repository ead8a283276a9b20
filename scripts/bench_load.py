"""The load scripts/bench.py puts on the service: POSTs (closed or open loop) and MLLP frames.

The HTTP load generator is a minimal keep-alive HTTP/1.1 client: it shares the 2 cores with
what it measures (httpx cost about 2 ms of CPU per request here, as much as the API itself).
In the open loop a request's latency counts from its scheduled send, so a wait for a free
connection is not hidden. End-to-end times are read afterwards from the job records
(`settled_at`, written by the worker): nothing polls Redis while a run is measured.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
from bench_procs import API_KEY, Cpu, Env, Process, wait_for

JOB_PREFIX = "her2:job:"


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
    count: int
    rate: float  # messages/s, first POST -> last job settled
    failed: int
    peak_rss_mb: float  # the worker's largest process
    ingest: list[float]  # POST -> 202, seconds
    end_to_end: list[float]  # POST sent -> job settled, seconds
    api_cpu: Cpu  # of the API over the run
    worker_cpu: Cpu  # of the worker and its pool over the run

    def ms_per_message(self, cpu: Cpu) -> float:
        return cpu.total * 1000 / self.count


def service_run(
    env: Env,
    base: str,
    api: Process,
    worker: Process,
    bodies: Sequence[str],
    rate: float | None = None,
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
    api_cpu, worker_cpu = api.cpu(), worker.cpu()
    started = time.time()
    ingest = asyncio.run(_post_all(base, bodies, watch, 8 if rate is None else 64, rate))
    watch.wait(len(bodies), 900)
    api_cpu, worker_cpu = api.cpu() - api_cpu, worker.cpu() - worker_cpu
    finished = max(settled for _, settled, _ in watch.settled.values())
    stop.set()
    sampler.join()
    return ServiceRun(
        count=len(bodies),
        rate=len(bodies) / (finished - started),
        failed=watch.failed(),
        peak_rss_mb=peak[0],
        ingest=ingest,
        end_to_end=[settled - sent for sent, settled, _ in watch.settled.values()],
        api_cpu=api_cpu,
        worker_cpu=worker_cpu,
    )


async def mllp_send(
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
