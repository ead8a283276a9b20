"""`her2-adapter serve [--host H] [--port P]`: the HTTP API under uvicorn.

Refuses to start (exit 1, one line) without REDIS_URL, or without ADAPTER_API_KEYS unless
ADAPTER_DEMO_MODE is set: an open ingest API is never the default.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_CANNOT_START = 1


def register(commands: Any) -> None:
    """Add `serve` to the subcommands of `her2-adapter`."""
    serve = commands.add_parser(
        "serve",
        help="run the HTTP API (FHIR R4 JSON in, 202 + job, OperationOutcome on error)",
        description="Run the ingest API. Settings come from the environment (README).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from adapter.api.app import create_app
    from adapter.log import configure_logging
    from adapter.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        _say(f"her2-adapter serve: settings: {error.errors()[0]['msg']}")
        return EXIT_CANNOT_START
    problem = refusal(settings)
    if problem:
        _say(f"her2-adapter serve: {problem}")
        return EXIT_CANNOT_START
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,  # our JSON handler on the root logger (adapter.log)
        access_log=False,  # the app logs one access line per request, without query strings
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def refusal(settings: Any) -> str | None:
    """Why `serve` must not start with `settings`, or None."""
    if not settings.redis_url:
        return "REDIS_URL is not set (the queue needs Redis)"
    if not settings.api_keys and not settings.adapter_demo_mode:
        return "ADAPTER_API_KEYS is not set (required unless ADAPTER_DEMO_MODE=true)"
    return None


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
