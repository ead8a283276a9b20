"""Baseline B of scripts/bench.py: a Celery task per message that only parses it.

The same Celery configuration as the service (`make_celery`: JSON, acks_late, prefetch 1, the
same Redis), so the ratio of the service to this baseline shows what the adapter adds to, or
saves over, the bare cost of one task per message. Each run counts into `COUNTER`.

    celery -A bench_parse_worker worker -Q bench-parse   (PYTHONPATH=scripts, REDIS_URL set)
"""

from __future__ import annotations

from typing import Any, Final

from adapter.fhir.json_input import parse_json
from adapter.queue import make_celery
from adapter.redis_client import redis_client
from adapter.settings import get_settings

QUEUE: Final = "bench-parse"
TASK: Final = "bench.parse"
COUNTER: Final = "bench:parsed"


def __getattr__(name: str) -> Any:
    """`app`, built on first access (by `celery -A`), so importing the names builds nothing."""
    if name != "app":
        raise AttributeError(name)
    settings = get_settings()
    app = make_celery(settings)
    app.conf.task_default_queue = QUEUE
    client = redis_client(settings)

    @app.task(name=TASK, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def parse(payload: dict[str, Any]) -> None:
        parse_json(payload["body"])
        client.incr(COUNTER)

    globals()["app"] = app
    return app
