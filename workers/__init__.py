"""[3] The worker: the Celery app with its task, heartbeat and sweeper registered.

`her2-adapter worker` (or `celery -A workers worker`) runs it. `workers.app` is built from the
environment's settings on first access, so importing `workers.heartbeat` (as the API's health
check does) builds no Celery app; nothing connects until the worker starts.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "app":
        from workers import heartbeat, sweeper, tasks  # noqa: F401 - the task and the signals

        return tasks.interpret_her2.app
    raise AttributeError(name)
