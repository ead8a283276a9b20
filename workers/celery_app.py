"""The worker's Celery app, built from this process's settings (`celery -A workers worker`)."""

from __future__ import annotations

from adapter.queue import make_celery
from adapter.settings import get_settings

app = make_celery(get_settings())
