"""Where a case's state lives: Redis, with a per-case lock and a fenced save.

What the state means and how an arrival merges into it are the application's
(`adapter.service.case_state`); here it is a record of JSON: the case's meta, its input entries
(each saved under its identity) and its supporting entries (each saved under its name).

Redis layout (`h` = sha256 of the case key; identities and names hashed too, no PHI in keys):
`her2:case:<h>` a hash: `meta` -> meta JSON, `in:<sha>` -> input entry, `sup:<sha>` ->
supporting entry; `her2:case-input:<sha of identity>` -> `h` (which case an input belongs to);
`her2:lock:case:<h>` the per-case lock. All kept `case_retention_seconds`, refreshed on arrival.
Everything is kept in the adapter's one JSON form (`json_output` / `json_input`), so numbers
come back as the same Decimals.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import redis

from adapter.errors import DependencyUnavailable
from adapter.fhir.json_input import parse_json
from adapter.fhir.json_output import dumps

CASE_PREFIX: Final = "her2:case:"
INPUT_PREFIX: Final = "her2:case-input:"
LOCK_PREFIX: Final = "her2:lock:case:"
_RELEASE: Final = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
# The fenced save, in one round trip: only the holder of the lock (KEYS[1], token ARGV[1])
# replaces the case hash (KEYS[2]) and points each input index key (KEYS[3..]) at it.
# ARGV: token, retention seconds, case digest, then field, value, field, value, ...
_SAVE: Final = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[2])
redis.call('hset', KEYS[2], unpack(ARGV, 4))
redis.call('expire', KEYS[2], ARGV[2])
for i = 3, #KEYS do redis.call('set', KEYS[i], ARGV[3], 'EX', ARGV[2]) end
return 1
"""

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case as stored. `load` gives the entries as lists (only digests of their identities
    and names are kept); `save` takes them keyed by identity and name."""

    meta: JsonDict = field(default_factory=dict)  # JSON only: no null (FHIR JSON has none)
    inputs: list[JsonDict] = field(default_factory=list)
    support: list[JsonDict] = field(default_factory=list)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class CaseStore:
    """Stored cases in Redis (layout in the module docstring)."""

    def __init__(
        self, client: redis.Redis, retention_seconds: int, *, lock_ttl_seconds: float = 30.0
    ) -> None:
        self._redis = client
        self._retention = retention_seconds
        self._lock_ttl_ms = int(lock_ttl_seconds * 1000)
        self._save = client.register_script(_SAVE)
        self._release = client.register_script(_RELEASE)

    def load(self, case_key: str) -> CaseRecord:
        """The stored case (empty when new)."""
        raw = self._redis.hgetall(CASE_PREFIX + digest(case_key))
        stored = {_text(k): parse_json(v) for k, v in raw.items()}
        return CaseRecord(
            stored.pop("meta", {}),
            [entry for name, entry in stored.items() if name.startswith("in:")],
            [entry for name, entry in stored.items() if name.startswith("sup:")],
        )

    def case_of(self, ident: str) -> str | None:
        """The key of the case holding input `ident`, or None when no case holds it."""
        h = self._redis.get(INPUT_PREFIX + digest(ident))
        if h is None:
            return None
        raw = self._redis.hget(CASE_PREFIX + _text(h), "meta")
        return str(parse_json(raw)["key"]) if raw is not None else None

    def save(
        self,
        case_key: str,
        meta: JsonDict,
        inputs: Mapping[str, JsonDict],
        support: Mapping[str, JsonDict],
        lock_token: str,
    ) -> None:
        """Store the whole case (inputs by identity, supporting entries by name) and refresh
        its retention, in one script that runs only while this worker still holds the case's
        lock (fencing; atomic on the server).

        A worker slower than the lock's TTL may find another worker has taken the case and
        stored a newer state meanwhile; storing its own would drop that worker's arrivals. It
        then raises DependencyUnavailable and the job is retried from the stored state.
        """
        h = digest(case_key)
        fields = {"meta": dumps({**meta, "key": case_key})}
        fields |= {"in:" + digest(ident): dumps(entry) for ident, entry in inputs.items()}
        fields |= {"sup:" + digest(name): dumps(entry) for name, entry in support.items()}
        keys = [
            LOCK_PREFIX + h,
            CASE_PREFIX + h,
            *(INPUT_PREFIX + digest(ident) for ident in inputs),
        ]
        pairs = [part for item in fields.items() for part in item]
        if not self._save(keys=keys, args=[lock_token, self._retention, h, *pairs]):
            raise DependencyUnavailable("the case's lock was lost before the case was stored")

    @contextmanager
    def lock(self, case_key: str, wait_seconds: float = 20.0) -> Iterator[str]:
        """Hold the case's lock (SET NX PX with a token; released only by its holder) and
        yield the token that `save` checks.

        Waits with bounded backoff; raises DependencyUnavailable when the case stays busy (the
        task is then retried). The TTL frees the lock of a killed worker.
        """
        key, token = LOCK_PREFIX + digest(case_key), uuid.uuid4().hex
        deadline, delay = time.monotonic() + wait_seconds, 0.02
        while not self._redis.set(key, token, nx=True, px=self._lock_ttl_ms):
            if time.monotonic() >= deadline:
                raise DependencyUnavailable("case busy: its lock was not freed in time")
            time.sleep(delay)  # bounded: the deadline above ends the wait
            delay = min(delay * 2, 0.5)
        try:
            yield token
        finally:
            self._release(keys=[key], args=[token])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
