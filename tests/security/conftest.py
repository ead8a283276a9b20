"""Security checks (issue 6, item 4) on a Redis database of their own (flushed before and after
each test): TEST_SECURITY_REDIS_DB, default 10."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

import pytest
import redis

from tests.support.redis_db import emptied, redis_url_for_tests

REDIS_DB: Final = int(os.environ.get("TEST_SECURITY_REDIS_DB", "10"))
REDIS_URL: Final = redis_url_for_tests(REDIS_DB)


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    with emptied(REDIS_URL) as client:
        yield client
