"""[2] The queue: the Celery app built from settings, the job schema, and `submit()`.

A job is JSON only (no pickle): `InterpretJob` v1 carries the message exactly as received, as
text, so the worker re-parses it with `parse_json` and every number stays an exact Decimal.

Delivery is at-least-once: tasks are acknowledged after they ran (`acks_late`), a task whose
worker process died is re-queued (`reject_on_worker_lost`), and a message a killed worker had
taken is restored by the Redis transport once `visibility_timeout_seconds` passed. The worker is
therefore idempotent (deterministic ids, PUT; see workers/tasks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

import celery
import kombu.exceptions
import redis
from pydantic import BaseModel, ConfigDict

from adapter.errors import QueueUnavailable
from adapter.settings import Settings

QUEUE: Final = "her2"
FHIR_MEDIA_TYPE: Final = "application/fhir+json"
HL7V2_MEDIA_TYPE: Final = "application/hl7-v2"  # a job of the MLLP door: one ER7 message
TASK_NAME: Final = "her2.interpret"
# Publishing must fail fast so the API can answer 503 while the sender still waits: one retry
# after 0.2 s, a 1 s socket timeout; about one second in all.
PUBLISH_RETRY_POLICY: Final = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
UNACKED_MUTEX_SECONDS: Final = 10
# kombu's Redis transport keeps one list per priority step; without priorities only the first.
_PRIORITY_SEPARATOR: Final = "\x06\x16"
_PRIORITY_STEPS: Final = (0, 3, 6, 9)


class InterpretJob(BaseModel):
    """One accepted message, as the API or the MLLP listener queued it (schema v1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    job_id: str
    door: Literal["http", "mllp"]
    received_at: datetime
    body: str  # the message exactly as received (UTF-8 text): numbers stay exact
    media_type: str = "application/fhir+json"
    site: str | None = None  # --site style override: breast | gastric | other


def make_celery(settings: Settings) -> celery.Celery:
    """The Celery app of the service: Redis broker, JSON only, no result backend.

    Raises ValueError when `settings.redis_url` is unset.
    """
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: the queue needs Redis")
    visibility = settings.visibility_timeout_seconds
    app = celery.Celery("her2", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message per process at a time: a killed process loses (and re-queues) only its own.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=1.0,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Sweep for messages of killed workers often enough that one is restored soon after
            # its visibility timeout (kombu's default sweep runs only every ~100 s).
            "unacked_restore_interval": max(1, min(10, visibility // 5)),
            "unacked_restore_throttle": 1,
            # The sweep runs under a Redis mutex that expires after 300 s by default: a worker
            # SIGKILLed while holding it stopped every restore for five minutes (found by the
            # long soak). A sweep restores a few messages in milliseconds; 10 s is ample.
            "unacked_mutex_expire": UNACKED_MUTEX_SECONDS,
            "socket_connect_timeout": 1.0,
            "socket_timeout": 5.0,
            "health_check_interval": 15,
        },
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        timezone="UTC",
        enable_utc=True,
    )
    return app


def submit(app: celery.Celery, job: InterpretJob) -> None:
    """Queue `job`; returns only after Redis stored the task message.

    Raises `QueueUnavailable` when the broker cannot take it (after about one second).
    """
    try:
        app.send_task(
            TASK_NAME,
            args=[job.model_dump(mode="json")],
            task_id=job.job_id,
            queue=QUEUE,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            ignore_result=True,
        )
    except (kombu.exceptions.OperationalError, redis.RedisError, OSError) as error:
        raise QueueUnavailable(
            f"the queue did not accept the job: {type(error).__name__}"
        ) from error


def queue_depth(client: redis.Redis) -> int:
    """Number of task messages waiting in the queue (not counting those being worked on)."""
    keys = [QUEUE] + [f"{QUEUE}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS[1:]]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    counts: list[Any] = pipe.execute()
    return sum(int(n) for n in counts)
