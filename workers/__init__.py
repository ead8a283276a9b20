"""[3] The worker door: the Celery app with its task and what starts and stops with a worker.

`her2-adapter worker` (or `celery -A workers worker`) runs it. Only the worker imports this
package: the other entry points never do (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from workers import lifecycle, tasks  # noqa: F401 - registers the task and the worker signals
from workers.celery_app import app

__all__ = ["app"]
