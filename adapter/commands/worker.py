"""`her2-adapter worker [--loglevel LEVEL]`: the Celery worker, in this process.

Refuses to start (exit 1, one line: `adapter.commands.startup`) with a bad or unsafe setting,
without REDIS_URL, with malformed mappings, with a FHIR_OAUTH_PRIVATE_KEY it cannot use, or
when Redis does not answer: a worker cannot take a job without both, and Celery would otherwise
retry the broker with a log line every few seconds. Concurrency is `WORKER_CONCURRENCY`; the
worker consumes the `her2` queue only.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from adapter.commands import startup
from adapter.settings import LOG_LEVELS


def register(commands: Any) -> None:
    """Add `worker` to the subcommands of `her2-adapter`."""
    worker = commands.add_parser(
        "worker",
        help="run a worker: interpret queued messages and write the reports back",
        description="Run the Celery worker. Settings come from the environment (README).",
    )
    worker.add_argument(
        "--loglevel",
        type=str.upper,
        choices=LOG_LEVELS,
        default=None,
        help="log level (default: LOG_LEVEL)",
    )
    worker.set_defaults(run=run, parser=worker)


def run(args: argparse.Namespace) -> int:
    from celery import signals

    from adapter.errors import ClientKeyError
    from adapter.log import configure_logging
    from adapter.oauth_client import load_private_key
    from adapter.queue import QUEUE

    settings = startup.settings()
    startup.mappings()  # loaded before the pool forks: its processes inherit them
    startup.redis_reachable(settings)
    if settings.fhir_oauth_private_key is not None:  # found now, not at the first report
        try:
            load_private_key(settings.fhir_oauth_private_key, settings.fhir_oauth_algorithm)
        except ClientKeyError as error:
            raise startup.CannotStart(str(error)) from None
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
