"""The case store: what one specimen's case holds across messages (issue 4, part 3).

IHC and ISH of one specimen arrive in separate messages, in any order. Each arrival is merged
into the stored case and the WHOLE case is re-read and re-interpreted, so the report always
reflects everything known. Merge rules (`merge`, pure, unit-tested):

- an input Observation is known by its identity: `Observation/{id}`, else its entry's fullUrl,
  else its first identifier, else a digest of its content;
- a newer version replaces the stored one: a higher `meta.versionId`, else a stronger status
  (entered-in-error > amended/corrected > final > preliminary), else a later `issued` /
  `meta.lastUpdated`; equal ones: the latest arrival wins. An older replay changes nothing;
- an `entered-in-error` version withdraws the input; it is kept as a tombstone so that a later
  replay of the withdrawn version cannot bring it back;
- the Specimen and Patient resources the inputs reference are kept beside them.

Redis layout (`h` = sha256 of the case key; identities and names hashed too, no PHI in keys):
`her2:case:<h>` a hash: `meta` -> CaseMeta JSON, `in:<sha>` -> input entry, `sup:<sha>` ->
supporting entry; `her2:case-input:<sha of identity>` -> `h` (which case an input belongs to);
`her2:lock:case:<h>` the per-case lock. All kept `case_retention_seconds`, refreshed on arrival.
Entries are stored as JSON with every Decimal tagged, so numbers come back exact.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

import redis

from adapter.errors import DependencyUnavailable
from adapter.fhir.observations import IGNORED_STATUSES, parse_fhir_datetime
from adapter.fhir.validation import Entry

JsonDict = dict[str, Any]
CASE_PREFIX: Final = "her2:case:"
INPUT_PREFIX: Final = "her2:case-input:"
LOCK_PREFIX: Final = "her2:lock:case:"
STATUS_RANK: Final = {
    "entered-in-error": 3,
    "amended": 2,
    "corrected": 2,
    "final": 1,
    "preliminary": 0,
}
AMENDING: Final = frozenset({"amended", "corrected", "entered-in-error"})
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


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def identity(resource: JsonDict, full_url: str | None) -> str:
    """How an input Observation is known across messages and versions."""
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        return f"{resource.get('resourceType')}/{rid}"
    if full_url:
        return full_url
    for ident in resource.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("value"):
            return f"identifier|{ident.get('system', '')}|{ident['value']}"
    return "content|" + digest(dumps(resource))


def entry_name(resource: JsonDict, full_url: str | None) -> str:
    """A supporting resource (Specimen, Patient) by its fullUrl, else `Type/id`."""
    if full_url:
        return full_url
    return f"{resource.get('resourceType')}/{resource.get('id')}"


@dataclass(frozen=True, slots=True)
class CaseMeta:
    key: str = ""  # the case key (contract 1.3)
    site: str | None = None  # a site override given with a job of this case
    final_reported: bool = False  # a final (or amended) report of this case was written
    amended: bool = False  # once amended, every later re-issue stays amended
    reported_status: str | None = None  # status of the last report written
    last: tuple[JsonDict, ...] = ()  # the resources last written (for a withdrawal of all)


@dataclass(frozen=True, slots=True)
class StoredCase:
    meta: CaseMeta
    inputs: dict[str, JsonDict] = field(default_factory=dict)  # identity -> entry
    support: dict[str, JsonDict] = field(default_factory=dict)  # name -> entry

    @property
    def active(self) -> list[JsonDict]:
        """Input entries that still count (not withdrawn, not cancelled)."""
        return [
            e for e in self.inputs.values() if e["resource"].get("status") not in IGNORED_STATUSES
        ]

    def as_message(self) -> JsonDict:
        """The whole case as one `collection` message for the reader."""
        entries = [*self.active, *self.support.values()]
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}

    def entries(self) -> tuple[Entry, ...]:
        """`as_message()` as the reader's entries. Each was validated (`message_entries`) when
        its message arrived and is stored as validated, so it is not validated again."""
        return tuple(
            Entry(e["resource"], i, e.get("fullUrl"))
            for i, e in enumerate(self.as_message()["entry"])
        )

    def all_entries(self) -> list[JsonDict]:
        """Every stored entry (`{"fullUrl", "resource"}`): the inputs, withdrawn ones too, then
        the supporting resources."""
        return [*self.inputs.values(), *self.support.values()]


def _entry(resource: JsonDict, full_url: str | None) -> JsonDict:
    return {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}


def supersedes(new: JsonDict, old: JsonDict) -> bool:
    """True when `new` is a later version of the same input than `old` (or as late)."""
    new_version, old_version = _version(new), _version(old)
    if new_version is not None and old_version is not None and new_version != old_version:
        return new_version > old_version
    new_rank = STATUS_RANK.get(new.get("status", ""), 0)
    old_rank = STATUS_RANK.get(old.get("status", ""), 0)
    if new_rank != old_rank:
        return new_rank > old_rank
    new_time, old_time = _time(new), _time(old)
    if new_time is not None and old_time is not None and new_time != old_time:
        return bool(new_time > old_time)
    return True  # same standing: the latest arrival wins


def merge(
    stored: StoredCase,
    arrivals: Sequence[tuple[JsonDict, str | None]],
    support: Sequence[tuple[JsonDict, str | None]] = (),
    *,
    site: str | None = None,
) -> tuple[StoredCase, bool]:
    """The case with `arrivals` (input Observations, with their fullUrls) merged in.

    Returns the new case and whether an arrival amended it: replaced or withdrew an input
    with an amended / corrected / entered-in-error version.
    """
    inputs = dict(stored.inputs)
    amending = False
    for resource, full_url in arrivals:
        ident = identity(resource, full_url)
        old = inputs.get(ident)
        if old is not None and not supersedes(resource, old["resource"]):
            continue
        new = _entry(resource, full_url)
        if old is not None and old != new and resource.get("status") in AMENDING:
            amending = True
        inputs[ident] = new
    supporting = dict(stored.support)
    for resource, full_url in support:
        supporting[entry_name(resource, full_url)] = _entry(resource, full_url)
    meta = replace(stored.meta, site=site or stored.meta.site)
    return StoredCase(meta, inputs, supporting), amending


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

    def load(self, case_key: str) -> StoredCase:
        """The stored case (empty when new)."""
        raw = self._redis.hgetall(CASE_PREFIX + digest(case_key))
        fields = {_text(k): v for k, v in raw.items()}
        meta = CaseMeta(key=case_key)
        if "meta" in fields:
            data = loads(fields.pop("meta"))
            meta = CaseMeta(**{**data, "last": tuple(data.get("last") or ())})
        inputs, support = {}, {}
        for name, value in fields.items():
            entry = loads(value)
            if name.startswith("in:"):
                inputs[identity(entry["resource"], entry.get("fullUrl"))] = entry
            else:
                support[entry_name(entry["resource"], entry.get("fullUrl"))] = entry
        return StoredCase(meta, inputs, support)

    def case_of(self, ident: str) -> str | None:
        """The key of the case holding input `ident`, or None when no case holds it."""
        h = self._redis.get(INPUT_PREFIX + digest(ident))
        if h is None:
            return None
        raw = self._redis.hget(CASE_PREFIX + _text(h), "meta")
        return loads(raw)["key"] if raw is not None else None

    def save(self, case: StoredCase, lock_token: str) -> None:
        """Store the whole case and refresh its retention, in one script that runs only while
        this worker still holds the case's lock (fencing; atomic on the server).

        A worker slower than the lock's TTL may find another worker has taken the case and
        stored a newer state meanwhile; storing its own would drop that worker's arrivals. It
        then raises DependencyUnavailable and the job is retried from the stored state.
        """
        h = digest(case.meta.key)
        key = CASE_PREFIX + h
        meta = {**_meta_dict(case.meta)}
        fields: dict[Any, Any] = {"meta": dumps(meta)}
        for ident, entry in case.inputs.items():
            fields["in:" + digest(ident)] = dumps(entry)
        for name, entry in case.support.items():
            fields["sup:" + digest(name)] = dumps(entry)
        keys = [LOCK_PREFIX + h, key, *(INPUT_PREFIX + digest(ident) for ident in case.inputs)]
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


def _meta_dict(meta: CaseMeta) -> JsonDict:
    return {
        "key": meta.key,
        "site": meta.site,
        "final_reported": meta.final_reported,
        "amended": meta.amended,
        "reported_status": meta.reported_status,
        "last": list(meta.last),
    }


def _version(resource: JsonDict) -> int | None:
    meta = resource.get("meta")
    raw = meta.get("versionId") if isinstance(meta, dict) else None
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _time(resource: JsonDict) -> Any:
    meta = resource.get("meta")
    for raw in (
        resource.get("issued"),
        meta.get("lastUpdated") if isinstance(meta, dict) else None,
    ):
        if isinstance(raw, str):
            try:
                return parse_fhir_datetime(raw)
            except ValueError:
                continue
    return None


# --- exact JSON: Decimals are tagged so they come back as the same Decimal -----------------------

_DECIMAL_TAG: Final = "$decimal"


def _tag(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    return value


def _untag(value: dict[str, Any]) -> Any:
    if len(value) == 1 and _DECIMAL_TAG in value:
        return Decimal(value[_DECIMAL_TAG])
    return value


def dumps(value: Any) -> str:
    return json.dumps(_tag(value), separators=(",", ":"), sort_keys=True)


def loads(raw: str | bytes) -> Any:
    return json.loads(raw, object_hook=_untag)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
