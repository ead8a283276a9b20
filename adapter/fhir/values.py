"""Value shapes of contract 1.2: one Observation's (or component's) value -> a core fact.

A "holder" is an Observation or one of its components, both dicts of FHIR JSON already
validated against R4B; `path` is its FHIRPath (`Observation`, `Observation.component[1]`), so
an unreadable value is named exactly (`Observation.component[1].valueQuantity.value`).
Answers are matched by code through `mappings/`, then by whole text; never by display.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from adapter.errors import UnreadableValue
from adapter.fhir.ihc_text import ScoreText, Unclear, read_score_text
from adapter.fhir.numbers import is_number, json_text, number_from_text, read_number
from adapter.fhir.validation import VALUE_FIELDS
from adapter.interpretation.model import (
    FAILED,
    FailedTest,
    IhcScore,
    IhcSubclass,
    IhcValue,
    IshCall,
    Number,
    ReportedStatus,
)
from adapter.mappings import Mappings


class Measure(enum.Enum):
    """Which slot of `Her2Findings` a value fills."""

    IHC = "ihc"
    CALL = "call"
    RATIO = "ratio"
    HER2 = "her2_per_cell"
    CEP17 = "cep17_per_cell"
    STATUS = "reported_status"
    NOT_DONE = "not_done"  # a test reported as not done: listed, absent for the decision


NUMBER_MEASURE: Final = {
    "ish-result": Measure.RATIO,  # "a ratio as in some feeds" (contract 1.1)
    "ish-panel": Measure.RATIO,
    "ish-ratio": Measure.RATIO,
    "ish-her2-average": Measure.HER2,
    "ish-cep17-average": Measure.CEP17,
}
IHC_VALUES: Final = {
    "ihc-0": IhcValue(IhcScore.ZERO),
    "ihc-0-null": IhcValue(IhcScore.ZERO, IhcSubclass.NULL),
    "ihc-0-ultralow": IhcValue(IhcScore.ZERO, IhcSubclass.ULTRALOW),
    "ihc-1+": IhcValue(IhcScore.ONE),
    "ihc-2+": IhcValue(IhcScore.TWO),
    "ihc-3+": IhcValue(IhcScore.THREE),
    # Unscored answers (contract 1.2, "IHC without a score").
    "ihc-positive": IhcValue(IhcScore.THREE, score_reported=False),
    "ihc-negative": IhcValue(IhcScore.ZERO_OR_ONE, score_reported=False),
    "ihc-equivocal": IhcValue(IhcScore.TWO, score_reported=False),
}
ISH_CALLS: Final = {
    "ish-positive": IshCall.POSITIVE,
    "ish-negative": IshCall.NEGATIVE,
    "ish-equivocal": IshCall.EQUIVOCAL,
}
STATUSES: Final = {
    "status-positive": ReportedStatus.POSITIVE,
    "status-negative": ReportedStatus.NEGATIVE,
    "status-equivocal": ReportedStatus.EQUIVOCAL,
}
SUBCLASSES: Final = {"subclass-null": IhcSubclass.NULL, "subclass-ultralow": IhcSubclass.ULTRALOW}
IHC_KINDS: Final = frozenset({"ihc-answer", "failed"})
# dataAbsentReason codes that mean the test was not done: absent, not failed (contract 1.2).
NOT_DONE: Final = frozenset({"not-performed", "not-asked", "asked-declined"})


def value_field(holder: dict[str, Any]) -> tuple[str, Any] | None:
    """The holder's value[x] as (field name, JSON value); validation allows one at most."""
    return next(((name, holder[name]) for name in VALUE_FIELDS if name in holder), None)


def absent_value(holder: dict[str, Any], path: str) -> FailedTest | None:
    """For a holder without a value: FAILED for a `dataAbsentReason` meaning failure, None for
    one meaning the test was not done (contract 1.2). A HER2 result with neither a value nor a
    reason is refused: reading it as "not done" would decide the case without it."""
    reason = holder.get("dataAbsentReason")
    if not isinstance(reason, dict):
        raise UnreadableValue(
            "no value and no dataAbsentReason: send the result's value[x], or a "
            "dataAbsentReason saying why there is none",
            expression=f"{path}.value[x]",
        )
    codes = {c.get("code") for c in reason.get("coding") or () if isinstance(c, dict)}
    return None if codes & NOT_DONE else FAILED


def _concept(cc: dict[str, Any], kinds: frozenset[str], mappings: Mappings) -> str | None:
    """The one concept of the given kinds a CodeableConcept means (codes first, then its text)."""
    found = {
        t.code
        for c in cc.get("coding") or ()
        for t in mappings.code_targets("answer", c.get("system"), c.get("code"))
        if t.kind in kinds
    }
    if not found:
        found = {t.code for t in mappings.text_targets("answer", cc.get("text")) if t.kind in kinds}
    if len(found) > 1:
        raise ValueError(f"its codings disagree ({', '.join(sorted(found))})")
    return found.pop() if found else None


def _text_concept(text: Any, kinds: frozenset[str], mappings: Mappings) -> str | None:
    if not isinstance(text, str):
        return None
    found = [t.code for t in mappings.text_targets("answer", text) if t.kind in kinds]
    return found[0] if found else None


def _describe(field: str, value: Any) -> str:
    if field == "valueCodeableConcept" and isinstance(value, dict):
        codes = [f"{c.get('system')}|{c.get('code')}" for c in value.get("coding") or ()]
        return ", ".join(codes) or repr(value.get("text"))
    return repr(value)


