"""A case's state + what a message brings to it -> its next state and the report to write (pure).

The same step for the command line (from an empty state) and the worker (from the stored one):

1. merge the arrival into the case (`case_state.merge`); a message that changes nothing (sent
   again, replayed) issues no new version;
2. re-read and re-interpret the WHOLE case (a new case is the message's own reading);
3. build the status Observation, DiagnosticReport and Provenance (contract 3);
4. the report's version (contract 3): `preliminary` or `final` as 2.3 says until it has been
   final, then `amended` whatever the new value; `entered-in-error` when no input is left;
5. over HL7 v2 (hl7v2-contract.md 5) the case's Specimen and input Observations go with the
   report, and the Provenance names the message by MSH-10.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from adapter.fhir.case import Case
from adapter.fhir.findings import read_entries
from adapter.fhir.report import case_resources
from adapter.hl7v2.message import V2Reading
from adapter.hl7v2.to_fhir import message_entity
from adapter.interpretation.decision import Interpretation
from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.service.arrivals import CaseArrival
from adapter.service.case_state import StoredCase, merge

JsonDict = dict[str, Any]
WITHDRAWN: Final = "entered-in-error"
AMENDED: Final = "amended"


@dataclass(frozen=True, slots=True)
class InterpretedCase:
    """One case with its interpretation and the three output resources (contract 3)."""

    case: Case
    interpretation: Interpretation
    observation: JsonDict  # the 48676-1 status Observation
    diagnostic_report: JsonDict
    provenance: JsonDict

    @property
    def resources(self) -> tuple[JsonDict, JsonDict, JsonDict]:
        return (self.observation, self.diagnostic_report, self.provenance)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one arrival did to one case."""

    state: StoredCase  # to keep
    write: tuple[JsonDict, ...] = ()  # the report's three resources, then any inputs; ()
    interpreted: InterpretedCase | None = None  # None: nothing to interpret (withdrawn, unchanged)
    report_status: str | None = None  # the status of the report written; None: none written


def settle(
    stored: StoredCase,
    arrival: CaseArrival,
    mappings: Mappings,
    *,
    site: SiteGroup | None,
    recorded: datetime,
    v2: V2Reading | None = None,
) -> Settlement:
    """The next state of `stored` with `arrival` merged in, and what to write for it."""
    merged = merge(stored, arrival.inputs, arrival.support, site=site.value if site else None)
    if stored.meta.last and (merged.inputs, merged.support) == (stored.inputs, stored.support):
        return Settlement(merged)  # nothing new: the report stands as written
    interpreted = None
    if merged.active:
        case = arrival.case if not stored.inputs and arrival.case else _reread(merged, mappings)
        interpretation = interpret(case.findings)
        entities = [message_entity(v2.header)] if v2 is not None else []
        observation, report, provenance = case_resources(
            case, interpretation, mappings, recorded=recorded, extra_entities=entities
        )
        if stored.meta.final_reported:  # once final, every later version is amended
            observation["status"] = report["status"] = AMENDED
        interpreted = InterpretedCase(case, interpretation, observation, report, provenance)
        resources = [observation, report, provenance]
    elif stored.meta.last and stored.meta.reported_status != WITHDRAWN:
        resources = _withdrawn(stored.meta.last, recorded)
    else:  # nothing reported yet and nothing left to report
        return Settlement(merged)
    status = resources[0]["status"]
    meta = replace(
        merged.meta,
        final_reported=merged.meta.final_reported or status in ("final", AMENDED),
        reported_status=status,
        last=tuple(resources),
        reports=merged.meta.reports + 1,
    )
    # v2: the case's Specimen and input Observations (withdrawn ones as entered-in-error) are
    # written with the report; a FHIR sender holds its own.
    inputs = _inputs(merged) if v2 is not None else []
    return Settlement(replace(merged, meta=meta), (*resources, *inputs), interpreted, status)


def _reread(state: StoredCase, mappings: Mappings) -> Case:
    """The whole case as its stored entries read now; the stored key names it, whatever the
    re-read would call it."""
    site = SiteGroup(state.meta.site) if state.meta.site else None
    cases = read_entries(state.entries(), mappings, site=site).cases
    chosen = next((c for c in cases if c.key == state.meta.key), cases[0])
    return replace(chosen, key=state.meta.key)


def _inputs(state: StoredCase) -> list[JsonDict]:
    """The stored Specimens, then the input Observations (every one has a deterministic id)."""
    entries = [*state.support.values(), *state.inputs.values()]
    return [e["resource"] for e in entries if e["resource"].get("id")]


def _withdrawn(last: tuple[JsonDict, ...], recorded: datetime) -> list[JsonDict]:
    """The last report, re-issued as entered-in-error: every input of the case was withdrawn."""
    when = recorded.isoformat()
    observation, report, provenance = (dict(r) for r in last)
    for resource in (observation, report):
        resource["status"] = WITHDRAWN
        resource["meta"] = {"lastUpdated": when}
    report["issued"] = when
    provenance["recorded"] = when
    provenance["meta"] = {"lastUpdated": when}
    return [observation, report, provenance]
