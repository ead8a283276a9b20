"""CWE / CE / CNE values -> FHIR Codings and a CodeableConcept (HL7 v2-to-FHIR, CWE).

Component 1-3 are the primary coding (identifier, text, coding system), 4-6 the alternate; 9 is
the original text. Coding system names become FHIR system URIs through `V2Codes.system_uri`.
"""

from __future__ import annotations

from typing import Any

from adapter.hl7v2.codes import V2Codes
from adapter.hl7v2.parse import ParsedMessage

Json = dict[str, Any]


def component_text(parsed: ParsedMessage, segment: Any, field: int, rep: int, comp: int) -> str:
    """A whole component, subcomponents kept joined (`&GDT` stays `&GDT`), unescaped."""
    if field >= len(segment):
        return ""
    node: Any = segment[field]
    for index in (rep, comp):
        if isinstance(node, str):
            if index != 1:
                return ""
            continue
        if index > len(node):
            return ""
        node = node[index - 1]
    raw = str(node)
    return str(parsed.message.unescape(raw)).strip() if raw else ""


def codings(
    parsed: ParsedMessage, segment: Any, field: int, codes: V2Codes, rep: int = 1
) -> list[Json]:
    """The primary and alternate codings of a CWE, each {system?, code, display?}."""
    found: list[Json] = []
    for first in (1, 4):
        # A FHIR code has no runs of blanks; a v2 label written "HER2  IHC" is still that
        # label (hl7v2-contract.md 3 compares labels without extra spaces).
        code = " ".join(component_text(parsed, segment, field, rep, first).split())
        display = parsed.value(segment, field, rep, first + 1)
        system = codes.system_uri(parsed.value(segment, field, rep, first + 2))
        if not code:
            continue
        coding: Json = {"code": code}
        if system:
            coding = {"system": system, **coding}
        if display:
            coding["display"] = display
        found.append(coding)
    return found


def original_text(parsed: ParsedMessage, segment: Any, field: int, rep: int = 1) -> str:
    """CWE-9 original text, else the primary text, else the alternate text."""
    for comp in (9, 2, 5):
        text = parsed.value(segment, field, rep, comp)
        if text:
            return text
    return ""


def codeable_concept(
    parsed: ParsedMessage, segment: Any, field: int, codes: V2Codes, rep: int = 1
) -> Json | None:
    """A CodeableConcept of a CWE field; None when it holds nothing."""
    found = codings(parsed, segment, field, codes, rep)
    text = original_text(parsed, segment, field, rep)
    if not found and not text:
        return None
    concept: Json = {}
    if found:
        concept["coding"] = found
    if text:
        concept["text"] = text
    return concept
