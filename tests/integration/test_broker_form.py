"""The Redis transport's stored message form, as the installed kombu writes it, against the form
`adapter/broker.py` writes (the job store pushes tasks itself, in one MULTI with their record).

If a celery / kombu upgrade changes the form, these tests fail naming the field that changed,
before a single job is queued in a form the workers would not read.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import celery
import pytest
import redis

from adapter.broker import UNACKED, held_task_ids, queue_depth, task_message
from adapter.queue import QUEUE, TASK_NAME, InterpretJob

pytestmark = pytest.mark.integration


def job() -> InterpretJob:
    return InterpretJob(
        job_id=str(uuid.uuid4()), door="http", received_at=datetime.now(UTC), body="{}"
    )


def kombus_own(app: celery.Celery, redis_db: redis.Redis, queued: InterpretJob) -> dict[str, Any]:
    """What kombu itself stores for the same task, published through Celery's public API."""
    redis_db.delete(QUEUE)
    app.send_task(TASK_NAME, args=[queued.model_dump(mode="json")], task_id=queued.job_id)
    (raw,) = redis_db.lrange(QUEUE, 0, -1)
    redis_db.delete(QUEUE)
    stored: dict[str, Any] = json.loads(raw)
    return stored


def differences(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> list[str]:
    """Fields present on one side only, by their path."""
    return [f"{where}.{name}" for name in sorted(ours.keys() ^ theirs.keys())]


def test_the_envelope_is_the_one_kombu_stores(app: celery.Celery, redis_db: redis.Redis) -> None:
    queued = job()
    ours = json.loads(task_message(app, queued))
    theirs = kombus_own(app, redis_db, queued)

    changed = differences(ours, theirs, "message")
    changed += differences(ours["properties"], theirs["properties"], "message.properties")
    changed += differences(ours["headers"], theirs["headers"], "message.headers")
    assert not changed, f"kombu's stored form changed: {changed}"
    for name in ("content-type", "content-encoding"):
        assert ours[name] == theirs[name], f"message.{name}"
    for name in ("delivery_info", "body_encoding", "delivery_mode", "priority"):
        assert ours["properties"][name] == theirs["properties"][name], f"properties.{name}"
    for name in ("task", "id", "root_id", "lang"):
        assert ours["headers"][name] == theirs["headers"][name], f"headers.{name}"
    body = [json.loads(base64.b64decode(m["body"])) for m in (ours, theirs)]
    assert body[0] == body[1], "message.body"


def test_a_task_handed_out_and_not_acknowledged_is_seen_as_held(
    app: celery.Celery, redis_db: redis.Redis
) -> None:
    queued = job()
    redis_db.lpush(QUEUE, task_message(app, queued))
    assert queue_depth(redis_db) == 1
    with app.connection_for_read() as connection:
        message = connection.default_channel.basic_get(QUEUE, no_ack=False)
        assert message is not None
        assert redis_db.hlen(UNACKED) == 1, "kombu no longer records handed-out tasks in 'unacked'"
        assert held_task_ids(redis_db) == {queued.job_id}, "unacked entry: [message, ...] form"
        message.ack()
    assert held_task_ids(redis_db) == set()
    assert queue_depth(redis_db) == 0
