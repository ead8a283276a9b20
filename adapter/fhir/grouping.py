"""Which HER2 Observations form one case (contract 1.3), and how references resolve.

References inside a Bundle are written as the sender likes: `urn:uuid:` fullUrls, relative
`Specimen/x`, or absolute URLs ending in `Specimen/x`. `References` resolves all three to the
entry, so an Observation finds its Specimen either way, and names resources canonically
(`Specimen/x`) so a case key stays the same across messages.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from adapter.fhir.validation import Entry

_TYPE_ID: Final = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"
)


def listed(value: Any) -> list[Any]:
    """The items of a JSON array; none for anything else (a malformed field reads as absent)."""
    return value if isinstance(value, list) else []


def reference_of(holder: Any) -> str | None:
    """The `reference` string of a Reference JSON, or None."""
    ref = holder.get("reference") if isinstance(holder, dict) else None
    return ref if isinstance(ref, str) and ref else None


class References:
    """Resolves references among the entries of one message."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._by_url: dict[str, Entry] = {}
        self._by_type_id: dict[tuple[str, str], Entry] = {}
        for entry in entries:
            if entry.full_url:
                self._by_url.setdefault(entry.full_url, entry)
            rid = entry.resource.get("id")
            if isinstance(rid, str):
                self._by_type_id.setdefault((entry.resource["resourceType"], rid), entry)

    def resolve(self, ref: str | None) -> Entry | None:
        """The entry a reference points at, or None when it is not in the message."""
        if not ref:
            return None
        if ref in self._by_url:
            return self._by_url[ref]
        match = _TYPE_ID.search(ref)
        return self._by_type_id.get((match["type"], match["id"])) if match else None

    def type_of(self, ref: str) -> str | None:
        """The resource type a reference points at: its entry's, else the one the reference
        spells (`Organization/x`); None for a `urn:uuid:` that is not in the message."""
        entry = self.resolve(ref)
        if entry is not None:
            return str(entry.resource["resourceType"])
        match = _TYPE_ID.search(ref)
        return match["type"] if match else None

    def canonical(self, ref: str) -> str:
        """`Type/id` of the resolved resource where it has an id; else the reference as written."""
        entry = self.resolve(ref)
        rid = entry.resource.get("id") if entry else None
        return f"{entry.resource['resourceType']}/{rid}" if entry and isinstance(rid, str) else ref

    @staticmethod
    def name(entry: Entry) -> str:
        """An input as the input names it: the entry's fullUrl, else `Observation/{id}`."""
        if entry.full_url:
            return entry.full_url
        rid = entry.resource.get("id")
        if isinstance(rid, str):
            return f"{entry.resource['resourceType']}/{rid}"
        return entry.within or entry.resource["resourceType"]


@dataclass(slots=True)
class CaseGroup:
    """The Observations of one case, before their facts are read."""

    key: str
    members: list[Entry] = field(default_factory=list)
    subject: dict[str, Any] | None = None
    specimen: dict[str, Any] | None = None
    specimen_entry: Entry | None = None


def group_cases(
    observations: Sequence[Entry], entries: Sequence[Entry], refs: References
) -> list[CaseGroup]:
    """Group HER2 Observations into cases by the rules of contract 1.3, in message order."""
    specimens = [e for e in entries if e.resource.get("resourceType") == "Specimen"]
    panel_of: dict[int, Entry] = {}
    for panel in observations:
        for member in panel.resource.get("hasMember") or ():
            target = refs.resolve(reference_of(member))
            if target is not None and target is not panel:
                panel_of.setdefault(id(target), panel)

    groups: dict[str, CaseGroup] = {}
    loose: list[Entry] = []  # no specimen, no panel, no subject: the message's own case

    def place(entry: Entry, seen: frozenset[int]) -> CaseGroup | None:
        resource = entry.resource
        spec_ref = reference_of(resource.get("specimen"))
        if spec_ref:
            return _group(
                groups,
                f"specimen|{refs.canonical(spec_ref)}",
                resource.get("specimen"),
                refs.resolve(spec_ref),
            )
        panel = panel_of.get(id(entry))
        if panel is not None and id(panel) not in seen:
            return place(panel, seen | {id(entry)})
        subject_ref = reference_of(resource.get("subject"))
        if not subject_ref:
            return None
        subject = refs.canonical(subject_ref)
        own = [s for s in specimens if _canonical_subject(s, refs) == subject]
        if len(own) == 1:
            name = References.name(own[0])
            return _group(groups, f"specimen|{refs.canonical(name)}", {"reference": name}, own[0])
        return _group(groups, f"subject|{subject}", None, None)

    for entry in observations:
        group = place(entry, frozenset())
        if group is None:
            loose.append(entry)
            continue
        group.members.append(entry)
        if group.subject is None and isinstance(entry.resource.get("subject"), dict):
            group.subject = entry.resource["subject"]
    result = list(groups.values())
    for group in result:
        # Prefer the Reference as an input wrote it over one built from the Specimen entry.
        own = next(
            (
                m.resource["specimen"]
                for m in group.members
                if isinstance(m.resource.get("specimen"), dict)
            ),
            None,
        )
        group.specimen = own or group.specimen
    if loose:
        # Nothing names whose results these are, so only their content identifies the case:
        # the same message gives the same key (and ids); two different messages never share one
        # (their names alone may be equal, e.g. Observations without an id).
        digest = hashlib.sha256("\n".join(sorted(map(canonical_json, loose))).encode())
        result.append(CaseGroup(f"message|{digest.hexdigest()}", loose))
    return result


def canonical_json(entry: Entry) -> str:
    """A resource as one canonical text (keys sorted, no blanks): what identifies a resource
    that has no id, fullUrl or identifier by its content alone."""
    return json.dumps(entry.resource, sort_keys=True, default=str, separators=(",", ":"))


def _group(
    groups: dict[str, CaseGroup], key: str, specimen: Any, specimen_entry: Entry | None
) -> CaseGroup:
    group = groups.get(key)
    if group is None:
        group = groups[key] = CaseGroup(
            key,
            specimen=specimen if isinstance(specimen, dict) else None,
            specimen_entry=specimen_entry,
        )
    return group


def _canonical_subject(specimen: Entry, refs: References) -> str | None:
    ref = reference_of(specimen.resource.get("subject"))
    return refs.canonical(ref) if ref else None
