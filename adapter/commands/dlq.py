"""`her2-adapter dlq list | replay [ID] | discard ID|--all`: the dead-letter queue.

`list` prints one line per dead letter: id, time, reason, issue code, FHIRPath (never the
message or its values). `replay` re-submits one (ID) or all; each leaves the dead-letter queue
only once the queue took it again. `discard` deletes one (ID) or all (`--all`), message
included, for what must not be interpreted; `/health/ready` stops warning once none is left.
Exit 0; 1 when the settings are bad or Redis or the queue is unavailable; 2 for an unknown ID.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapter.dead_letters import DeadLetterQueue
    from adapter.settings import Settings

from adapter.commands import startup

EXIT_OK, EXIT_UNAVAILABLE, EXIT_UNKNOWN = 0, 1, 2


def register(commands: Any) -> None:
    """Add `dlq list`, `dlq replay [ID]` and `dlq discard ID|--all` to `her2-adapter`."""
    dlq = commands.add_parser("dlq", help="list, replay or discard dead-lettered jobs")
    actions = dlq.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one line per dead letter")
    listing.set_defaults(run=run_list, parser=listing)
    replay = actions.add_parser("replay", help="re-submit one dead letter (ID) or all")
    replay.add_argument("id", nargs="?", metavar="ID", help="the dead letter (job) id")
    replay.set_defaults(run=run_replay, parser=replay)
    discard = actions.add_parser("discard", help="delete one dead letter (ID) or all (--all)")
    which = discard.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", metavar="ID", help="the dead letter (job) id")
    which.add_argument("--all", action="store_true", help="every dead letter")
    discard.set_defaults(run=run_discard, parser=discard)


def run_list(_: argparse.Namespace) -> int:
    import redis

    try:
        letters = _dead_letters()[1].list()
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

    from adapter.errors import QueueUnavailable
    from adapter.job_store import JobStore
    from adapter.queue import make_celery
    from adapter.redis_client import Replication, redis_client

    try:
        settings, queue = _dead_letters()
        jobs = JobStore(
            redis_client(settings),
            settings.job_retention_seconds,
            replication=Replication.of(settings),
        )
        replayed = queue.replay(make_celery(settings), jobs, args.id)
    except KeyError:
        return _unknown("replay", args.id)
    except (ValueError, redis.RedisError, QueueUnavailable) as error:
        return _fail(f"her2-adapter dlq replay: {error}")
    for job_id in replayed:
        sys.stdout.write(f"replayed {job_id}\n")
    return EXIT_OK


def run_discard(args: argparse.Namespace) -> int:
    import redis

    try:
        discarded = _dead_letters()[1].discard(None if args.all else args.id)
    except KeyError:
        return _unknown("discard", args.id)
    except (ValueError, redis.RedisError) as error:
        return _fail(f"her2-adapter dlq discard: {error}")
    for job_id in discarded:
        sys.stdout.write(f"discarded {job_id}\n")
    return EXIT_OK


def _dead_letters() -> tuple[Settings, DeadLetterQueue]:
    """The settings and the dead-letter queue they name; refuses to start (one line, exit 1:
    `startup.CannotStart`) with bad settings or a Redis that does not answer."""
    from adapter.dead_letters import DeadLetterQueue
    from adapter.redis_client import redis_client

    settings = startup.settings()
    startup.redis_reachable(settings)
    return settings, DeadLetterQueue(redis_client(settings), settings.dead_letter_retention_seconds)


def _unknown(action: str, id: str) -> int:
    sys.stderr.write(f"her2-adapter dlq {action}: no dead letter {id}\n")
    return EXIT_UNKNOWN


def _fail(line: str) -> int:
    sys.stderr.write(line + "\n")
    return EXIT_UNAVAILABLE
