"""OBX-5 by OBX-2 -> the FHIR value[x] of an input Observation (HL7 v2-to-FHIR, OBX).

NM -> valueQuantity (an NM holding "2+" is kept as that text: real feeds send it); SN (and an NM
written with components) -> valueQuantity with its comparator (`<^1.8`, `>=^6`, `^2.3`,
`=^2.3`), or valueRatio for `^1^:^2`; ST/TX/FT -> valueString (the whole field); CWE/CE ->
valueCodeableConcept with the original codings and, for a CAP checklist answer, the answer coding
the FHIR reader knows placed first. The value is never judged here: the FHIR reader reads it by
the same rules as a FHIR message's (one set of value rules for both doors), and what it cannot
read stays unreadable (then the reading is translated back to this OBX's location).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

from adapter.hl7v2.coded import codeable_concept
from adapter.hl7v2.codes import CAP_ECC, V2Codes
from adapter.hl7v2.obx import CODED_TYPES, Her2Obx
from adapter.hl7v2.parse import ParsedMessage

Json = dict[str, Any]
UCUM: Final = "http://unitsofmeasure.org"
COMPARATORS: Final = frozenset({"<", "<=", ">", ">="})
DATA_ABSENT: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def observation_value(parsed: ParsedMessage, result: Her2Obx, codes: V2Codes) -> Json:
    """The value[x] (or dataAbsentReason) fields of the Observation for one HER2 OBX."""
    segment = result.placed.segment
    if result.text_value is not None:
        return {"valueString": result.text_value}
    kind = result.value_type
    if kind in CODED_TYPES:
        return _coded(parsed, segment, codes)
    if kind in ("NM", "SN"):
        # An NM written with components (`^6.01`, `>^6`) is a structured number sent under
        # the wrong type: read as the SN it is, never dropped (an NM "2+" stays that text).
        if kind == "SN" or parsed.value(segment, 5, 1, 2):
            return _structured_numeric(parsed, segment)
        number = _decimal(parsed.value(segment, 5))
        if number is not None:
            return {"valueQuantity": _quantity(parsed, segment, number)}
    text = parsed.text(segment, 5)
    return {"valueString": text} if text else {}


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _quantity(parsed: ParsedMessage, segment: Any, number: Decimal) -> Json:
    quantity: Json = {"value": number}
    code, text = parsed.value(segment, 6, 1, 1), parsed.value(segment, 6, 1, 2)
    system = parsed.value(segment, 6, 1, 3).upper()
    if text or code:
        quantity["unit"] = text or code
    if code and system in ("UCUM", "HTTP://UNITSOFMEASURE.ORG"):
        quantity |= {"system": UCUM, "code": code}
    return quantity


def _structured_numeric(parsed: ParsedMessage, segment: Any) -> Json:
    """SN: comparator ^ number [^ separator ^ number]; `^2.3` and `=^2.3` are 2.3."""
    comparator, first, separator, second = (parsed.value(segment, 5, 1, n) for n in (1, 2, 3, 4))
    number = _decimal(first)
    if number is not None and not second and not separator:
        if comparator in ("", "="):
            return {"valueQuantity": _quantity(parsed, segment, number)}
        if comparator in COMPARATORS:
            return {
                "valueQuantity": {**_quantity(parsed, segment, number), "comparator": comparator}
            }
    denominator = _decimal(second)
    ratio = number is not None and denominator is not None and separator in (":", "/")
    if ratio and comparator in ("", "="):
        return {
            "valueRatio": {
                "numerator": {"value": number},
                "denominator": {"value": denominator},
            }
        }
    # "<>", ranges and anything else: kept as written; the reader refuses it as a number.
    # Nothing at all (a withdrawal sent without its value) is no value.
    written = "".join((comparator, first, separator, second))
    return {"valueString": written} if written else {}


def _coded(parsed: ParsedMessage, segment: Any, codes: V2Codes) -> Json:
    """CWE/CE: the codings and text as sent; a CAP checklist answer gets the answer coding the
    FHIR reader knows placed first (the FHIR reader reads everything else itself)."""
    concept = codeable_concept(parsed, segment, 5, codes)
    if concept is None:
        return {}
    for coding in concept.get("coding", ()):
        if coding.get("system") != CAP_ECC:
            continue
        answers = [t.code for t in codes.cap_targets(coding["code"]) if t.kind != "role"]
        if answers:
            return _answer(answers[0], concept, concept.get("text"), codes)
    return {"valueCodeableConcept": concept}


def _answer(concept: str, original: Json | None, text: str | None, codes: V2Codes) -> Json:
    """The answer `concept` as the FHIR reader reads it, keeping the original codings."""
    if concept == "not-done":
        reason = {"coding": [{"system": DATA_ABSENT, "code": "not-performed"}]}
        return {"dataAbsentReason": reason | ({"text": text} if text else {})}
    form = codes.answer_form(concept)
    originals = list((original or {}).get("coding", ()))
    if form is None:  # no form the reader knows: keep what was sent; the reader judges it
        return {"valueCodeableConcept": original} if original else {"valueString": text or ""}
    value: Json = {}
    if form.code is not None:
        value["coding"] = [{"system": form.system, "code": form.code}, *originals]
        if text:
            value["text"] = text
    else:
        # Only a text form names it (IHC 0 ultralow / null): the text must be that form.
        value["text"] = form.text
        if originals:
            value["coding"] = originals
    return {"valueCodeableConcept": value}
