"""The laboratory of a case (qa-report-contract.md 2), read from what the message says.

In this order, the first found: the `performer` of the case's input Observations (an
Organization: its first identifier's value, else its display, else the reference), then the
`sender` of the message's MessageHeader. The v2 door writes MSH-4.1 as its input Observations'
performer (`adapter.hl7v2.to_fhir`), so the same rule serves both doors. Where several inputs
(or, in a stored case, several messages) name different laboratories, the earliest result's
laboratory is the case's: the laboratory that started the work-up and sent an ISH out, say.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from adapter.fhir.case import Laboratory
from adapter.fhir.grouping import References, listed, reference_of
from adapter.fhir.observations import issued_of
from adapter.fhir.validation import Entry

ORGANIZATION: Final = "Organization"


def case_laboratory(
    members: Sequence[Entry], entries: Sequence[Entry], refs: References
) -> Laboratory | None:
    """The case's laboratory, or None when neither its inputs nor the message name one."""
    named = [
        (issued_of(member.resource), laboratory)
        for member in members
        if (laboratory := _first(member.resource.get("performer"), refs)) is not None
    ]
    if not named:
        named = [
            (None, laboratory)
            for entry in entries
            if entry.resource.get("resourceType") == "MessageHeader"
            if (laboratory := _first([entry.resource.get("sender")], refs)) is not None
        ]
    return min(named, key=_earliest)[1] if named else None


def written_laboratory(performers: Any) -> Laboratory | None:
    """The laboratory a written report names in `performer` (read as `case_laboratory` reads
    an input's: the first Organization's identifier value, else its display, else the
    reference), with nothing to resolve references against."""
    return _first(performers, References(()))


def performer_reference(laboratory: Laboratory) -> dict[str, Any]:
    """The laboratory as the report's `performer`: an Organization named by its identifier,
    else by its display; reading it back with `case_laboratory` gives the same name."""
    reference: dict[str, Any] = {"type": ORGANIZATION}
    if laboratory.identifier_value is not None:
        identifier = {"value": laboratory.identifier_value}
        if laboratory.identifier_system is not None:
            identifier = {"system": laboratory.identifier_system} | identifier
        reference["identifier"] = identifier
    if laboratory.display is not None:
        reference["display"] = laboratory.display
    return reference


def _earliest(named: tuple[datetime | None, Laboratory]) -> tuple[bool, datetime | None, str]:
    when, laboratory = named
    # Undated results last; the name settles ties, so the answer never depends on the order
    # in which a stored case hands its inputs back.
    return (when is None, when, laboratory.name)


def _first(references: Any, refs: References) -> Laboratory | None:
    for holder in listed(references):
        laboratory = _laboratory(holder, refs) if isinstance(holder, dict) else None
        if laboratory is not None:
            return laboratory
    return None


def _laboratory(holder: dict[str, Any], refs: References) -> Laboratory | None:
    """One Reference read as a laboratory; None for anything known not to be an Organization
    (a Practitioner performer) or naming nothing."""
    written = reference_of(holder)
    target = refs.resolve(written)
    kind = holder.get("type") or (refs.type_of(written) if written else None)
    if kind not in (None, ORGANIZATION):
        return None
    organization = target.resource if target is not None else {}
    display = _text(holder.get("display")) or _text(organization.get("name"))
    for identifier in (*listed(organization.get("identifier")), holder.get("identifier")):
        value = _text(identifier.get("value")) if isinstance(identifier, dict) else None
        if value:
            return Laboratory(value, _text(identifier.get("system")), display)
    if display:
        return Laboratory(display=display)
    return Laboratory(display=refs.canonical(written)) if written else None


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
