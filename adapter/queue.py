"""[2] The queue: the Celery app built from settings, and the job schema.

How kombu stores a task in Redis is `adapter/broker.py`'s alone.

A job is JSON only (no pickle): `InterpretJob` v1 carries the message exactly as received, as
text, so the worker re-parses it with `parse_json` and every number stays an exact Decimal. A
bulk backfill queues its messages by the hundred: `InterpretBatch`, one task whose jobs keep
their own ids, records and dead letters (adapter/service/batch.py).

Delivery is at-least-once: tasks are acknowledged after they ran (`acks_late`), a task whose
worker process died is re-queued (`reject_on_worker_lost`), and a message a killed worker had
taken is restored by the Redis transport once `visibility_timeout_seconds` passed. The worker is
therefore idempotent (deterministic ids, PUT; see workers/tasks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

import celery
from pydantic import BaseModel, ConfigDict

from adapter.redis_client import broker_url
from adapter.settings import Settings

QUEUE: Final = "her2"
FHIR_MEDIA_TYPE: Final = "application/fhir+json"
HL7V2_MEDIA_TYPE: Final = "application/hl7-v2"  # a job of the MLLP door: one ER7 message
TASK_NAME: Final = "her2.interpret"
BATCH_TASK_NAME: Final = "her2.interpret_batch"
# A worker's retry publish fails fast (and the job is kept, workers/tasks.py): one retry after
# 0.2 s, a 1 s socket timeout; about one second in all.
PUBLISH_RETRY_POLICY: Final = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
UNACKED_MUTEX_SECONDS: Final = 10


class InterpretJob(BaseModel):
    """One accepted message, as the API or the MLLP listener queued it (schema v1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    job_id: str
    door: Literal["http", "mllp", "backfill"]
    received_at: datetime
    body: str  # the message exactly as received (UTF-8 text): numbers stay exact
    media_type: str = "application/fhir+json"
    site: str | None = None  # --site style override: breast | gastric | other
    backfill: str | None = None  # the backfill it came from (its progress counts it)


class InterpretBatch(BaseModel):
    """Messages of a backfill queued as one task (schema v1), settled as one transaction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    batch_id: str
    jobs: tuple[InterpretJob, ...]

    @property
    def received_at(self) -> datetime:
        """When its first message was read: its retries are timed from then."""
        return self.jobs[0].received_at


def make_celery(settings: Settings) -> celery.Celery:
    """The Celery app of the service: Redis broker, JSON only, no result backend.

    Raises ValueError when neither REDIS_URL nor REDIS_SENTINELS is set.
    """
    if not settings.redis_configured:
        raise ValueError("REDIS_URL is not set: the queue needs Redis")
    visibility = settings.visibility_timeout_seconds
    sentinel_options = (
        {"master_name": settings.redis_sentinel_service} if settings.redis_sentinels else {}
    )
    app = celery.Celery("her2", broker=broker_url(settings), set_as_current=False)
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
            # With REDIS_SENTINELS: which primary the Sentinels are asked for (kombu's
            # `sentinel://` transport; the same Redis keys as the plain one).
            **sentinel_options,
        },
        task_publish_retry=True,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        timezone="UTC",
        enable_utc=True,
    )
    return app
