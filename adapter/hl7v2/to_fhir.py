"""HER2 OBX -> FHIR R4 input Observations and Specimens (hl7v2-contract.md 5).

Each Observation carries, first, the LOINC code of its role (so the FHIR reader reads it by
code, contract 1.1), then OBX-3 as sent; value[x] from `values.py`; status from OBX-11; the
subject as a logical reference by identifier (PID-3); the performer as the sending facility
(MSH-4.1), so the FHIR rule for a case's laboratory applies; the specimen as a reference to a
Specimen built from the specimen key, whose `collection.bodySite` / `type` carry SPM-8 / SPM-4 /
OBR-15 so that the FHIR site rules apply. Ids are uuid5 of the sending facility and specimen key
(and OBX-3 + OBX-4 for Observations): a message received twice gives the same resources.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final
from urllib.parse import quote

from fhir.resources.R4B.fhirtypes import DateTimeType
from pydantic import TypeAdapter, ValidationError

from adapter.fhir.case import Laboratory
from adapter.fhir.laboratory import performer_reference
from adapter.fhir.report import ID_NAMESPACE
from adapter.fhir.site import site_of
from adapter.hl7v2.coded import codeable_concept
from adapter.hl7v2.codes import LOINC, V2Codes
from adapter.hl7v2.errors import DATA_TYPE_ERROR, V2BadValue, V2Location
from adapter.hl7v2.header import MessageHeader
from adapter.hl7v2.obx import Her2Obx
from adapter.hl7v2.orders import Specimen
from adapter.hl7v2.parse import ParsedMessage
from adapter.hl7v2.values import observation_value

Json = dict[str, Any]
V2_URN: Final = "urn:her2-fhir-adapter:v2"
FACILITY_SYSTEM: Final = f"{V2_URN}:facility"  # MSH-4.1 values
LABORATORY: Final = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
        }
    ]
}
_TS: Final = re.compile(
    r"^(?P<y>\d{4})(?P<m>\d{2})?(?P<d>\d{2})?(?P<H>\d{2})?(?P<M>\d{2})?(?P<S>\d{2})?"
    r"(?:\.\d+)?(?P<tz>[+-]\d{4})?$"
)
# The R4B model's own dateTime rule (its pattern and a real calendar date), for one string: the
# generated resources are not validated when a message is read (they are, once, when written).
_FHIR_DATETIME: Final = TypeAdapter(DateTimeType)


def v2_id(*parts: str) -> str:
    """A deterministic resource id from the parts that identify a v2 thing."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(("hl7v2", *parts))))


def specimen_resource(
    parsed: ParsedMessage, specimen: Specimen, subject: Json | None, codes: V2Codes
) -> Json:
    """The Specimen of a key: identifier = the key's value in the facility's system."""
    key = specimen.key
    resource: Json = {
        "resourceType": "Specimen",
        "id": v2_id("Specimen", key.facility, key.value),
        "identifier": [
            {"system": f"{V2_URN}:specimen:{quote(key.facility, safe='')}", "value": key.value}
        ],
    }
    if subject is not None:
        resource["subject"] = subject
    spm8 = codeable_concept(parsed, specimen.spm, 8, codes) if specimen.spm is not None else None
    spm4 = codeable_concept(parsed, specimen.spm, 4, codes) if specimen.spm is not None else None
    obr15 = _specimen_source(parsed, specimen.obr, codes) if specimen.obr is not None else None
    if spm4 is not None:
        resource["type"] = spm4
    # Contract 3: SPM-8, then SPM-4, then OBR-15. The FHIR reader reads collection.bodySite
    # before type, so bodySite gets SPM-8, or OBR-15 only where neither SPM field names a site.
    for concept, is_body_site in ((spm8, True), (spm4, False), (obr15, True)):
        if concept is None or not _names_something(concept):
            continue
        if site_of(concept, codes.mappings, is_body_site=is_body_site):
            if concept is not spm4:
                resource["collection"] = {"bodySite": concept}
            break
    return resource


def _names_something(concept: Json) -> bool:
    """A bare code without a coding system or text names no site (OBR-15 often holds other
    things: a provider id in synthetic-csharp-parser-test-breast-her2-3.hl7)."""
    return bool(concept.get("text")) or any("system" in c for c in concept.get("coding", ()))


def _specimen_source(parsed: ParsedMessage, obr: Any, codes: V2Codes) -> Json | None:
    """OBR-15 (SPS): component 4 the body site, else component 1 (subcomponents code&text&sys)."""
    for comp in (4, 1):
        code, text = parsed.value(obr, 15, 1, comp, 1), parsed.value(obr, 15, 1, comp, 2)
        system = codes.system_uri(parsed.value(obr, 15, 1, comp, 3))
        if code or text:
            concept: Json = {"text": text} if text else {}
            if code:
                coding = {"code": code} | ({"system": system} if system else {})
                concept["coding"] = [coding | ({"display": text} if text else {})]
            return concept
    return None


