"""`her2-adapter alive worker|mllp`: is a process of that kind on this host beating?

For container health checks (docker-compose.yml): exit 0 while a worker (or MLLP listener)
running on this host has a live heartbeat in Redis, 1 otherwise; nothing on standard output.
It reads the heartbeat registry (`adapter.heartbeat`), whose size is the number of processes,
never a scan of the keyspace.
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

from adapter.commands import startup

EXIT_ALIVE, EXIT_NOT_ALIVE = 0, 1


def register(commands: Any) -> None:
    """Add `alive` to the subcommands of `her2-adapter`."""
    from adapter.heartbeat import KINDS

    alive = commands.add_parser(
        "alive",
        help="exit 0 while a process of this kind on this host beats (container health checks)",
        description="Exit 0 while a worker or MLLP listener on this host has a live heartbeat "
        "in Redis, else 1. Settings come from the environment (README).",
    )
    alive.add_argument("kind", choices=sorted(KINDS), help="the kind of process")
    alive.set_defaults(run=run, parser=alive)


def run(args: argparse.Namespace) -> int:
    from adapter.heartbeat import KINDS, alive
    from adapter.redis_client import redis_client

    settings = startup.settings()
    startup.redis_reachable(settings)
    host = socket.gethostname()
    with redis_client(settings) as client:
        names = alive(client, KINDS[args.kind])
    return EXIT_ALIVE if any(host in name for name in names) else EXIT_NOT_ALIVE
