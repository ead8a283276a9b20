"""The case store on a real Redis: the per-case lock and the fencing of `save`."""

from __future__ import annotations

import pytest
import redis

from adapter.case_store import LOCK_PREFIX, CaseStore, digest
from adapter.errors import DependencyUnavailable
from adapter.service.case_state import CaseMeta, StoredCase, merge
from tests.builders import ish_observation

KEY = "specimen|Specimen/fenced"


def stored(store: CaseStore) -> StoredCase:
    return StoredCase.of(KEY, store.load(KEY))


def save(store: CaseStore, case: StoredCase, token: str) -> None:
    store.save(KEY, case.record_meta(), case.inputs, case.support, token)


def test_save_by_the_lock_holder_stores_the_case(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    with store.lock(KEY) as token:
        save(store, StoredCase(CaseMeta(key=KEY, reported_status="final")), token)
    assert stored(store).meta.reported_status == "final"


def test_a_worker_whose_lock_expired_cannot_overwrite_the_next_holders_state(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60, lock_ttl_seconds=0.2)
    with store.lock(KEY) as slow_token:
        redis_db.delete(LOCK_PREFIX + digest(KEY))  # its TTL ran out while it wrote
        with store.lock(KEY, wait_seconds=1) as next_token:
            save(store, StoredCase(CaseMeta(key=KEY, reported_status="amended")), next_token)
        with pytest.raises(DependencyUnavailable):
            save(store, StoredCase(CaseMeta(key=KEY, reported_status="final")), slow_token)
    assert stored(store).meta.reported_status == "amended"


def test_a_busy_case_makes_the_job_retry_instead_of_waiting_forever(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60)
    with store.lock(KEY), pytest.raises(DependencyUnavailable), store.lock(KEY, wait_seconds=0.2):
        pass


def test_a_stored_case_comes_back_with_its_numbers_exact(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    resource = ish_observation("1.9999999999999999999", her2="4.00")
    case = merge(StoredCase.new(KEY), [(resource, None)])
    with store.lock(KEY) as token:
        save(store, case, token)
    back = stored(store).inputs["Observation/ish"]["resource"]
    assert back == resource
    assert str(back["valueQuantity"]["value"]) == "1.9999999999999999999"
    assert str(back["component"][0]["valueQuantity"]["value"]) == "4.00"
