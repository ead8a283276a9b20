"""Re-submits accepted jobs (and backfill batches) the broker lost: the outbox side of "never
lose a message".

Celery's Redis transport takes a task with BRPOP and only then records it as unacknowledged;
a Redis crash between the two (or a Redis restart while the task is in flight) loses it, and
acks_late cannot help a task the broker no longer has. Every accepted job is also pending in
the job store (adapter/job_store.py) until it is done or failed. Every half visibility timeout one
worker (a short Redis lock picks it) looks for jobs pending for longer than the visibility
timeout that the broker neither queues nor holds unacknowledged, and submits them again. A
re-submitted job that was not lost after all is processed twice, which the idempotent worker
makes harmless (same ids, same report).

While the queue is not empty nothing is swept: a pending job may simply be waiting its turn,
and looking for it in a long queue is costly. It is swept once the backlog has drained. The
worker runs `sweep_once` on a timer (workers/lifecycle.py).
"""

from __future__ import annotations

import logging
import time
from typing import Final

import celery
import redis

from adapter.broker import held_task_ids, queue_depth
from adapter.job_store import JobStore
from adapter.metrics import Metrics
from adapter.queue import InterpretBatch
from adapter.redis_client import Replication
from adapter.settings import Settings

log = logging.getLogger("her2.sweeper")
LOCK: Final = "her2:sweeper"


def sweep(client: redis.Redis, app: celery.Celery, settings: Settings) -> list[str]:
    """Re-submit the pending jobs the broker lost; returns their ids."""
    if queue_depth(client) > 0:
        return []
    jobs = JobStore(client, settings.job_retention_seconds, replication=Replication.of(settings))
    candidates = jobs.pending_since(time.time() - settings.visibility_timeout_seconds)
    if not candidates:
        return []
    held = held_task_ids(client)
    resent = []
    for job_id in candidates:
        task = jobs.pending_task(job_id) if job_id not in held else None
        if task is None:
            continue
        if isinstance(task, InterpretBatch):
            jobs.enqueue_batch(app, task)
        else:
            jobs.enqueue(app, task)
        resent.append(job_id)
        log.warning(
            "accepted job no longer held by the broker: submitted again", extra={"job_id": job_id}
        )
        Metrics(client).incr("her2_jobs_resubmitted_total")
    return resent


def sweep_once(client: redis.Redis, app: celery.Celery, settings: Settings) -> list[str]:
    """`sweep` in whichever worker takes the short lock first (one sweep per interval)."""
    if not client.set(LOCK, "1", nx=True, ex=sweep_interval(settings)):
        return []
    return sweep(client, app, settings)


def sweep_interval(settings: Settings) -> int:
    """Every half visibility timeout: a lost job is found within one and a half of them."""
    return max(1, settings.visibility_timeout_seconds // 2)
