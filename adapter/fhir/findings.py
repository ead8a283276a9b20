"""Entry point of the FHIR translation: a message -> its cases of `Her2Findings` (STYLE.md [4]).

`read_message` validates the message (R4B), reads every HER2 Observation (contract 1.1, 1.2),
groups them into cases (1.3), finds each case's site (1.4), laboratory and time (qa-report-
contract.md 2) and returns a `MessageReading`.
Any unreadable IHC or ISH value rejects the whole message: nothing is half-interpreted (5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapter.errors import NoHer2Result, UnreadableValue
from adapter.fhir.case import Case, Laboratory, MessageReading
from adapter.fhir.effective import case_effective
from adapter.fhir.grouping import CaseGroup, References, group_cases, reference_of
from adapter.fhir.laboratory import case_laboratory
from adapter.fhir.observations import Fact, is_her2_input, read_observation, role_of
from adapter.fhir.site import case_site
from adapter.fhir.validation import Entry, message_entries
from adapter.fhir.values import Measure
from adapter.interpretation.model import Her2Findings, IshCount, Number, Reported, SiteGroup
from adapter.mappings import Mappings


def read_message(
    resource: dict[str, Any], mappings: Mappings, *, site: SiteGroup | None = None
) -> MessageReading:
    """The cases of one FHIR message (an Observation or a Bundle), with warnings.

    `site` (from `--site`) overrides the site the input names. Raises `InvalidResource` for a
    message that is not valid FHIR R4, `UnreadableValue` for an IHC/ISH value that cannot be
    read and `NoHer2Result` when no case holds an IHC or ISH result.
    """
    entries, warnings = message_entries(resource, mappings)
    return read_entries(entries, mappings, site=site, warnings=warnings)


def read_entries(
    entries: Sequence[Entry],
    mappings: Mappings,
    *,
    site: SiteGroup | None = None,
    warnings: Sequence[str] = (),
) -> MessageReading:
    """`read_message` for resources `message_entries` validated already: the worker validates
    a message once and reads it, and later its stored case, without validating it again.

    Raises `UnreadableValue` and `NoHer2Result` as `read_message` does.
    """
    warnings = list(warnings)
    refs = References(entries)
    observations = [e for e in entries if is_her2_input(e.resource, mappings)]
    recounted = _recount_panel_members(observations, refs, mappings)
    facts: dict[int, tuple[Fact, ...]] = {}
    for entry in observations:
        read, notes = read_observation(
            entry, References.name(entry), mappings, recount=id(entry) in recounted
        )
        facts[id(entry)] = read
        warnings.extend(notes)
    cases: list[Case] = []
    for group in group_cases(observations, entries, refs):
        case_facts = [f for member in group.members for f in facts[id(member)]]
        if all(f.measure in (Measure.STATUS, Measure.NOT_DONE) for f in case_facts):
            warnings.append(
                f"case {group.key}: no IHC or ISH result (only a reported HER2 status or tests "
                "not done); skipped"
            )
            continue
        laboratory = case_laboratory(group.members, entries, refs)
        cases.append(_case(group, case_facts, mappings, site, laboratory))
    if not cases:
        raise NoHer2Result("the message holds no HER2 IHC or ISH result")
    return MessageReading(tuple(cases), tuple(warnings))


def _recount_panel_members(
    observations: Sequence[Entry], refs: References, mappings: Mappings
) -> set[int]:
    """Members of a panel marked as a recount are recounts too (contract 1.2)."""
    marked: set[int] = set()
    for panel in observations:
        method = panel.resource.get("method")
        text = (method.get("text") or "").lower() if isinstance(method, dict) else ""
        if ("recount" in text or "blinded" in text) and _is_panel(panel, mappings):
            for member in panel.resource.get("hasMember") or ():
                target = refs.resolve(reference_of(member))
                if target is not None:
                    marked.add(id(target))
    return marked


def _is_panel(entry: Entry, mappings: Mappings) -> bool:
    try:
        return role_of(entry.resource, mappings, "Observation") == "ish-panel"
    except UnreadableValue:
        return False


def _case(
    group: CaseGroup,
    facts: list[Fact],
    mappings: Mappings,
    site: SiteGroup | None,
    laboratory: Laboratory | None,
) -> Case:
    first = _count([f for f in facts if not f.recount])
    recount = _count([f for f in facts if f.recount])
    findings = Her2Findings(
        site=case_site(group.members, group.specimen_entry, mappings, site),
        ihc=tuple(Reported(f.value, f.source) for f in facts if f.measure is Measure.IHC),
        first_count=first,
        recount=recount,
        reported_status=tuple(
            Reported(f.value, f.source) for f in facts if f.measure is Measure.STATUS
        ),
        not_done=tuple(Reported(f.value, f.source) for f in facts if f.measure is Measure.NOT_DONE),
    )
    inputs = tuple(dict.fromkeys(References.name(m) for m in group.members))
    return Case(
        group.key,
        findings,
        group.subject,
        group.specimen,
        inputs,
        laboratory=laboratory,
        effective=case_effective(group.members),
    )


def _count(facts: list[Fact]) -> IshCount:
    def of(measure: Measure) -> tuple[Reported[Any], ...]:
        return tuple(Reported(f.value, f.source) for f in facts if f.measure is measure)

    count = IshCount(
        ratio=of(Measure.RATIO),
        her2_per_cell=of(Measure.HER2),
        cep17_per_cell=of(Measure.CEP17),
        call=of(Measure.CALL),
    )
    has_ratio = any(isinstance(r.value, Number) for r in count.ratio)
    has_her2 = any(isinstance(r.value, Number) for r in count.her2_per_cell)
    if has_her2 and not has_ratio:
        # The ratio will be HER2 / CEP17: a CEP17 average of 0 makes that impossible (contract 5).
        for fact in facts:
            if (
                fact.measure is Measure.CEP17
                and isinstance(fact.value, Number)
                and fact.value.value == 0
            ):
                raise fact.entry.locate(
                    UnreadableValue(
                        "CEP17 average 0: the HER2/CEP17 ratio cannot be computed",
                        expression=fact.path + _value_suffix(fact.entry.resource, fact.path),
                    )
                )
    return count


def _value_suffix(resource: dict[str, Any], path: str) -> str:
    """`.valueQuantity.value` etc. for the holder at `path`, to name the exact field."""
    holder = resource
    if path != "Observation":
        holder = resource["component"][int(path.rsplit("[", 1)[1].rstrip("]"))]
    for name in ("valueQuantity", "valueInteger", "valueString", "valueRatio"):
        if name in holder:
            return f".{name}.value" if name == "valueQuantity" else f".{name}"
    return ""
