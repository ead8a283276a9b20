"""The case store on a real Redis: the per-case lock, taken with the read, and the fencing of
`save`, which releases it."""

from __future__ import annotations

import pytest
import redis

from adapter.case_store import LOCK_PREFIX, CaseStore, HeldCase, digest
from adapter.errors import DependencyUnavailable
from adapter.service.case_state import CaseMeta, StoredCase, merge
from tests.builders import ish_observation

KEY = "specimen|Specimen/fenced"


def stored(store: CaseStore) -> StoredCase:
    return StoredCase.of(KEY, store.load(KEY))


def save(held: HeldCase, case: StoredCase) -> None:
    held.save(case.record_meta(), case.inputs, case.support)


def test_save_by_the_lock_holder_stores_the_case(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    with store.checkout(KEY) as held:
        assert held.record.meta == {}  # new
        save(held, StoredCase(CaseMeta(key=KEY, reported_status="final")))
    assert stored(store).meta.reported_status == "final"
    assert not redis_db.exists(LOCK_PREFIX + digest(KEY))  # the save released the lock
    with store.checkout(KEY, wait_seconds=0.1) as held:  # read with the lock
        assert StoredCase.of(KEY, held.record).meta.reported_status == "final"
    assert not redis_db.exists(LOCK_PREFIX + digest(KEY))  # released without a save


def test_a_worker_whose_lock_expired_cannot_overwrite_the_next_holders_state(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60, lock_ttl_seconds=0.2)
    with store.checkout(KEY) as slow:
        redis_db.delete(LOCK_PREFIX + digest(KEY))  # its TTL ran out while it wrote
        with store.checkout(KEY, wait_seconds=1) as next_holder:
            save(next_holder, StoredCase(CaseMeta(key=KEY, reported_status="amended")))
        with pytest.raises(DependencyUnavailable):
            save(slow, StoredCase(CaseMeta(key=KEY, reported_status="final")))
    assert stored(store).meta.reported_status == "amended"


def test_a_busy_case_makes_the_job_retry_instead_of_waiting_forever(
    redis_db: redis.Redis,
) -> None:
    store = CaseStore(redis_db, 60)
    with (
        store.checkout(KEY),
        pytest.raises(DependencyUnavailable),
        store.checkout(KEY, wait_seconds=0.2),
    ):
        pass


def test_a_stored_case_comes_back_with_its_numbers_exact(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    resource = ish_observation("1.9999999999999999999", her2="4.00")
    case = merge(StoredCase.new(KEY), [(resource, None)])
    with store.checkout(KEY) as held:
        save(held, case)
    back = stored(store).inputs["Observation/ish"]["resource"]
    assert back == resource
    assert str(back["valueQuantity"]["value"]) == "1.9999999999999999999"
    assert str(back["component"][0]["valueQuantity"]["value"]) == "4.00"


def test_many_cases_are_checked_out_and_saved_together(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    keys = [f"specimen|Specimen/many-{n}" for n in range(3)]
    with store.checkout_all(keys) as held:
        assert sorted(held) == keys
        final = {key: StoredCase(CaseMeta(key=key, reported_status="final")) for key in keys}
        store.save_all((held[key], (final[key].record_meta(), {}, {})) for key in keys)
    for key in keys:
        assert StoredCase.of(key, store.load(key)).meta.reported_status == "final"
        assert not redis_db.exists(LOCK_PREFIX + digest(key))


def test_a_busy_case_among_many_gives_back_every_lock_taken(redis_db: redis.Redis) -> None:
    store = CaseStore(redis_db, 60)
    free, busy = "specimen|Specimen/a-free", "specimen|Specimen/b-busy"  # taken in this order
    with (
        store.checkout(busy),
        pytest.raises(DependencyUnavailable),
        store.checkout_all([free, busy], wait_seconds=0.2),
    ):
        pass
    assert not redis_db.exists(LOCK_PREFIX + digest(free))  # given back when the wait failed
    with store.checkout_all([free, busy], wait_seconds=0.2) as held:  # both free now
        assert sorted(held) == sorted([free, busy])