def read_ihc(holder: dict[str, Any], path: str, mappings: Mappings) -> IhcValue | FailedTest | None:
    """An IHC score, unscored answer or failed test; None when the test was not done.

    Codes first, then a whole text form of `mappings/` ("positive", "unscorable"), then the
    score grammar of `ihc_text` ("Score 0 (ultralow)", "HER2 Positive (3+)"); the text of a coded
    IHC 0 may add its sub-class. Anything else is refused naming the field.
    """
    found = value_field(holder)
    if found is None:
        return absent_value(holder, path)
    field, value = found
    where = f"{path}.{field}"
    concept: str | None = None
    if field == "valueCodeableConcept":
        concept = _coded_ihc(value, where, mappings)
    elif field == "valueString":
        concept = _text_concept(value, IHC_KINDS, mappings) or _score_concept(value, where)
    elif field == "valueInteger":
        concept = _integer_score(value, where)
    elif field == "valueQuantity" and not (value.get("unit") or value.get("code")):
        # A unitless quantity 0-3 is seen as an IHC score in feeds (fhir-samples README).
        number = value.get("value")
        if is_number(number) and number in (0, 1, 2, 3) and "comparator" not in value:
            concept = ("ihc-0", "ihc-1+", "ihc-2+", "ihc-3+")[int(number)]
    if concept is None:
        raise UnreadableValue(
            f"{_describe(field, value)} is not a known IHC score or answer", expression=where
        )
    return FAILED if concept == "failed" else IHC_VALUES[concept]


def _coded_ihc(cc: dict[str, Any], where: str, mappings: Mappings) -> str | None:
    """A coded IHC answer; its text may state an IHC 0's sub-class, never another score."""
    try:
        concept = _concept(cc, IHC_KINDS, mappings)
    except ValueError as error:
        raise UnreadableValue(f"IHC value {error}", expression=where) from error
    text = cc.get("text")
    if not isinstance(text, str):
        return concept
    if concept is None:
        return _score_concept(text, where)
    stated = read_score_text(text)
    if isinstance(stated, ScoreText) and concept.startswith("ihc-"):
        coded = concept.removeprefix("ihc-").split("-")[0]
        if stated.score != coded:
            raise UnreadableValue(
                f"its code says IHC {coded} but its text {text!r} says {stated.score}",
                expression=where,
            )
        if coded == "0" and stated.subclass is not None:
            return stated.concept
    return concept


def _score_concept(text: str, where: str) -> str | None:
    stated = read_score_text(text)
    if isinstance(stated, Unclear):
        raise UnreadableValue(stated.reason, expression=where)
    return stated.concept if stated is not None else None


def _integer_score(value: Any, where: str) -> str | None:
    # JSON true is not 1: a boolean is never a score (Python's bool is an int).
    if type(value) is not int:
        raise UnreadableValue(f"{json_text(value)} is not an integer", expression=where)
    return ("ihc-0", "ihc-1+", "ihc-2+", "ihc-3+")[value] if 0 <= value <= 3 else None


def read_subclass(holder: dict[str, Any], mappings: Mappings) -> IhcSubclass | None:
    """The IHC 0 sub-class a component states ("null", "ultralow"), as text or code; else None."""
    found = value_field(holder)
    if found is None:
        return None
    field, value = found
    kinds = frozenset({"ihc-subclass"})
    concept: str | None = None
    if field == "valueString":
        concept = _text_concept(value, kinds, mappings)
    elif field == "valueCodeableConcept":
        try:
            concept = _concept(value, kinds, mappings)
        except ValueError:
            concept = None
        codes = (c.get("code") for c in value.get("coding") or ())
        concept = concept or next(
            (k for k in (_text_concept(c, kinds, mappings) for c in codes) if k), None
        )
    return SUBCLASSES.get(concept) if concept else None


def read_ish(
    holder: dict[str, Any], path: str, role: str, mappings: Mappings
) -> tuple[Measure, Number | IshCall | FailedTest] | None:
    """An ISH number, qualitative answer or failed test for `role`; None when not done."""
    measure = NUMBER_MEASURE[role]
    failed_measure = Measure.CALL if role in ("ish-result", "ish-panel") else measure
    found = value_field(holder)
    if found is None:
        failed = absent_value(holder, path)
        return (failed_measure, failed) if failed else None
    field, value = found
    where = f"{path}.{field}"
    kinds = frozenset({"ish-answer", "failed"})
    concept: str | None = None
    if field == "valueCodeableConcept":
        try:
            concept = _concept(value, kinds, mappings)
        except ValueError as error:
            raise UnreadableValue(f"ISH value {error}", expression=where) from error
    elif field == "valueString":
        number = number_from_text(value, where)
        if number is not None:
            return measure, number
        concept = _text_concept(value, kinds, mappings)
    elif field in ("valueQuantity", "valueRatio", "valueInteger"):
        return measure, read_number(field, value, where, measure.value.replace("_", " "))
    if concept is None:
        raise UnreadableValue(
            f"{_describe(field, value)} is not a known ISH value", expression=where
        )
    if concept == "failed":
        return failed_measure, FAILED
    return Measure.CALL, ISH_CALLS[concept]


def read_reported_status(holder: dict[str, Any], mappings: Mappings) -> ReportedStatus | None:
    """A status reported earlier (contract 2.6); None for any value it does not list."""
    found = value_field(holder)
    if found is None:
        return None
    field, value = found
    kinds = frozenset({"status"})
    try:
        if field == "valueCodeableConcept":
            concept = _concept(value, kinds, mappings)
        elif field == "valueString":
            concept = _text_concept(value, kinds, mappings)
        else:
            concept = None
    except ValueError:
        concept = None
    return STATUSES.get(concept) if concept else None
