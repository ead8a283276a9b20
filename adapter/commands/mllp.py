"""`her2-adapter mllp [--host H] [--port P]`: the HL7 v2 MLLP listener (hl7v2-contract.md 1).

Address: `--host`/`--port`, else MLLP_HOST/MLLP_PORT, else port 2575 on 127.0.0.1, or on every
interface when TLS is on (MLLP_TLS_CERT and MLLP_TLS_KEY): without TLS the listener stays on
loopback unless a host is given. Refuses to start (exit 1, one line) without REDIS_URL, with a
TLS setting that cannot be loaded, or when the address cannot be bound. SIGTERM / SIGINT stop
it gracefully: frames being admitted finish and are acknowledged first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_CANNOT_START = 0, 1
ALL_INTERFACES = "0.0.0.0"  # only with TLS, or when the operator names it
HEARTBEAT_SECONDS = 5


def register(commands: Any) -> None:
    """Add `mllp` to the subcommands of `her2-adapter`."""
    mllp = commands.add_parser(
        "mllp",
        help="run the HL7 v2 MLLP listener (ORU^R01 in, ACK after the message is queued)",
        description="Listen for HL7 v2 ORU^R01 over MLLP and queue each good message for the "
        "workers, as the HTTP API does. Settings come from the environment (README).",
    )
    mllp.add_argument("--host", default=None, help="address to bind (default: MLLP_HOST)")
    mllp.add_argument("--port", type=int, default=None, help="port (default: MLLP_PORT, 2575)")
    mllp.set_defaults(run=run)


def listen_address(settings: Any, host: str | None, port: int | None) -> tuple[str, int]:
    """Where to bind: the arguments, the environment, then loopback (all interfaces with TLS)."""
    if host is None:
        if "mllp_host" in settings.model_fields_set:
            host = settings.mllp_host
        else:
            host = ALL_INTERFACES if settings.mllp_tls_cert else "127.0.0.1"
    return str(host), int(port if port is not None else settings.mllp_port)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from adapter.errors import MappingError
    from adapter.log import configure_logging
    from adapter.mllp.listener import tls_context
    from adapter.mllp.senders import SenderPolicy
    from adapter.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        return _refuse(f"settings: {error.errors()[0]['msg']}")
    if not settings.redis_url:
        return _refuse("REDIS_URL is not set (the queue needs Redis)")
    try:
        context = tls_context(
            settings.mllp_tls_cert, settings.mllp_tls_key, settings.mllp_tls_client_ca
        )
    except (ValueError, OSError) as error:
        return _refuse(f"TLS: {error}")
    try:
        senders = SenderPolicy.from_settings(settings)
    except ValueError as error:
        return _refuse(str(error))
    host, port = listen_address(settings, args.host, args.port)
    configure_logging(settings.log_level)
    try:
        return asyncio.run(_serve(settings, senders, host, port, context))
    except MappingError as error:
        return _refuse(f"mappings: {error}")
    except OSError as error:
        return _refuse(f"cannot listen on {host}:{port}: {error.strerror or error}")


async def _serve(settings: Any, senders: Any, host: str, port: int, context: Any) -> int:
    import asyncio
    import os
    import signal
    import socket

    from adapter.heartbeat import LISTENERS, Heartbeat
    from adapter.mllp.admission import ListenerServices
    from adapter.mllp.listener import MllpListener
    from adapter.redis_client import redis_client

    services = ListenerServices.from_settings(settings, senders)
    listener = MllpListener(services, host=host, port=port, ssl_context=context)
    client = redis_client(settings)
    await listener.start()
    name = f"{socket.gethostname()}-{os.getpid()}-{listener.port}"
    beating = Heartbeat(client, LISTENERS, name, HEARTBEAT_SECONDS).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    _say(f"her2-adapter mllp: listening on {host}:{listener.port}" + (" (TLS)" if context else ""))
    try:
        await stop.wait()
    finally:
        await listener.stop()
        await asyncio.to_thread(beating.stop)
        client.close()
        services.close()
    return EXIT_OK


def _refuse(problem: str) -> int:
    _say(f"her2-adapter mllp: {problem}")
    return EXIT_CANNOT_START


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
