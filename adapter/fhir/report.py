"""Core -> FHIR (contract 3): per case a status Observation, a DiagnosticReport, a Provenance.

Resources are plain JSON dicts. They leave only inside a Bundle (`collection_bundle` to print,
`transaction_bundle` to write back), which validates every resource it carries through its
`fhir.resources.R4B` model: validated once, as written, not once here and again there.

Ids are uuid5 of the case key, one name per resource type, so the same input always gives the
same ids (STYLE.md R11: PUT by id makes the write-back idempotent); the business
identifier lets a server that refuses client ids do a conditional update instead. Only
`recorded`, `issued` and `meta.lastUpdated` change from run to run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import adapter
from adapter.fhir.bundles import (
    collection_bundle,
    transaction_bundle,
)  # re-exported: one import place
from adapter.fhir.case import Case
from adapter.fhir.laboratory import performer_reference
from adapter.fhir.qa_extensions import qa_extensions
from adapter.interpretation.conclusion import conclusion_text
from adapter.interpretation.decision import Interpretation, Status
from adapter.mappings import CODESYSTEM_URL, Mappings

LOINC: Final = "http://loinc.org"
REPORT_ID_SYSTEM: Final = "https://her2-fhir-adapter.org/fhir/report-id"
ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://her2-fhir-adapter.org/fhir")
STATUS_CONCEPTS: Final = {
    Status.POSITIVE: "status-positive",
    Status.NEGATIVE: "status-negative",
    Status.EQUIVOCAL: "status-equivocal",
    Status.INDETERMINATE: "status-indeterminate",
}


def resource_id(case_key: str, resource_type: str) -> str:
    """The deterministic id of one output resource of a case."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{resource_type}|{case_key}"))


def reference(resource_type: str, rid: str) -> dict[str, str]:
    """A reference to an output resource, as its Bundle entry's fullUrl (`urn:uuid:<id>`)."""
    # In a transaction, servers replace urn:uuid references with the ids they assign (or the
    # PUT ids), so the same reference works in the collection and the transaction Bundle.
    return {"reference": f"urn:uuid:{rid}", "type": resource_type}


def _coding(mappings: Mappings, code: str) -> dict[str, str]:
    concept = mappings.concept(code)
    coding = {"system": CODESYSTEM_URL, "code": concept.code}
    return coding | ({"display": concept.display} if concept.display else {})


def status_value(interpretation: Interpretation, mappings: Mappings) -> dict[str, Any]:
    """The output value (contract 2.3): a LOINC answer, or for Pending the next-step code."""
    if interpretation.status is Status.PENDING:
        if interpretation.next_step is None:
            raise ValueError("a Pending interpretation needs a next step")
        return {"coding": [_coding(mappings, interpretation.next_step.value)]}
    answer = mappings.outbound_status(STATUS_CONCEPTS[interpretation.status])
    coding = {"system": answer.system, "code": answer.code}
    return {
        "coding": [coding | ({"display": answer.display} if answer.display else {})],
        "text": interpretation.status.value,
    }


def _components(interpretation: Interpretation, mappings: Mappings) -> list[dict[str, Any]]:
    components: list[dict[str, Any]] = []
    if interpretation.category is not None:
        components.append({"code": {"coding": [_coding(mappings, interpretation.category.value)]}})
    if interpretation.ish_group is not None:
        components.append(
            {
                "code": {"coding": [_coding(mappings, "ish-group")]},
                "valueInteger": int(interpretation.ish_group),
            }
        )
    if interpretation.next_step is not None:
        components.append({"code": {"coding": [_coding(mappings, interpretation.next_step.value)]}})
    components += [
        {"code": {"coding": [_coding(mappings, flag.value)]}} for flag in interpretation.flags
    ]
    return components


def case_resources(
    case: Case,
    interpretation: Interpretation,
    mappings: Mappings,
    *,
    recorded: datetime,
    extra_entities: Sequence[dict[str, Any]] = (),
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(status Observation 48676-1, DiagnosticReport, Provenance) for one case; R4B-validated
    by the Bundle that carries them out (`collection_bundle`, `transaction_bundle`).

    `extra_entities` are further `Provenance.entity` entries (the v2 door names its message by
    MSH-10 there), after the input Observations.
    """
    obs_id, report_id, prov_id = (
        resource_id(case.key, t) for t in ("Observation", "DiagnosticReport", "Provenance")
    )
    status = "final" if interpretation.is_final else "preliminary"
    when = recorded.isoformat()
    identifier = [{"system": REPORT_ID_SYSTEM, "value": str(uuid.uuid5(ID_NAMESPACE, case.key))}]
    value = status_value(interpretation, mappings)
    inputs = [input_reference(name) for name in case.inputs]
    about: dict[str, Any] = {}
    if case.subject is not None:
        about["subject"] = case.subject
    if case.effective is not None:
        about["effectiveDateTime"] = case.effective
    if case.laboratory is not None:
        about["performer"] = [performer_reference(case.laboratory)]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"lastUpdated": when},
        "extension": qa_extensions(case, mappings),
        "identifier": identifier,
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": LOINC, "code": "48676-1", "display": "HER2 [Interpretation] in Tissue"}
            ]
        },
        **about,
        "valueCodeableConcept": value,
    }
    if case.specimen is not None:
        observation["specimen"] = case.specimen
    if inputs:
        observation["derivedFrom"] = inputs
    components = _components(interpretation, mappings)
    if components:
        observation["component"] = components
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "meta": {"lastUpdated": when},
        "identifier": identifier,
        "status": status,
        "category": [
            {"coding": [{"system": LOINC, "code": "LP7839-6", "display": "Pathology"}]},
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "SP",
                        "display": "Surgical Pathology",
                    }
                ]
            },
        ],
        "code": {
            "coding": [{"system": LOINC, "code": "60568-3", "display": "Pathology Synoptic report"}]
        },
        **about,
        "issued": when,
        "result": [reference("Observation", obs_id), *inputs],
        "conclusion": conclusion_text(interpretation),
        "conclusionCode": [value],
    }
    if case.specimen is not None:
        report["specimen"] = [case.specimen]
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": prov_id,
        "meta": {"lastUpdated": when},
        "target": [reference("Observation", obs_id), reference("DiagnosticReport", report_id)],
        "recorded": when,
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                            "display": "Assembler",
                        }
                    ]
                },
                "who": {"type": "Device", "display": f"her2-fhir-adapter {adapter.__version__}"},
            }
        ],
    }
    entities = [{"role": "source", "what": ref} for ref in inputs] + list(extra_entities)
    if entities:
        provenance["entity"] = entities
    return observation, report, provenance


__all__ = [
    "case_resources",
    "collection_bundle",
    "resource_id",
    "status_value",
    "transaction_bundle",
]


def input_reference(name: str) -> dict[str, Any]:
    """A Reference to an input as the input names it; an input with neither id nor fullUrl
    can only be described (a bare "Observation" is not a reference a server can resolve)."""
    if "/" in name or ":" in name:
        return {"reference": name}
    return {"display": f"input {name} without id or fullUrl"}
