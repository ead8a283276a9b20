"""`her2-adapter backfill` end to end: the real command, real workers, real Redis and the FHIR
test server. A realistic feed (the soak's: IHC and ISH apart, re-sent messages, amendments,
messages bad only once fetched) is checked as the soak checks the service (tests/soak/verify.py),
after the command was killed half-way and run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapter.backfill_store import BackfillStore
from adapter.dead_letters import DeadLetterQueue
from adapter.job_store import JobState, JobStore
from adapter.mapping_files import default_mappings
from adapter.service.backfill import MAX_WAITING_BATCHES, NAMESPACE, identify
from tests.integration.conftest import ehr_holds
from tests.soak.load import Sent
from tests.soak.plan import make_plan
from tests.soak.verify import problems, verify
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.processes import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCH = 7  # small: a case's messages fall in one batch and across batches


@pytest.fixture(scope="module")
def lenient_fhir_server() -> Iterator[FhirTestServer]:
    """The soak's server: it takes a report naming inputs it does not hold (the feed's results
    are only in the file, as an archive's are)."""
    with FhirTestServer(free_port(), quiet=True) as server:
        yield server


@pytest.fixture
def env(
    redis_db: redis.Redis, redis_url: str, lenient_fhir_server: FhirTestServer
) -> dict[str, str]:
    redis_db.flushdb()
    lenient_fhir_server.reset()
    values = {k: v for k, v in os.environ.items() if not k.startswith(("FHIR_", "REDIS_"))}
    values.update(
        REDIS_URL=redis_url,
        FHIR_SERVER_URL=lenient_fhir_server.base_url,
        WORKER_CONCURRENCY="2",
        VISIBILITY_TIMEOUT_SECONDS="6",
        RETRY_BACKOFF_MAX_SECONDS="2",
        LOG_LEVEL="INFO",
    )
    return values


def backfill(env: dict[str, str], *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "backfill", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def job_id(path: Path, line: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{identify(path)[0]}:{line}"))


def test_a_killed_backfill_resumes_and_the_feed_ends_as_the_service_would_leave_it(
    env: dict[str, str],
    redis_db: redis.Redis,
    lenient_fhir_server: FhirTestServer,
    tmp_path: Path,
) -> None:
    plan = make_plan(260, seed=17, bursts=0, bad=3)
    if plan.bad:
        ehr_holds(lenient_fhir_server, *plan.bad.values())
    lines = [m.body for m in plan.messages]
    # Line 5 is read by the first run, line 250 by the second.
    refused_at = {5: "not json", 250: json.dumps({"resourceType": "Patient", "id": "x"})}
    for line, text in sorted(refused_at.items()):
        lines.insert(line - 1, text)
    feed = tmp_path / "archive.ndjson"
    feed.write_text("\n".join(lines) + "\n")
    backfill_id = identify(feed)[0]
    store = BackfillStore(redis_db)

    # No worker yet: the command queues MAX_WAITING_BATCHES batches, then waits for the queue
    # to drain; it is killed there, as a crash would stop it.
    first = backfill(env, "--batch", BATCH, feed)
    try:
        wait_for(
            lambda: (p := store.get(backfill_id)) and p.batches >= MAX_WAITING_BATCHES,
            60,
            "the first batches to be queued",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        _, first_err = first.communicate()
    assert f"her2-adapter: {feed}: line 5: not JSON: Expecting value" in first_err
    stopped = store.get(backfill_id)
    assert stopped is not None
    assert stopped.finished_at is None
    assert stopped.queued == MAX_WAITING_BATCHES * BATCH

    workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log").start() for i in range(2)]
    try:
        second = backfill(env, "--batch", BATCH, feed)
        out, err = second.communicate(timeout=300)
    finally:
        for worker in workers:
            worker.stop()
    assert second.returncode == 2, err  # two lines refused
    assert [line for line in err.splitlines() if "her2-adapter:" in line] == [
        f"her2-adapter: {feed}: line 250: resourceType: a message is an Observation or a "
        "Bundle, not Patient",
    ]
    done = store.get(backfill_id)
    assert done is not None
    assert done.complete
    good = len(plan.messages)
    # Every line queued once: the count moves in the MULTI that queues each batch, and a
    # resumed run reads on from the last batch queued.
    assert (done.queued, done.refused, done.line) == (good, 2, len(lines))
    assert done.batches == MAX_WAITING_BATCHES + -(-(good - stopped.queued) // BATCH)
    assert (done.interpreted, done.failed) == (good - len(plan.bad), len(plan.bad))
    assert f"{good:,} queued, 2 refused, {good - len(plan.bad):,} interpreted" in out

    message_lines = [n for n in range(1, len(lines) + 1) if n not in refused_at]
    sent = Sent(jobs={i: [job_id(feed, n)] for i, n in enumerate(message_lines)})
    logs = {f"worker-{i}": w.log() for i, w in enumerate(workers)}
    findings = verify(plan, sent, redis_db, lenient_fhir_server, default_mappings(), logs)
    assert not problems(findings), problems(findings)

    again = backfill(env, "--batch", BATCH, feed)  # complete: nothing is sent again
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 2
    assert store.get(backfill_id) == done
    assert "already complete" in out


def test_a_batch_failing_as_a_whole_is_split_so_only_its_culprit_is_dead_lettered(
    env: dict[str, str], redis_db: redis.Redis, tmp_path: Path
) -> None:
    plan = make_plan(12, seed=5, bursts=0, bad=0)
    missing = {"resourceType": "Bundle", "type": "collection",
               "entry": [{"fullUrl": "Observation/never-stored"}]}  # fmt: skip
    lines = [m.body for m in plan.messages]
    lines.insert(3, json.dumps(missing))  # line 4: the server answers 404 when it is fetched
    feed = tmp_path / "split.ndjson"
    feed.write_text("\n".join(lines) + "\n")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        run = backfill(env, "--batch", 50, feed)  # one batch holds every line
        out, err = run.communicate(timeout=120)
    finally:
        worker.stop()
    assert run.returncode == 2, err
    jobs = JobStore(redis_db, 3600)
    states: dict[int, Any] = {}
    for line in range(1, len(lines) + 1):
        record = jobs.get(job_id(feed, line))
        assert record is not None
        states[line] = record.state
    assert states.pop(4) is JobState.FAILED
    assert set(states.values()) == {JobState.DONE}
    letters = DeadLetterQueue(redis_db, 3600).list()
    assert [(letter.id, letter.reason) for letter in letters] == [
        (job_id(feed, 4), "write-rejected")
    ]
    assert "batch split into jobs" in worker.log()
    progress = BackfillStore(redis_db).get(identify(feed)[0])
    assert progress is not None
    assert (progress.interpreted, progress.failed) == (len(lines) - 1, 1)
    assert "1 dead-lettered" in out
