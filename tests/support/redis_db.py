"""The tests' own Redis databases: each suite takes one database number and empties only it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import redis

# The Redis server the tests use (host:port). Another one lets two checkouts run their suites
# at once on one machine without flushing each other's databases.
TEST_REDIS: Final = os.environ.get("TEST_REDIS", "127.0.0.1:6379")


def redis_url_for_tests(db: int) -> str:
    """The URL of database `db` on the tests' Redis server."""
    return f"redis://{TEST_REDIS}/{db}"


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
