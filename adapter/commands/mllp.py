"""`her2-adapter mllp [--host H] [--port P]`: the HL7 v2 MLLP listener (hl7v2-contract.md 1).

Address: `--host`/`--port`, else MLLP_HOST/MLLP_PORT, else port 2575 on 127.0.0.1, or on every
interface when TLS is on (MLLP_TLS_CERT and MLLP_TLS_KEY): without TLS the listener stays on
loopback unless a host is given. Refuses to start (exit 1, one line: `adapter.commands.startup`)
with a bad setting, without REDIS_URL, with a TLS setting that cannot be loaded, with malformed
mappings, or when the address cannot be bound. Redis itself need not answer yet: until it does,
messages get AR "temporarily unavailable, send again", as during any Redis outage. SIGTERM /
SIGINT stop it gracefully: frames being admitted finish and are acknowledged first.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from adapter.commands import startup

EXIT_OK = 0
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
    mllp.set_defaults(run=run, parser=mllp)


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

    from adapter.log import configure_logging
    from adapter.mllp.listener import tls_context
    from adapter.mllp.senders import SenderPolicy

    settings = startup.settings()
    if not settings.redis_configured:
        raise startup.CannotStart("REDIS_URL is not set (the queue needs Redis)")
    try:
        context = tls_context(
            settings.mllp_tls_cert, settings.mllp_tls_key, settings.mllp_tls_client_ca
        )
    except (ValueError, OSError) as error:
        raise startup.CannotStart(f"TLS: {error}") from None
    try:
        senders = SenderPolicy.from_settings(settings)
    except ValueError as error:
        raise startup.CannotStart(str(error)) from None
    startup.mappings()  # the listener's services then take them from the process's cache
    host, port = listen_address(settings, args.host, args.port)
    configure_logging(settings.log_level)
    try:
        return asyncio.run(_serve(settings, senders, host, port, context))
    except OSError as error:  # binding happens in the event loop, before anything is logged
        raise startup.cannot_listen(host, port, error) from None


async def _serve(settings: Any, senders: Any, host: str, port: int, context: Any) -> int:
    import asyncio
    import os
    import signal
    import socket

    from adapter.heartbeat import LISTENERS, Heartbeat
    from adapter.mllp.frames import ListenerServices
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


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
