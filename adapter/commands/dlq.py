"""`her2-adapter dlq list` and `her2-adapter dlq replay [ID]`: the dead-letter queue.

`list` prints one line per dead letter: id, time, reason, issue code, FHIRPath (never the
message or its values). `replay` re-submits one (ID) or all; each leaves the dead-letter queue
only once the queue took it again. Exit 0; 1 when Redis or the queue is unavailable; 2 for an
unknown ID.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapter.commands import startup

EXIT_OK, EXIT_UNAVAILABLE, EXIT_UNKNOWN = 0, 1, 2


def register(commands: Any) -> None:
    """Add `dlq list` and `dlq replay [ID]` to the subcommands of `her2-adapter`."""
    dlq = commands.add_parser("dlq", help="list or replay dead-lettered jobs")
    actions = dlq.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one line per dead letter")
    listing.set_defaults(run=run_list, parser=listing)
    replay = actions.add_parser("replay", help="re-submit one dead letter (ID) or all")
    replay.add_argument("id", nargs="?", metavar="ID", help="the dead letter (job) id")
    replay.set_defaults(run=run_replay, parser=replay)


def run_list(_: argparse.Namespace) -> int:
    import redis

    from adapter.deadletter import DeadLetterQueue
    from adapter.redis_client import redis_client

    settings = startup.settings()
    startup.redis_reachable(settings)
    try:
        letters = DeadLetterQueue(redis_client(settings)).list()
    except (ValueError, redis.RedisError) as error:
        return _fail(f"her2-adapter dlq list: {error}")
    for letter in letters:
        # Issue code and FHIRPath only: diagnostics may quote the input's values.
        issue = (letter.outcome.get("issue") or [{}])[0]
        where = ",".join(issue.get("expression") or ())
        when = letter.dead_lettered_at.isoformat(timespec="seconds")
        line = f"{letter.id}\t{when}\t{letter.reason}\t{issue.get('code', '')}\t{where}"
        sys.stdout.write(line + "\n")
    return EXIT_OK


def run_replay(args: argparse.Namespace) -> int:
    import redis

    from adapter.deadletter import DeadLetterQueue
    from adapter.errors import QueueUnavailable
    from adapter.jobs import JobStore
    from adapter.queue import make_celery
    from adapter.redis_client import redis_client

    settings = startup.settings()
    startup.redis_reachable(settings)
    try:
        client = redis_client(settings)
        jobs = JobStore(client, settings.job_retention_seconds)
        replayed = DeadLetterQueue(client).replay(make_celery(settings), jobs, args.id)
    except KeyError:
        sys.stderr.write(f"her2-adapter dlq replay: no dead letter {args.id}\n")
        return EXIT_UNKNOWN
    except (ValueError, redis.RedisError, QueueUnavailable) as error:
        return _fail(f"her2-adapter dlq replay: {error}")
    for job_id in replayed:
        sys.stdout.write(f"replayed {job_id}\n")
    return EXIT_OK


def _fail(line: str) -> int:
    sys.stderr.write(line + "\n")
    return EXIT_UNAVAILABLE
