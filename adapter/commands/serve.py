"""`her2-adapter serve [--host H] [--port P]`: the HTTP API under uvicorn.

Refuses to start (exit 1, one line: `adapter.commands.startup`) with a bad setting, without
REDIS_URL, without ADAPTER_API_KEYS unless ADAPTER_DEMO_MODE is set (an open ingest API is never
the default), with malformed mappings, or when the address cannot be bound: all checked before
uvicorn runs, so no lifespan traceback. Redis itself need not answer yet: while it does not,
the API answers 503 and /health/ready says why, as during any Redis outage.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from adapter.commands import startup

log = logging.getLogger("adapter.api")


def register(commands: Any) -> None:
    """Add `serve` to the subcommands of `her2-adapter`."""
    serve = commands.add_parser(
        "serve",
        help="run the HTTP API (FHIR R4 JSON in, 202 + job, OperationOutcome on error)",
        description="Run the ingest API. Settings come from the environment (README).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.set_defaults(run=run, parser=serve)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from adapter.api.app import create_app
    from adapter.log import configure_logging

    settings = startup.settings()
    problem = refusal(settings)
    if problem:
        raise startup.CannotStart(problem)
    startup.mappings()  # the app's lifespan then takes them from the process's cache
    sock = startup.listening_socket(args.host, args.port)
    configure_logging(settings.log_level)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            log_config=None,  # our JSON handler on the root logger (adapter.log)
            access_log=False,  # the app logs one access line per request, no query strings
            server_header=False,
            timeout_graceful_shutdown=10,
        )
    )
    # uvicorn names the address it listens on only when it binds the socket itself
    log.info("api listening", extra={"host": args.host, "port": args.port})
    with sock:
        server.run(sockets=[sock])
    if not server.started:  # a start-up failure no check above foresaw; uvicorn logged it
        raise startup.CannotStart("the API did not start (see the log)")
    return 0


def refusal(settings: Any) -> str | None:
    """Why `serve` must not start with `settings`, or None."""
    if not settings.redis_configured:
        return "REDIS_URL is not set (the queue needs Redis)"
    if not settings.api_keys and not settings.adapter_demo_mode:
        return "ADAPTER_API_KEYS is not set (required unless ADAPTER_DEMO_MODE=true)"
    return None
