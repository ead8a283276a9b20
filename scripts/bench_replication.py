"""What "accepted means replicated" costs per message (issue 15): the enqueue a door makes
before its 202 / AA, with REDIS_MIN_REPLICAS=0 (the primary's answer, today's behaviour) and
=1 (MULTI..EXEC + WAIT 1 in the same round trip), directly and through the Sentinels. Prints
figures; it is not a test and asserts nothing.

    python scripts/bench_replication.py [--messages 3000] [--rounds 3]

Starts its own primary, replica and three Sentinels (tests/support/redis_sentinel.py: the
machine's redis-server, AOF with fsync always on both data nodes, ports 6396-6397 and
26390-26392), and enqueues realistic jobs (an IHC + ISH Bundle, about 1 KB) one at a time from
one thread, as one door request does: wall and CPU time per message, median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapter.job_store import JobStore
from adapter.queue import InterpretJob, make_celery
from adapter.redis_client import Replication, redis_client
from adapter.settings import Settings
from tests.builders import her2_bundle, ihc_observation, ish_observation
from tests.support.redis_sentinel import SentinelCluster

BODY = json.dumps(
    her2_bundle(
        ihc_observation("2+", id="ihc-1", specimen="Specimen/s1"),
        ish_observation("2.5", her2="6.0", cep17="2.4", id="ish-1", specimen="Specimen/s1"),
    ),
    default=float,
)


def per_message(settings: Settings, messages: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per enqueue of `messages` jobs, one at a time."""
    client = redis_client(settings)
    jobs = JobStore(client, 600, replication=Replication.of(settings))
    app = make_celery(settings)
    batch = [
        InterpretJob(job_id=uuid.uuid4().hex, door="http", received_at=datetime.now(UTC), body=BODY)
        for _ in range(messages)
    ]
    jobs.enqueue(app, batch[0])  # connect first
    wall, cpu = time.perf_counter(), time.process_time()
    for job in batch[1:]:
        jobs.enqueue(app, job)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    client.flushdb()
    client.close()
    return 1000 * wall / (messages - 1), 1000 * cpu / (messages - 1)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="her2-bench-replication-") as tmp,
        SentinelCluster(Path(tmp)) as cluster,
    ):
        direct = f"redis://127.0.0.1:{cluster.primary_port()}/0"
        sentinels = {
            "redis_sentinels": cluster.sentinels,
            "redis_sentinel_service": cluster.service,
        }
        variants = {
            "REDIS_URL, no replica awaited (today)": Settings(redis_url=direct),
            "REDIS_URL, REDIS_MIN_REPLICAS=1": Settings(redis_url=direct, redis_min_replicas=1),
            "Sentinels, no replica awaited": Settings(**sentinels),
            "Sentinels, REDIS_MIN_REPLICAS=1": Settings(**sentinels, redis_min_replicas=1),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(args.rounds):  # interleaved, so drift hits every variant alike
            for name, settings in variants.items():
                results[name].append(per_message(settings, args.messages))
    baseline = statistics.median(w for w, _ in results["REDIS_URL, no replica awaited (today)"])
    say(f"{args.messages} enqueues x {args.rounds} rounds, median; body {len(BODY)} bytes")
    say(f"{'variant':42} {'wall ms/msg':>12} {'CPU ms/msg':>11} {'wall ratio':>10}")
    for name, figures in results.items():
        wall = statistics.median(w for w, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        say(f"{name:42} {wall:12.3f} {cpu:11.3f} {wall / baseline:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
