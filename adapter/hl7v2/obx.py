"""Which OBX are HER2 results, and as what (hl7v2-contract.md 3).

Three patterns, each kept as data in `mappings/`:

- LOINC: OBX-3 (primary or alternate coding) in LOINC with a code of the role map;
- CAP checklist: OBX-3 in CAPECC/CAPECP whose key (before the first '.') is a HER2 question;
  the numbers of keys 25910-25913 are read from the OBX of that key that holds a number, not
  from the coded answer placeholder beside it;
- labelled text: OBX-2 TX/ST/FT, OBX-3 without a standard coding system, whose text is a known
  label, or whose OBX-5 is `label: value` (Epic-style `&GDT` lines).

OBX-11 decides what is read: I/O/N/U and empty values are ignored; X/D/W withdraw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Final

from adapter.fhir.ihc_text import read_score_text
from adapter.hl7v2.coded import codings, component_text
from adapter.hl7v2.codes import CAP_ECC, IGNORED_STATUSES, LOINC, V2Codes
from adapter.hl7v2.errors import DATA_TYPE_ERROR, V2BadValue, V2Location
from adapter.hl7v2.orders import PlacedObx
from adapter.hl7v2.parse import ParsedMessage

TEXT_TYPES: Final = frozenset({"TX", "ST", "FT"})
CODED_TYPES: Final = frozenset({"CWE", "CE", "CNE", "CF"})
NUMBER_ROLES: Final = frozenset({"ish-ratio", "ish-her2-average", "ish-cep17-average"})
WITHDRAWN: Final = "entered-in-error"
_LABEL_LINE: Final = re.compile(r"^(?P<label>[^:=\n]{1,80}?)\s*[:=]\s*(?P<value>[^\n]+)$")


@dataclass(frozen=True, slots=True)
class Her2Obx:
    """One OBX that is a HER2 result: its role, status, and the identity C/A/X replace by."""

    placed: PlacedObx
    role: str  # ihc-score, ish-result, ish-ratio, ish-her2-average, ish-cep17-average, ...
    pattern: str  # "loinc", "cap" or "label"
    status: str  # FHIR Observation.status
    value_type: str  # OBX-2
    codings: tuple[dict[str, Any], ...]  # OBX-3 as FHIR Codings
    label: str | None  # the label that made it a result (labelled text)
    text_value: str | None  # the value part of a `label: value` line
    identity: str  # OBX-3 code (or label) + OBX-4, within the specimen

    @property
    def location(self) -> V2Location:
        """OBX-5 of this OBX."""
        return V2Location("OBX", self.placed.index, 5)


def her2_results(parsed: ParsedMessage, placed: list[PlacedObx], codes: V2Codes) -> list[Her2Obx]:
    """The HER2 results of a message in message order; raises V2BadValue for a repeated OBX-5."""
    results: list[Her2Obx] = []
    for obx in placed:
        found = _her2_result(parsed, obx, codes) or _withdrawal_of(parsed, obx, codes, results)
        if found is None:
            continue
        if parsed.repetitions(obx.segment, 5) > 1:
            raise V2BadValue(
                "OBX-5 repeats: a HER2 result holds exactly one value",
                found.location,
                DATA_TYPE_ERROR,
            )
        results.append(found)
    return results


def _her2_result(parsed: ParsedMessage, obx: PlacedObx, codes: V2Codes) -> Her2Obx | None:
    segment = obx.segment
    status = codes.result_status(parsed.value(segment, 11)) or "final"
    if status in IGNORED_STATUSES:
        return None
    value_type = parsed.value(segment, 2).upper()
    # "Any OBX with an empty OBX-5 is ignored" (contract 3) means empty in every component:
    # `^6.01` is an SN whose comparator is empty, a value, never a reason to skip the result.
    if parsed.is_empty(segment, 5) and status != WITHDRAWN:
        return None
    value = parsed.text(segment, 5) if value_type in TEXT_TYPES else parsed.value(segment, 5)
    obx3 = tuple(codings(parsed, segment, 3, codes))
    role, pattern, label, text_value = _recognise(parsed, obx, obx3, value_type, value, codes)
    if role is None:
        return None
    sub_id = parsed.value(segment, 4)
    identity = f"{_code_key(obx3) or label}|{sub_id}"
    if text_value is not None and not sub_id:
        # Every `&GDT` line shares OBX-3: without an OBX-4 only the label tells them apart.
        identity += f"|{label}"
    return Her2Obx(obx, role, pattern, status, value_type, obx3, label, text_value, identity)


def _code_key(obx3: tuple[dict[str, Any], ...]) -> str:
    return next((f"{c.get('system', '')}|{c['code']}" for c in obx3), "")


def _withdrawal_of(
    parsed: ParsedMessage, obx: PlacedObx, codes: V2Codes, earlier: list[Her2Obx]
) -> Her2Obx | None:
    """An X/D/W OBX sent without its value, as feeds send it, names no HER2 code or label of
    its own when the result was an `&GDT` line; by its identity (specimen, OBX-3, OBX-4) it
    still withdraws the earlier HER2 result of this message (hl7v2-contract.md 3)."""
    segment = obx.segment
    sub_id = parsed.value(segment, 4)
    if codes.result_status(parsed.value(segment, 11)) != WITHDRAWN or not sub_id:
        return None
    identity = f"{_code_key(tuple(codings(parsed, segment, 3, codes)))}|{sub_id}"
    withdrawn = next(
        (
            r
            for r in reversed(earlier)
            if r.identity == identity and r.placed.specimen.key == obx.specimen.key
        ),
        None,
    )
    if withdrawn is None:
        return None
    return replace(withdrawn, placed=obx, status=WITHDRAWN, text_value=None)


def _recognise(
    parsed: ParsedMessage,
    obx: PlacedObx,
    obx3: tuple[dict[str, Any], ...],
    value_type: str,
    value: str,
    codes: V2Codes,
) -> tuple[str | None, str, str | None, str | None]:
    """(role, pattern, label, value of a label line); role None: not a HER2 result."""
    for coding in obx3:
        if coding.get("system") == LOINC:
            role = codes.mappings.role(LOINC, coding["code"])
            if role:
                return role, "loinc", None, None
    for coding in obx3:
        if coding.get("system") == CAP_ECC:
            roles = [t.code for t in codes.cap_targets(coding["code"]) if t.kind == "role"]
            if roles:
                if roles[0] in NUMBER_ROLES and value_type in CODED_TYPES:
                    return None, "cap", None, None  # the answer placeholder; the number is beside
                return roles[0], "cap", None, None
    if value_type not in TEXT_TYPES or any(codes.is_standard(c.get("system")) for c in obx3):
        return None, "label", None, None
    segment = obx.segment
    label = parsed.value(segment, 3, 1, 2) or component_text(parsed, segment, 3, 1, 1)
    target = codes.label(label) if label else None
    text_value: str | None = None
    if target is None:
        line = _LABEL_LINE.match(value)
        if line is None:
            return None, "label", None, None
        label, text_value = line["label"].strip(), line["value"].strip()
        target = codes.label(label)
        if target is None:
            return None, "label", None, None
    role = _label_role(target.code, target.kind, obx, text_value or value, codes)
    return role, "label", label, text_value


def _label_role(code: str, kind: str, obx: PlacedObx, value: str, codes: V2Codes) -> str | None:
    if kind == "role":
        return code
    if code == "label-ratio-in-ish-order":
        return "ish-ratio" if obx.order.ish else None
    if code == "label-by-value-in-her2-order" and not obx.order.her2:
        return None
    return role_by_value(value, codes)


def role_by_value(value: str, codes: V2Codes) -> str:
    """`HER2` / `HER2 Result` / `Interpretation` lines: a score is IHC, "amplified" / "not
    amplified" is ISH, a bare positive / negative / equivocal a status reported earlier."""
    stated = read_score_text(value)
    if stated is not None:
        # A score, or meant as one but not one ("4+", "1+ to 2+"): an IHC value, which the
        # reader reads or refuses (AE) by the same grammar as a FHIR text.
        return "ihc-score"
    kinds = {t.kind for t in codes.answer_text_targets(value)}
    if "ish-answer" in kinds and "ihc-answer" not in kinds:
        return "ish-result"
    # Any other text ("see comment") is a reported status, skipped with a warning if unknown.
    return "reported-status"
