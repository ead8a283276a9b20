"""A message of either door -> what arrives for each of its cases.

A FHIR message (an Observation or a Bundle) is validated and read as it is; an HL7 v2 message
is first read into the FHIR input Observations and Specimens of its HER2 results
(`adapter.hl7v2.message`), then taken the same way. Each case (contract 1.3) gets its input
Observations and the supporting resources they reach (its Specimen, Patient, laboratory
Organization and the MessageHeader: the case's site, subject and laboratory when it is re-read
later). A withdrawal (an `entered-in-error` HER2 Observation) goes to the case that holds the
withdrawn input, where one does (`case_of`); the others are returned apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from adapter.errors import NoHer2Result
from adapter.fhir.case import Case
from adapter.fhir.findings import read_entries
from adapter.fhir.grouping import References, reference_of
from adapter.fhir.observations import is_her2_withdrawal
from adapter.fhir.validation import Entry, message_entries
from adapter.hl7v2.message import V2Reading
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.service.case_state import Arrived, identity

JsonDict = dict[str, Any]
# What a case keeps beside its inputs, reached from them through these fields.
SUPPORT_TYPES: Final = frozenset({"Specimen", "Patient", "Organization"})
SUPPORT_FIELDS: Final = ("specimen", "subject", "performer", "sender")


@dataclass(slots=True)
class CaseArrival:
    """What one message brings to one case."""

    key: str
    inputs: list[Arrived] = field(default_factory=list)
    support: list[Arrived] = field(default_factory=list)
    case: Case | None = None  # the case as this message alone reads it (None: withdrawals only)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message as the service takes it."""

    cases: tuple[CaseArrival, ...]  # in message order
    withdrawn: tuple[Arrived, ...]  # withdrawals of inputs no known case holds
    site: SiteGroup | None
    v2: V2Reading | None = None  # set for the HL7 v2 door
    warnings: tuple[str, ...] = ()


def v2_entries(reading: V2Reading, mappings: Mappings) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """The entries of a v2 message's input Bundle: as its read checked them, unless it had none."""
    if reading.entries is not None:
        return reading.entries, reading.entry_warnings
    return message_entries(reading.bundle, mappings)


def arrival_of(
    entries: Sequence[Entry],
    mappings: Mappings,
    *,
    site: SiteGroup | None,
    case_of: Callable[[str], str | None],
    v2: V2Reading | None = None,
    warnings: Sequence[str] = (),
) -> Arrival:
    """The cases of a message's validated entries, with their withdrawals placed.

    `case_of` names the case that holds an input (by `case_state.identity`), or None. Raises
    `UnreadableValue` for a value that cannot be read and `NoHer2Result` when the message holds
    neither a HER2 result nor a withdrawal of one.
    """
    refs = References(entries)
    plan: dict[str, CaseArrival] = {}
    withdrawn: list[Arrived] = []
    for entry in (e for e in entries if is_her2_withdrawal(e.resource, mappings)):
        key = case_of(identity(entry.resource, entry.full_url))
        arrived = (entry.resource, entry.full_url)
        if key is None:
            withdrawn.append(arrived)
        else:
            plan.setdefault(key, CaseArrival(key)).inputs.append(arrived)
    try:
        reading = read_entries(entries, mappings, site=site, warnings=warnings)
        cases, notes = reading.cases, reading.warnings
    except NoHer2Result:
        if not plan and not withdrawn:
            raise
        cases, notes = (), tuple(warnings)
    for case in cases:
        arrival = plan.setdefault(case.key, CaseArrival(case.key))
        members = [e for e in entries if References.name(e) in case.inputs]
        arrival.inputs += [(e.resource, e.full_url) for e in members]
        arrival.support += _support(members, entries, refs)
        arrival.case = case
    return Arrival(tuple(plan.values()), tuple(withdrawn), site, v2, notes)


def _support(members: list[Entry], entries: Sequence[Entry], refs: References) -> list[Arrived]:
    """The message's MessageHeaders and the Specimen / Patient / Organization entries the
    case's Observations (and what they reach) point at."""
    headers = [e for e in entries if e.resource.get("resourceType") == "MessageHeader"]
    found: dict[int, Entry] = {id(header): header for header in headers}
    pending = [*members, *headers]
    while pending:
        entry = pending.pop()
        for ref in support_references(entry.resource):
            target = refs.resolve(ref)
            if (
                target is not None
                and target.resource.get("resourceType") in SUPPORT_TYPES
                and id(target) not in found
            ):
                found[id(target)] = target
                pending.append(target)
    return [(e.resource, e.full_url) for e in found.values()]


def support_references(resource: JsonDict) -> Iterator[str]:
    """The references of `resource` that may name a supporting resource (`SUPPORT_FIELDS`)."""
    for name in SUPPORT_FIELDS:
        value = resource.get(name)
        for holder in value if isinstance(value, list) else [value]:
            ref = reference_of(holder)
            if ref:
                yield ref