def subject_reference(parsed: ParsedMessage, facility: str) -> Json | None:
    """PID-3 as a logical reference: the `MR` repetition, else the first (contract 5)."""
    pid = parsed.first("PID")
    if pid is None:
        return None
    count = parsed.repetitions(pid, 3)
    reps = [r for r in range(1, count + 1) if parsed.value(pid, 3, r, 1)]
    if not reps:
        return None
    rep = next((r for r in reps if parsed.value(pid, 3, r, 5).upper() == "MR"), reps[0])
    value = parsed.value(pid, 3, rep, 1)
    namespace, universal, kind = (parsed.value(pid, 3, rep, 4, n) for n in (1, 2, 3))
    if universal and kind.upper() == "ISO":
        system = f"urn:oid:{universal}"
    elif namespace or universal:
        system = f"{V2_URN}:assigning-authority:{quote(namespace or universal, safe='')}"
    else:  # no authority: the id is only unique within the sender
        system = f"{V2_URN}:facility:{quote(facility, safe='')}:patient-id"
    return {"type": "Patient", "identifier": {"system": system, "value": value}}


def laboratory_reference(parsed: ParsedMessage) -> Json | None:
    """The sending facility (MSH-4.1) as the performing laboratory, or None when MSH-4 is
    empty (qa-report-contract.md 2: over HL7 v2 the laboratory is MSH-4.1)."""
    facility = parsed.value(parsed.first("MSH"), 4)
    return performer_reference(Laboratory(facility, FACILITY_SYSTEM)) if facility else None


def input_observation(
    parsed: ParsedMessage,
    result: Her2Obx,
    *,
    observation_id: str,
    subject: Json | None,
    performer: Json | None,
    specimen_id: str,
    codes: V2Codes,
    zone: str,
) -> Json:
    """The FHIR input Observation one HER2 OBX becomes."""
    segment, obr = result.placed.segment, result.placed.order.obr
    role_code = codes.role_code(result.role)
    sent = [c for c in result.codings if (c.get("system"), c["code"]) != (LOINC, role_code)]
    code: Json = {"coding": [{"system": LOINC, "code": role_code}, *sent]}
    text = result.label or parsed.value(segment, 3, 1, 2)
    if text:
        code["text"] = text
    resource: Json = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": result.status,
        "category": [LABORATORY],
        "code": code,
    }
    if subject is not None:
        resource["subject"] = subject
    effective = _date_field(parsed, segment, 14, zone) or (
        _date_field(parsed, obr, 7, zone) if obr is not None else None
    )
    if effective:
        resource["effectiveDateTime"] = effective
    issued = _date_field(parsed, obr, 22, zone) if obr is not None else None
    if issued and "T" in issued:
        resource["issued"] = issued
    if performer is not None:
        resource["performer"] = [performer]
    resource["specimen"] = {"reference": f"urn:uuid:{specimen_id}", "type": "Specimen"}
    resource |= observation_value(parsed, result, codes)
    return resource


def fhir_datetime(ts: str, zone: str) -> str | None:
    """A v2 TS/DTM as a FHIR dateTime; a time without offset takes `zone` (MSH-7's, else Z)."""
    match = _TS.match(ts.strip())
    if match is None:
        return None
    y, m, d, hour, minute, second = (match[k] for k in ("y", "m", "d", "H", "M", "S"))
    if not m:
        return y
    if not d:
        return f"{y}-{m}"
    if not hour:
        return f"{y}-{m}-{d}"
    offset = match["tz"] or zone
    tz = "Z" if offset in ("", "Z") else f"{offset[:3]}:{offset[3:]}"
    return f"{y}-{m}-{d}T{hour}:{minute or '00'}:{second or '00'}{tz}"


def _date_field(parsed: ParsedMessage, segment: Any, field: int, zone: str) -> str | None:
    """A TS field as a FHIR dateTime; None where it is empty or not a TS. A TS naming no real
    moment (a 13th month, 30 February, hour 24, an offset past 14 hours) is refused at its
    field (AE 102), where the FHIR model would refuse the resource built from it."""
    text = fhir_datetime(parsed.value(segment, field), zone)
    if text is None:
        return None
    try:
        _FHIR_DATETIME.validate_python(text)
    except ValidationError:
        name, index = next((n, i) for n, i, s in parsed.segments if s is segment)
        raise V2BadValue(
            f"{parsed.value(segment, field)!r} is not a date and time",
            V2Location(name, index, field),
            DATA_TYPE_ERROR,
        ) from None
    return text


def zone_of(msh7: str) -> str:
    """The UTC offset of MSH-7 (`+0200`), or '' when it gives none."""
    match = _TS.match(msh7.strip())
    return (match["tz"] or "") if match else ""


def message_entity(header: MessageHeader) -> Json:
    """The Provenance entity naming the v2 message by MSH-10 within its sending facility."""
    system = f"{V2_URN}:message:{quote(header.facility, safe='')}"
    return {
        "role": "source",
        "what": {
            "identifier": {"system": system, "value": header.control_id},
            "display": "HL7 v2 ORU^R01 message",
        },
    }
