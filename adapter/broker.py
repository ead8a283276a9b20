"""The one module that knows how Celery's Redis transport (kombu) keeps its messages.

Why it exists (README "The queue"): a job's record, its outbox entry and its Celery task are
written in one MULTI (`JobStore.enqueue`), so Redis holds all three or none and a 202 / AA costs
one round trip. Celery's public `send_task` would be a second round trip and not atomic with the
record (measured: 0.27 ms of CPU per message for the MULTI against 0.61 ms with `send_task`).
The price is knowing kombu's stored form, which is confined here; `celery` and `kombu` are
pinned to the minor versions the suite proves, and `tests/integration/test_broker_form.py`
compares this form with what the installed kombu itself stores, naming any field that changed.

kombu's Redis transport keeps: the queue as a list per priority step (`her2`, then
`her2<SEP>3`, ...; LPUSH in, BRPOP out), each element the JSON envelope below; a message handed
to a worker and not yet acknowledged in the hash `unacked` (delivery tag -> JSON
`[message, exchange, routing key]`), restored to its queue after the visibility timeout.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Final

import celery
import redis

from adapter.queue import QUEUE, TASK_NAME, InterpretJob

UNACKED: Final = "unacked"
PRIORITY_SEPARATOR: Final = "\x06\x16"  # kombu's separator of a queue's priority lists
PRIORITY_STEPS: Final = (0, 3, 6, 9)  # without priorities only the first list is used


def task_message(app: celery.Celery, job: InterpretJob) -> str:
    """The task message of `job` exactly as Celery's Redis transport keeps it in the queue list:
    Celery's own protocol-2 headers and body (`app.amqp`) in kombu's envelope (base64 body, a
    fresh delivery tag, the default exchange routing straight to QUEUE). The task's argsrepr
    names the job only; the message's text stays out of the headers."""
    task = app.amqp.as_task_v2(
        job.job_id,
        TASK_NAME,
        args=[job.model_dump(mode="json")],
        kwargs={},
        ignore_result=True,
        argsrepr=f"[job {job.job_id}]",
        kwargsrepr="{}",
    )
    body = json.dumps(task.body).encode()
    return json.dumps(
        {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": task.headers,
            "properties": {
                **task.properties,
                "delivery_mode": 2,  # persistent
                "delivery_info": {"exchange": "", "routing_key": QUEUE},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def queue_depth(client: redis.Redis) -> int:
    """Number of task messages waiting in the queue (not counting those being worked on)."""
    keys = [QUEUE] + [f"{QUEUE}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS[1:]]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    counts: list[Any] = pipe.execute()
    return sum(int(n) for n in counts)


def held_task_ids(client: redis.Redis) -> set[str]:
    """Ids of the tasks the broker has handed out and not yet seen acknowledged."""
    ids = set()
    for raw in client.hvals(UNACKED):
        try:
            ids.add(str(json.loads(raw)[0]["headers"]["id"]))
        except (ValueError, LookupError, TypeError):
            continue  # not a Celery task message: not ours to judge
    return ids
