"""`her2-adapter worker [--loglevel LEVEL]`: the Celery worker, in this process.

Refuses to start (exit 1, one line) without REDIS_URL, with unsafe settings, or with a
FHIR_OAUTH_PRIVATE_KEY it cannot use. Concurrency is `WORKER_CONCURRENCY`; the worker consumes
the `her2` queue only.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_CANNOT_START = 1


def register(commands: Any) -> None:
    """Add `worker` to the subcommands of `her2-adapter`."""
    worker = commands.add_parser(
        "worker",
        help="run a worker: interpret queued messages and write the reports back",
        description="Run the Celery worker. Settings come from the environment (README).",
    )
    worker.add_argument("--loglevel", default=None, help="log level (default: LOG_LEVEL)")
    worker.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from celery import signals
    from pydantic import ValidationError

    from adapter.errors import ClientKeyError
    from adapter.log import configure_logging
    from adapter.oauth_client import load_private_key
    from adapter.queue import QUEUE
    from adapter.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as error:
        sys.stderr.write(f"her2-adapter worker: settings: {error.errors()[0]['msg']}\n")
        return EXIT_CANNOT_START
    if not settings.redis_url:
        sys.stderr.write("her2-adapter worker: REDIS_URL is not set (the queue needs Redis)\n")
        return EXIT_CANNOT_START
    if settings.fhir_oauth_private_key is not None:  # found now, not at the first report
        try:
            load_private_key(settings.fhir_oauth_private_key, settings.fhir_oauth_algorithm)
        except ClientKeyError as error:
            sys.stderr.write(f"her2-adapter worker: {error}\n")
            return EXIT_CANNOT_START
    level = (args.loglevel or settings.log_level).upper()
    os.nice(settings.worker_nice)  # the pool's children inherit it

    @signals.setup_logging.connect(weak=False)  # type: ignore[untyped-decorator]
    def _logging(**_: Any) -> None:  # our JSON lines instead of Celery's own format
        configure_logging(level)

    import workers

    workers.app.worker_main(
        [
            "worker",
            f"--loglevel={level}",
            f"--queues={QUEUE}",
            f"--concurrency={settings.worker_concurrency}",
            f"--hostname=her2-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0
