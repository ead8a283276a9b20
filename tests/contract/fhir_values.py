"""Every value shape of adapter-contract.md 1.2, as the `value[x]` (or `dataAbsentReason`)
fields of an Observation or component. Numbers are written with their exact text (`Raw`)."""

from __future__ import annotations

from typing import Any, Final

from tests.acceptance.generator import Raw
from tests.contract.grammar import Chooser
from tests.contract.model import Call, Mark, Measure, Number, Score, Unscored, Value

Json = dict[str, Any]
LOINC: Final = "http://loinc.org"
SCT: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
ABSENT: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
IHC_ANSWERS: Final = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}
# answer -> (codes as (system, code), texts), contract 1.2
ANSWER_CODES: Final = {
    "positive": ((LOINC, "LA6576-8"), (SCT, "10828004")),
    "negative": ((LOINC, "LA6577-6"), (SCT, "260385009")),
    "equivocal": ((LOINC, "LA11885-3"), (SCT, "42425007")),
    "failed": ((LOINC, "LA11884-6"), (SCT, "82334004")),
}
ISH_ONLY_CODES: Final = {"positive": ((SCT, "52101004"),), "negative": ((SCT, "2667000"),)}
ANSWER_TEXTS: Final = {
    "positive": ("positive", "Positive"),
    "negative": ("negative", "Negative"),
    "equivocal": ("equivocal", "Equivocal"),
    "failed": (
        "indeterminate",
        "unscorable",
        "technical failure",
        "insufficient",
        "not assessable",
    ),
}
ISH_TEXTS: Final = {"positive": ("amplified", "Amplified"), "negative": ("not amplified",)}
MEANING: Final = {"0": "negative", "1+": "negative", "2+": "equivocal", "3+": "positive"}
UNITS: Final = {
    Measure.RATIO: ({"unit": "{ratio}", "system": UCUM, "code": "{ratio}"}, {"unit": "ratio"}),
    Measure.HER2: (
        {"unit": "{copies}/{nucleus}", "system": UCUM, "code": "{copies}/{nucleus}"},
        {"unit": "/{nucleus}", "system": UCUM, "code": "/{nucleus}"},
    ),
}
FAILED_REASONS: Final = ("error", "unknown", "temp-unknown")
NOT_DONE_REASONS: Final = ("not-performed", "not-asked", "asked-declined")
BOUND_WORDS: Final = {">": "greater than", "<": "less than"}


def coding(system: str, code: str) -> Json:
    return {"system": system, "code": code}


def score_text(c: Chooser, score: Score) -> str:
    """ "2+", "Score 2+", "IHC 2+", "3+ (positive)", "0 (ultralow)", "IHC 0 null", ..."""
    prefix = c.pick(("", "Score ", "IHC "))
    if score.subclass:
        return prefix + "0" + c.pick((f" ({score.subclass})", f" {score.subclass}"))
    meaning = f" ({MEANING[score.score]})" if c.chance(25) else ""
    return prefix + score.score + meaning


def _text(c: Chooser, text: str) -> Json:
    return c.pick(({"valueString": text}, {"valueCodeableConcept": {"text": text}}))


def _answer(c: Chooser, answer: str, *, ish: bool) -> Json:
    codes = ANSWER_CODES[answer] + (ISH_ONLY_CODES.get(answer, ()) if ish else ())
    texts = ANSWER_TEXTS[answer] + (ISH_TEXTS.get(answer, ()) if ish else ())
    if c.chance(50):
        concept: Json = {"coding": [coding(*c.pick(codes))]}
        if c.chance(30):
            concept["text"] = c.pick(texts)
        return {"valueCodeableConcept": concept}
    return _text(c, c.pick(texts))


def _absent(reasons: tuple[str, ...], c: Chooser) -> Json:
    return {"dataAbsentReason": {"coding": [coding(ABSENT, c.pick(reasons))]}}


def ihc_score(c: Chooser, score: Score) -> Json:
    """An IHC score; a sub-class is spelled in the text here (components: `subclass`)."""
    shape = c.pick(("code", "text", "integer")) if not score.subclass else "text"
    if shape == "code":
        concept: Json = {"coding": [coding(LOINC, IHC_ANSWERS[score.score])]}
        return {"valueCodeableConcept": concept}
    if shape == "integer":
        return {"valueInteger": int(score.score[0])}
    return _text(c, score_text(c, score))


def plain_zero(c: Chooser) -> Json:
    """IHC 0 without words, for an Observation whose sub-class is a component."""
    return c.pick(
        (
            {"valueInteger": 0},
            {"valueCodeableConcept": {"coding": [coding(LOINC, "LA6111-4")]}},
            {"valueString": "0"},
        )
    )


def subclass_component(c: Chooser, subclass: str) -> Json:
    """A component of the IHC Observation reading "null" / "ultralow" (any code, 1.2)."""
    code = c.pick(
        (
            {"text": "IHC 0 sub-class"},
            {"coding": [coding("urn:example:lab-codes", "her2-ihc0-subclass")]},
        )
    )
    return {"code": code, **_text(c, c.pick((subclass, subclass.upper(), subclass.capitalize())))}


def number(c: Chooser, measure: Measure, value: Number) -> Json:
    """valueQuantity (unit or none, comparator), valueRatio, valueInteger or valueString."""
    shapes = ["quantity", "quantity", "string"]
    if value.comparator is None and measure is Measure.RATIO:
        shapes.append("ratio")
    if value.comparator is None and "." not in value.text:
        shapes.append("integer")
    shape = c.pick(shapes)
    if shape == "ratio":
        return {
            "valueRatio": {"numerator": {"value": Raw(value.text)}, "denominator": {"value": 1}}
        }
    if shape == "integer":
        return {"valueInteger": int(value.text)}
    if shape == "string":
        return {"valueString": bound_text(c, value)}
    quantity: Json = {"value": Raw(value.text)}
    if value.comparator:
        quantity["comparator"] = value.comparator
    if c.chance(50):
        quantity.update(c.pick(UNITS.get(measure, UNITS[Measure.HER2])))
    return {"valueQuantity": quantity}


def bound_text(c: Chooser, value: Number) -> str:
    """ "2.3", "> 2.2", ">2.2", "greater than 2.2", "less than 1.8", ">= 6.0" """
    if value.comparator is None:
        return value.text
    if value.comparator in BOUND_WORDS and c.chance(40):
        return f"{BOUND_WORDS[value.comparator]} {value.text}"
    return value.comparator + c.pick((" ", "")) + value.text


def value_fields(c: Chooser, measure: Measure, value: Value) -> Json:
    """The fields that carry `value` in an Observation or a component."""
    if value is Mark.NOT_PERFORMED:
        return _absent(NOT_DONE_REASONS, c)
    if value is Mark.FAILED:
        return _absent(FAILED_REASONS, c) if c.chance(30) else _answer(c, "failed", ish=False)
    if isinstance(value, Score):
        return ihc_score(c, value)
    if isinstance(value, Unscored):
        return _answer(c, value.answer, ish=False)
    if isinstance(value, Call):
        return _answer(c, value.answer, ish=True)
    return number(c, measure, value)


def reported_status(c: Chooser, answer: str) -> Json:
    return _answer(c, answer, ish=False)
