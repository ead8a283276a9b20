"""The case store on a real Redis: the per-case lock and the fencing of `save`."""

from __future__ import annotations

import pytest
import redis

from adapter.cases import LOCK_PREFIX, CaseMeta, CaseStore, StoredCase, digest
from adapter.errors import DependencyUnavailable

KEY = "specimen|Specimen/fenced"


def stored(store: CaseStore) -> StoredCase:
    return store.load(KEY)


def test_save_by_the_lock_holder_stores_the_case(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    with store.lock(KEY) as token:
        store.save(StoredCase(CaseMeta(key=KEY, reported_status="final")), token)
    assert stored(store).meta.reported_status == "final"


def test_a_worker_whose_lock_expired_cannot_overwrite_the_next_holders_state(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60, lock_ttl_seconds=0.2)
    with store.lock(KEY) as slow_token:
        redis_db.delete(LOCK_PREFIX + digest(KEY))  # its TTL ran out while it wrote
        with store.lock(KEY, wait_seconds=1) as next_token:
            store.save(StoredCase(CaseMeta(key=KEY, reported_status="amended")), next_token)
        with pytest.raises(DependencyUnavailable):
            store.save(StoredCase(CaseMeta(key=KEY, reported_status="final")), slow_token)
    assert stored(store).meta.reported_status == "amended"


def test_a_busy_case_makes_the_job_retry_instead_of_waiting_forever(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60)
    with store.lock(KEY), pytest.raises(DependencyUnavailable), store.lock(KEY, wait_seconds=0.2):
        pass
