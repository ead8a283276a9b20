"""Where a case's state lives: Redis, with a per-case lock and a fenced save.

What the state means and how an arrival merges into it are the application's
(`adapter.service.case_state`); here it is a record of JSON: the case's meta, its input entries
(each saved under its identity) and its supporting entries (each saved under its name).

Redis layout (`h` = sha256 of the case key; identities and names hashed too, no PHI in keys):
`her2:case:<h>` a hash: `meta` -> meta JSON, `in:<sha>` -> input entry, `sup:<sha>` ->
supporting entry; `her2:case-input:<sha of identity>` -> `h` (which case an input belongs to);
`her2:lock:case:<h>` the per-case lock, taken with the read of the case and released by its
save (two round trips per case: `checkout` and `HeldCase.save`). All kept
`case_retention_seconds`, refreshed on arrival.
Everything is kept in the adapter's one JSON form (`json_output` / `json_input`), so numbers
come back as the same Decimals.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

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
# Take the lock (KEYS[1], token ARGV[1], TTL ARGV[2] ms) and read the case hash (KEYS[2]) in
# one round trip: {1, [field, value, ...]} when taken, {0} when another holder has it.
_CHECKOUT: Final = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('hgetall', KEYS[2])}
end
return {0}
"""
# The fenced save and the release, in one round trip: only the holder of the lock (KEYS[1],
# token ARGV[1]) replaces the case hash (KEYS[2]), points each input index key (KEYS[3..]) at
# it and frees the lock. ARGV: token, retention seconds, case digest, then field, value, ...
_SAVE: Final = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[2])
redis.call('hset', KEYS[2], unpack(ARGV, 4))
redis.call('expire', KEYS[2], ARGV[2])
for i = 3, #KEYS do redis.call('set', KEYS[i], ARGV[3], 'EX', ARGV[2]) end
redis.call('del', KEYS[1])
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
        self._checkout = client.register_script(_CHECKOUT)
        self._save = client.register_script(_SAVE)
        self._release = client.register_script(_RELEASE)

    def load(self, case_key: str) -> CaseRecord:
        """The stored case (empty when new), read without its lock."""
        return _record(self._redis.hgetall(CASE_PREFIX + digest(case_key)))

    def case_of(self, ident: str) -> str | None:
        """The key of the case holding input `ident`, or None when no case holds it."""
        h = self._redis.get(INPUT_PREFIX + digest(ident))
        if h is None:
            return None
        raw = self._redis.hget(CASE_PREFIX + _text(h), "meta")
        return str(parse_json(raw)["key"]) if raw is not None else None

    @contextmanager
    def checkout(self, case_key: str, wait_seconds: float = 20.0) -> Iterator[HeldCase]:
        """Hold the case's lock (SET NX PX with a token; released only by its holder) and
        read the case in the same round trip; `HeldCase.save` stores it and releases the lock
        in one more. Leaving without saving releases the lock.

        Waits with bounded backoff; raises DependencyUnavailable when the case stays busy (the
        task is then retried). The TTL frees the lock of a killed worker.
        """
        with self.checkout_all([case_key], wait_seconds) as held:
            yield held[case_key]

    @contextmanager
    def checkout_all(
        self, case_keys: Iterable[str], wait_seconds: float = 20.0
    ) -> Iterator[dict[str, HeldCase]]:
        """`checkout` for many cases (a backfill's batch): the free ones in one round trip;
        when one is busy, all are given back and taken again one by one in key order, waiting
        as `checkout` waits, so two workers sharing cases cannot hold each other up."""
        keys = sorted(set(case_keys))
        held: dict[str, HeldCase] = {}
        try:
            pipe = self._redis.pipeline(transaction=False)
            tokens = {key: uuid.uuid4().hex for key in keys}
            for key in keys:
                self._take(key, tokens[key], pipe)
            replies = pipe.execute()
            for key, reply in zip(keys, replies, strict=True):
                if reply[0]:
                    held[key] = HeldCase(self, key, tokens[key], _record(_pairs(reply[1])))
            if len(held) < len(keys):
                self._release_all(held.values())
                held = {}
                for key in keys:  # each kept as soon as taken: given back if a later one fails
                    held[key] = self._wait_for(key, wait_seconds)
            yield held
        finally:
            self._release_all(h for h in held.values() if not h.saved)

    def save_all(
        self, saves: Iterable[tuple[HeldCase, StoredRecord]], *, also: Sequence[Pipelined] = ()
    ) -> None:
        """`HeldCase.save` for many held cases, and whatever `also` adds (the reports written
        for them, `RecentCases.noted`), in one round trip. Raises DependencyUnavailable when
        any lock was lost (the others are stored: a retry finds them unchanged)."""
        chosen = list(saves)
        pipe = self._redis.pipeline(transaction=False)
        for held, (meta, inputs, support) in chosen:
            keys, args = self._save_call(held, meta, inputs, support)
            self._save(keys=keys, args=args, client=pipe)
        for extra in also:
            extra.add_to(pipe)
        stored = pipe.execute()[: len(chosen)]
        for (held, _), ok in zip(chosen, stored, strict=True):
            held.saved = bool(ok)
        if not all(stored):
            raise DependencyUnavailable("a case's lock was lost before the case was stored")

    def _take(self, key: str, token: str, client: Any) -> Any:
        h = digest(key)
        lock_and_case = [LOCK_PREFIX + h, CASE_PREFIX + h]
        return self._checkout(keys=lock_and_case, args=[token, self._lock_ttl_ms], client=client)

    def _wait_for(self, key: str, wait_seconds: float) -> HeldCase:
        token = uuid.uuid4().hex
        deadline, delay = time.monotonic() + wait_seconds, 0.02
        while not (taken := self._take(key, token, self._redis))[0]:
            if time.monotonic() >= deadline:
                raise DependencyUnavailable("case busy: its lock was not freed in time")
            time.sleep(delay)  # bounded: the deadline above ends the wait
            delay = min(delay * 2, 0.5)
        return HeldCase(self, key, token, _record(_pairs(taken[1])))

    def _release_all(self, held: Iterable[HeldCase]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for case in held:
            self._release(keys=[LOCK_PREFIX + digest(case.key)], args=[case.token], client=pipe)
        pipe.execute()

    def _save_call(
        self,
        held: HeldCase,
        meta: JsonDict,
        inputs: Mapping[str, JsonDict],
        support: Mapping[str, JsonDict],
    ) -> tuple[list[str], list[Any]]:
        """Keys and arguments of the fenced save (`_SAVE`) of one case."""
        h = digest(held.key)
        fields = {"meta": dumps({**meta, "key": held.key})}
        fields |= {"in:" + digest(ident): dumps(entry) for ident, entry in inputs.items()}
        fields |= {"sup:" + digest(name): dumps(entry) for name, entry in support.items()}
        keys = [
            LOCK_PREFIX + h,
            CASE_PREFIX + h,
            *(INPUT_PREFIX + digest(ident) for ident in inputs),
        ]
        pairs = [part for item in fields.items() for part in item]
        return keys, [held.token, self._retention, h, *pairs]


class Pipelined(Protocol):
    """What adds its own commands to the pipeline that saves cases."""

    def add_to(self, pipe: redis.client.Pipeline) -> None: ...


# What `save` stores of a case: its meta, inputs by identity, supporting entries by name.
StoredRecord = tuple[JsonDict, Mapping[str, JsonDict], Mapping[str, JsonDict]]


@dataclass(slots=True)
class HeldCase:
    """A case checked out under its lock (`CaseStore.checkout`): what was stored, and `save`."""

    store: CaseStore
    key: str
    token: str  # the lock's token: only its holder may store the case
    record: CaseRecord
    saved: bool = False

    def save(
        self,
        meta: JsonDict,
        inputs: Mapping[str, JsonDict],
        support: Mapping[str, JsonDict],
        *,
        also: Sequence[Pipelined] = (),
    ) -> None:
        """Store the whole case (inputs by identity, supporting entries by name), refresh its
        retention and release the lock, in one script that runs only while this holder still
        has the lock (fencing; atomic on the server).

        A worker slower than the lock's TTL may find another worker has taken the case and
        stored a newer state meanwhile; storing its own would drop that worker's arrivals. It
        then raises DependencyUnavailable and the job is retried from the stored state.
        """
        self.store.save_all([(self, (meta, inputs, support))], also=also)


def _record(raw: Mapping[Any, Any]) -> CaseRecord:
    stored = {_text(k): parse_json(v) for k, v in raw.items()}
    return CaseRecord(
        stored.pop("meta", {}),
        [entry for name, entry in stored.items() if name.startswith("in:")],
        [entry for name, entry in stored.items() if name.startswith("sup:")],
    )


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    """HGETALL's reply as a Lua script returns it (field, value, field, value, ...)."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
