"""Plain functions that build FHIR JSON inputs for tests (STYLE.md R19)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
IHC_ANSWERS = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}


def code(loinc: str, *more: tuple[str, str]) -> dict[str, Any]:
    return {
        "coding": [{"system": LOINC, "code": loinc}, *({"system": s, "code": c} for s, c in more)]
    }


def observation(
    loinc: str,
    *,
    id: str = "obs",
    status: str = "final",
    subject: str | None = "Patient/p",
    specimen: str | None = "Specimen/s",
    **fields: Any,
) -> dict[str, Any]:
    """An Observation with a LOINC code; `fields` are added as written (valueString=...)."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "code": code(loinc),
    }
    if subject:
        resource["subject"] = {"reference": subject}
    if specimen:
        resource["specimen"] = {"reference": specimen}
    resource.update(fields)
    return resource


def ihc_observation(
    score: str | None = None, *, loinc: str = "85319-2", **fields: Any
) -> dict[str, Any]:
    """An IHC Observation; `score` "0".."3+" becomes its LOINC answer code."""
    if score is not None:
        fields["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": IHC_ANSWERS[score]}]}
    fields.setdefault("id", "ihc")
    return observation(loinc, **fields)


def quantity(value: Any, unit: str | None = None, comparator: str | None = None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": Decimal(value) if isinstance(value, str) else value}
    if unit:
        q["unit"] = unit
    if comparator:
        q["comparator"] = comparator
    return q


def component(loinc: str, **value: Any) -> dict[str, Any]:
    return {"code": code(loinc), **value}


def ish_observation(
    ratio: str | None = None,
    *,
    her2: str | None = None,
    cep17: str | None = None,
    loinc: str = "49683-6",
    **fields: Any,
) -> dict[str, Any]:
    """A ratio Observation (valueQuantity) with optional average components."""
    if ratio is not None:
        fields["valueQuantity"] = quantity(ratio, "{ratio}")
    parts = []
    if her2 is not None:
        parts.append(component("74860-8", valueQuantity=quantity(her2, "{copies}/{nucleus}")))
    if cep17 is not None:
        parts.append(component("74861-6", valueQuantity=quantity(cep17, "{copies}/{nucleus}")))
    if parts:
        fields["component"] = parts
    fields.setdefault("id", "ish")
    return observation(loinc, **fields)


def specimen(
    id: str = "s",
    *,
    subject: str = "Patient/p",
    body_site: dict[str, Any] | None = None,
    type_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": id,
        "subject": {"reference": subject},
    }
    if body_site:
        resource["collection"] = {"bodySite": body_site}
    if type_:
        resource["type"] = type_
    return resource


def her2_bundle(
    *resources: dict[str, Any], type: str = "collection", urn: bool = False
) -> dict[str, Any]:
    """A Bundle of the resources; fullUrl `urn:uuid:<id>` when `urn`, else none."""
    entries = []
    for r in resources:
        entry: dict[str, Any] = {"resource": r}
        if urn:
            entry["fullUrl"] = f"urn:uuid:{r['id']}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": type, "entry": entries}
