"""The checks a command runs before it starts anything; a failure is one line and exit 1.

A check that fails raises `CannotStart` with one line naming the cause; `adapter.cli.main`
prints it after the command's name (`her2-adapter serve: settings: WORKER_NICE: ...`) and exits
1. The checks run before logging is configured and before a server, thread or worker starts, so
nothing else reaches the terminal or the log: no traceback, no library's start-up lines.

    settings = startup.settings()          # every variable valid
    startup.mappings()                     # mappings/ loaded and checked (cached for the process)
    startup.redis_reachable(settings)      # for the commands that need Redis to start
    sock = startup.listening_socket(host, port)
"""

from __future__ import annotations

import os
import socket

from pydantic import ValidationError

from adapter.errors import MappingError
from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings
from adapter.settings import Settings


class CannotStart(Exception):
    """A command cannot start; the message is the one line that says why."""


def settings() -> Settings:
    """The settings in the environment; CannotStart naming the first bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise CannotStart(f"settings: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """The first problem of a settings error as one line: the variable and what is wrong with
    it, never the value (it may be a key or a password)."""
    problems = error.errors()
    first = problems[0]
    variable = ".".join(str(part) for part in first["loc"]).upper()
    reason = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{variable}: {reason}{more}" if variable else f"{reason}{more}"


def mappings() -> Mappings:
    """The mappings, loaded and checked once for the process; CannotStart naming file and entry."""
    try:
        return default_mappings()
    except MappingError as error:
        raise CannotStart(f"mappings: {error}") from None


def redis_reachable(settings: Settings) -> None:
    """Ping `REDIS_URL` once (the client's connect timeout bounds the wait); CannotStart when it
    is unset or does not answer."""
    import redis

    from adapter.redis_client import redis_client

    try:
        client = redis_client(settings)
    except ValueError as error:
        raise CannotStart(str(error)) from None
    try:
        client.ping()
    except redis.RedisError as error:
        raise CannotStart(f"Redis at {shown_redis(settings)}: {_line(error)}") from None
    finally:
        client.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening; CannotStart when the address is taken or
    cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        raise cannot_listen(host, port, error) from None


def cannot_listen(host: str, port: int, error: OSError) -> CannotStart:
    """The one line for an address that cannot be bound (in use, not local, not allowed)."""
    reason = os.strerror(error.errno) if error.errno else _line(error)
    return CannotStart(f"cannot listen on {host}:{port}: {reason}")


def shown_redis(settings: Settings) -> str:
    """Where Redis is, as it may be printed: the URL without its password, or the Sentinels."""
    if settings.redis_sentinels:
        return f"{settings.redis_sentinel_service} via Sentinels {settings.redis_sentinels}"
    return shown_url(settings.redis_url or "")


def shown_url(url: str) -> str:
    """A URL as it may be printed: without its password."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _line(error: BaseException) -> str:
    return " ".join(str(error).split())
