"""What one specimen's case holds across messages, and how an arrival merges in (pure).

IHC and ISH of one specimen arrive in separate messages, in any order. Each arrival is merged
into the case's state and the WHOLE case is re-read and re-interpreted (`settle`), so the report
always reflects everything known. Merge rules:

- an input Observation is known by its identity: `Observation/{id}`, else its entry's fullUrl,
  else its first identifier, else a digest of its content;
- a newer version replaces the known one: a higher `meta.versionId`, else a stronger status
  (entered-in-error > amended/corrected > final > preliminary), else a later `issued` /
  `meta.lastUpdated`; equal ones: the latest arrival wins. An older replay changes nothing;
- an `entered-in-error` version withdraws the input; it is kept as a tombstone so that a later
  replay of the withdrawn version cannot bring it back;
- the Specimen, Patient, Organization and MessageHeader resources the inputs reach are kept
  beside them (the case's site, subject and laboratory).

Where the state lives is the edge's concern (`adapter.case_store`): `StoredCase.of` and
`StoredCase.record` turn it into the record of JSON the store keeps, and back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Final

from adapter.case_store import CaseRecord
from adapter.fhir.grouping import canonical_json
from adapter.fhir.observations import IGNORED_STATUSES, parse_fhir_datetime
from adapter.fhir.validation import Entry

JsonDict = dict[str, Any]
Arrived = tuple[JsonDict, str | None]  # a resource and the fullUrl of its entry
STATUS_RANK: Final = {
    "entered-in-error": 3,
    "amended": 2,
    "corrected": 2,
    "final": 1,
    "preliminary": 0,
}
AMENDING: Final = frozenset({"amended", "corrected", "entered-in-error"})


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
    digest = hashlib.sha256(canonical_json(Entry(resource)).encode()).hexdigest()[:32]
    return f"content|{digest}"


def entry_name(resource: JsonDict, full_url: str | None) -> str:
    """A supporting resource (Specimen, Patient, ...) by its fullUrl, else `Type/id`."""
    if full_url:
        return full_url
    return f"{resource.get('resourceType')}/{resource.get('id')}"


@dataclass(frozen=True, slots=True)
class CaseMeta:
    key: str = ""  # the case key (contract 1.3)
    site: str | None = None  # a site override given with a job of this case
    final_reported: bool = False  # a final (or later, amended) report of this case was written
    reported_status: str | None = None  # status of the last report written
    last: tuple[JsonDict, ...] = ()  # the resources last written (for a withdrawal of all)
    reports: int = 0  # reports of this case written so far: the last one's version


@dataclass(frozen=True, slots=True)
class StoredCase:
    meta: CaseMeta
    inputs: dict[str, JsonDict] = field(default_factory=dict)  # identity -> entry
    support: dict[str, JsonDict] = field(default_factory=dict)  # name -> entry

    @classmethod
    def new(cls, key: str) -> StoredCase:
        return cls(CaseMeta(key=key))

    @classmethod
    def of(cls, key: str, record: CaseRecord) -> StoredCase:
        """The state of a stored record (entries named again by identity and name)."""
        known = {f.name for f in fields(CaseMeta)}
        meta = {k: v for k, v in record.meta.items() if k in known}
        return cls(
            CaseMeta(**{**meta, "key": key, "last": tuple(meta.get("last", ()))}),
            {identity(e["resource"], e.get("fullUrl")): e for e in record.inputs},
            {entry_name(e["resource"], e.get("fullUrl")): e for e in record.support},
        )

    def record_meta(self) -> JsonDict:
        """The meta as the store keeps it: JSON, unset fields left out (FHIR JSON, no null).
        Shallow: the last report's resources are kept as they are, not copied."""
        values = {f.name: getattr(self.meta, f.name) for f in fields(CaseMeta)}
        return {k: v for k, v in values.items() if v is not None}

    @property
    def active(self) -> list[JsonDict]:
        """Input entries that still count (not withdrawn, not cancelled)."""
        return [
            e for e in self.inputs.values() if e["resource"].get("status") not in IGNORED_STATUSES
        ]

    def entries(self) -> tuple[Entry, ...]:
        """The active inputs and the supporting resources as the reader's entries, as one
        `collection` message. Each was validated when its message arrived and is kept as
        validated, so it is not validated again."""
        stored = [*self.active, *self.support.values()]
        return tuple(Entry(e["resource"], i, e.get("fullUrl")) for i, e in enumerate(stored))

    def all_entries(self) -> list[JsonDict]:
        """Every entry (`{"fullUrl", "resource"}`): the inputs, withdrawn ones too, then the
        supporting resources."""
        return [*self.inputs.values(), *self.support.values()]


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
        return new_time > old_time
    return True  # same standing: the latest arrival wins


def merge(
    stored: StoredCase,
    arrivals: Sequence[Arrived],
    support: Sequence[Arrived] = (),
    *,
    site: str | None = None,
) -> StoredCase:
    """The case with `arrivals` (input Observations, with their fullUrls) merged in."""
    inputs = dict(stored.inputs)
    for resource, full_url in arrivals:
        ident = identity(resource, full_url)
        old = inputs.get(ident)
        if old is None or supersedes(resource, old["resource"]):
            inputs[ident] = _entry(resource, full_url)
    supporting = dict(stored.support)
    for resource, full_url in support:
        supporting[entry_name(resource, full_url)] = _entry(resource, full_url)
    meta = replace(stored.meta, site=site or stored.meta.site)
    return StoredCase(meta, inputs, supporting)


def _entry(resource: JsonDict, full_url: str | None) -> JsonDict:
    return {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}


def _version(resource: JsonDict) -> int | None:
    meta = resource.get("meta")
    raw = meta.get("versionId") if isinstance(meta, dict) else None
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


def _time(resource: JsonDict) -> datetime | None:
    meta = resource.get("meta")
    for raw in (
        resource.get("issued"),
        meta.get("lastUpdated") if isinstance(meta, dict) else None,
    ):
        if isinstance(raw, str):
            return parse_fhir_datetime(raw)
    return None
