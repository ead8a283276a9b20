"""Run the fault-injection soak: `python -m tests.soak.run --messages 10000` (or scripts/soak).

Starts its own redis-server (AOF, fsync always), the FHIR test server (with a data file, so a
stop/start keeps what was written), `her2-adapter serve` and two `her2-adapter worker`
processes; posts the plan's messages while injecting the faults; waits (bounded) until every
accepted job is done or dead-lettered; checks the result (tests/soak/verify.py) and writes the
summary to `<out>/soak-summary.json`.

Faults, each triggered by the share of messages sent so far:
- a worker SIGKILLed (with its pool) and restarted: once at 20 %, or every `kill_every` s;
- Redis SIGKILLed at 40 % and started again on the same port and directory (AOF reload);
- the FHIR server stopped (SIGTERM) at 60 % for `fhir_outage` seconds, then started again;
- bursts of 8 messages for one specimen (in the plan, posted by 8 threads at one moment).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from adapter.job_store import JobState, JobStore
from adapter.mapping_files import default_mappings
from tests.soak.load import Feed, Sent
from tests.soak.plan import Plan, make_plan
from tests.soak.processes import RedisServer, service_env
from tests.soak.verify import problems, verify
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.processes import WorkerProcess, wait_for
from tests.support.serve import ServeProcess

API_KEY = "soak-key"


@dataclass
class SoakConfig:
    messages: int = 1000
    seed: int = 1
    senders: int = 8
    bursts: int = 1
    bad: int = 5
    kill_every: float | None = None  # None: one SIGKILL at 20 %
    fhir_outage: float = 10.0
    visibility_timeout: int = 30
    backoff_max: int = 10
    max_retries: int | None = None  # None: the service's default
    settle_timeout: float = 300.0


@dataclass
class Faults:
    worker_kills: int = 0
    redis_restarts: int = 0
    fhir_outages: int = 0
    redis_failovers: int = 0  # the failover soak (tests/soak/failover.py)
    stalled_workers: int = 0
    log: list[str] = field(default_factory=list)


class Soak:
    def __init__(self, config: SoakConfig, directory: Path) -> None:
        self.config = config
        self.dir = directory
        self.redis = RedisServer(free_port(), directory / "redis")
        self.fhir = FhirTestServer(
            free_port(), data_file=directory / "fhir.jsonl", quiet=True,
            log_path=directory / "fhir.log",
        )  # fmt: skip
        self.faults = Faults()
        self.workers: list[WorkerProcess] = []
        self.api: ServeProcess | None = None
        self.t0 = time.monotonic()

    def env(self) -> dict[str, str]:
        values = {
            "REDIS_URL": self.redis.url,
            "FHIR_SERVER_URL": self.fhir.base_url,
            "ADAPTER_API_KEYS": API_KEY,
            "VISIBILITY_TIMEOUT_SECONDS": str(self.config.visibility_timeout),
            "RETRY_BACKOFF_MAX_SECONDS": str(self.config.backoff_max),
            "FHIR_TIMEOUT_SECONDS": "5",
            "WORKER_CONCURRENCY": "2",
            "WORKER_HEARTBEAT_SECONDS": "2",
            "LOG_LEVEL": "INFO",
            "SINK_DIR": str(self.dir / "sink"),
        }
        if self.config.max_retries is not None:
            values["MAX_RETRIES"] = str(self.config.max_retries)
        return service_env(**values)

    def client(self) -> redis.Redis:
        """A client of the soak's Redis, for the checks."""
        return redis.Redis.from_url(self.redis.url, socket_timeout=5)

    def findings(
        self,
        found: dict[str, Any],  # noqa: ARG002 - the base soak checks nothing more
        plan: Plan,  # noqa: ARG002
        sent: Sent,  # noqa: ARG002
        client: redis.Redis,  # noqa: ARG002
    ) -> dict[str, Any]:
        """What this soak checks beyond `verify` (the failover soak adds its own)."""
        return {}

    def start(self) -> None:
        self.redis.start()
        self.fhir.start()
        self.api = ServeProcess(free_port(), self.env(), self.dir / "api.log").start()
        for i in range(2):
            worker = WorkerProcess(self.env(), self.dir / f"worker-{i}.log")
            worker.start()
            self.workers.append(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.api is not None:
            self.api.stop()
        self.fhir.close() if hasattr(self.fhir, "close") else self.fhir.stop()
        self.redis.stop()

    def _say(self, what: str) -> None:
        line = f"{time.monotonic() - self.t0:7.1f}s {what}"
        self.faults.log.append(line)
        print(line, file=sys.stderr, flush=True)

    def kill_worker(self, i: int) -> None:
        worker = self.workers[i % len(self.workers)]
        worker.kill()
        self.faults.worker_kills += 1
        self._say(f"SIGKILL worker {i % len(self.workers)}")
        worker.start(wait=False)

    def restart_redis(self) -> None:
        self.redis.kill()
        self._say("SIGKILL redis")
        self.redis.start()
        self.faults.redis_restarts += 1
        self._say("redis up again (AOF loaded)")

    def fhir_outage(self) -> None:
        self.fhir.stop()
        self._say(f"FHIR server stopped for {self.config.fhir_outage:.0f}s")
        time.sleep(self.config.fhir_outage)  # the outage itself, not a wait for a service
        self.fhir.start()
        self.faults.fhir_outages += 1
        self._say("FHIR server up again")

    def inject(self, feed: Feed, done: threading.Event) -> None:
        """Fire each fault when its share of the messages was sent."""
        total = len(feed.plan.messages)
        once = [(0.4, self.restart_redis), (0.6, self.fhir_outage)]
        if self.config.kill_every is None:
            once.insert(0, (0.2, lambda: self.kill_worker(0)))
        next_kill, kills = time.monotonic() + (self.config.kill_every or 0), 0
        while not done.is_set():
            share = feed.sent.progress / total
            while once and share >= once[0][0]:
                once.pop(0)[1]()
            if self.config.kill_every and time.monotonic() >= next_kill:
                self.kill_worker(kills)
                kills += 1
                next_kill = time.monotonic() + self.config.kill_every
            done.wait(0.2)


def run(config: SoakConfig, directory: Path, soak_type: type[Soak] | None = None) -> dict[str, Any]:
    plan = make_plan(config.messages, config.seed, bursts=config.bursts, bad=config.bad)
    mappings = default_mappings()
    soak = (soak_type or Soak)(config, directory)
    soak.start()
    try:
        assert soak.api is not None
        fhir = soak.fhir.client()  # the server's own: closed when it stops, not here
        for oid, resource in plan.bad.items():
            fhir.put(f"Observation/{oid}", json=resource).raise_for_status()
        client = soak.client()
        jobs = JobStore(client, 3600)

        def job_done(job_id: str) -> bool:
            try:
                record = jobs.get(job_id)
            except redis.RedisError:
                return False
            return record is not None and record.state is not JobState.QUEUED

        feed = Feed(soak.api.base_url, API_KEY, plan, job_done)
        done = threading.Event()
        injector = threading.Thread(target=soak.inject, args=(feed, done), daemon=True)
        started = time.monotonic()
        injector.start()
        try:
            feed.run(config.senders)
        finally:
            done.set()
            injector.join()
        sent_at = time.monotonic()
        soak._say(f"all {len(plan.messages)} messages answered")
        accepted = [j for ids in feed.sent.jobs.values() for j in ids]
        settled = _settle(client, accepted, config.settle_timeout)
        settled_at = time.monotonic()
        soak._say(f"settled: {settled} of {len(accepted)} jobs done or failed")
        logs = {p.name: p.read_text(errors="replace") for p in directory.glob("*.log")
                if p.name.startswith(("api", "worker", "mllp"))}  # fmt: skip
        findings = verify(plan, feed.sent, client, soak.fhir, mappings, logs)
        findings.update(soak.findings(findings, plan, feed.sent, client))
        client.close()
    finally:
        soak.stop()
    summary = {
        "config": asdict(config),
        "messages": len(plan.messages),
        "cases": len(plan.cases),
        "accepted_jobs": len(accepted),
        "http_statuses": dict(feed.sent.statuses),
        "retried_503": feed.sent.statuses.get("503", 0),
        "faults": asdict(soak.faults),
        "send_seconds": round(sent_at - started, 1),
        "total_seconds": round(settled_at - started, 1),
        "accepted_per_second": round(len(accepted) / (sent_at - started), 1),
        "processed_per_second": round(len(accepted) / (settled_at - started), 1),
        "findings": findings,
        "ok": not problems(findings),
        "machine": _machine(),
    }
    (directory / "soak-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _settle(client: redis.Redis, job_ids: list[str], timeout: float) -> int:
    """Wait (bounded) until no accepted job is queued any more; returns how many settled."""
    state: dict[str, int] = {"settled": 0}

    def probe() -> bool:
        pipe = client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(f"her2:job:{job_id}", "state")
        states = pipe.execute()
        state["settled"] = sum(s in (b"done", b"failed") for s in states)
        return state["settled"] == len(job_ids)

    with contextlib.suppress(AssertionError):  # verify() names what is missing
        wait_for(probe, timeout, "every accepted job to be done or dead-lettered")
    return state["settled"]


def _machine() -> dict[str, Any]:
    import os

    mem = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
         if line.startswith("MemTotal")), "0",
    )  # fmt: skip
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=10.0, help="seconds between SIGKILLs")
    parser.add_argument("--fhir-outage", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    config = SoakConfig(
        messages=args.messages, seed=args.seed, kill_every=args.kill_every,
        fhir_outage=args.fhir_outage, bursts=max(1, args.messages // 2000),
        bad=max(5, args.messages // 500), settle_timeout=900.0,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="her2-soak-") as tmp:
        summary = run(config, Path(tmp))
        (args.out / "soak-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
