"""The tests' own Redis databases: each suite takes one database number and empties only it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis


@contextmanager
def emptied(url: str) -> Iterator[redis.Redis]:
    """A client of the test database `url`, emptied before and after use.

    Without Redis the run fails at the ping: a suite that needs Redis never skips.
    """
    client = redis.Redis.from_url(url)
    client.ping()
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()
