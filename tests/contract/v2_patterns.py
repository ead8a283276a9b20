"""The three coding patterns of hl7v2-contract.md 3, each turning one report into OBX lines
(OBX-2, OBX-3, OBX-5, counted): the counted line is the one that carries the value; a CAP
question line that only points at the number below it is not."""

from __future__ import annotations

from dataclasses import dataclass

from tests.contract import fhir_values as fv
from tests.contract import v2_values as vv
from tests.contract.fhir_case import CODES
from tests.contract.grammar import Chooser
from tests.contract.model import Call, Mark, Measure, Number, Report, Score, Unscored


@dataclass(frozen=True, slots=True)
class Obx:
    kind: str  # OBX-2
    code: str  # OBX-3
    value: str  # OBX-5
    counted: bool = True


def loinc(c: Chooser, report: Report) -> list[Obx]:
    kind, value = vv.loinc_value(c, report)
    return [Obx(kind, vv.loinc_code(c, list(c.pick(CODES[report.measure]))), value)]


def cap(c: Chooser, report: Report, *, single_probe: bool) -> list[Obx] | None:
    """CAP checklist keys; None where the checklist has no form for the value."""
    suffix, system = c.pick(vv.CAP_SUFFIXES), c.pick(("CAPECC", "CAPECP"))
    template = c.pick((0, 1))
    value = report.value
    if isinstance(value, Number):
        if value.comparator and c.chance(50):
            return None
        key = vv.CAP_NUMBERS[report.measure]
        if report.measure is Measure.HER2 and single_probe and c.chance(50):
            key = vv.CAP_SINGLE_PROBE
        question = f"{key}{suffix}^{c.pick(('Ratio', 'Average', 'Number'))}^{system}"
        prompt = Obx("CWE", question, f"9{key}{suffix}^{{No text}}^{system}", counted=False)
        kind = c.pick(("ST", "NM")) if value.comparator is None else "ST"
        number = Obx(kind, question, fv.bound_text(c, value))
        return [prompt, number] if c.chance(70) else [number]
    if report.measure not in vv.CAP_QUESTIONS:
        return None
    question = f"{c.pick(vv.CAP_QUESTIONS[report.measure])}{suffix}^HER2^{system}"
    answer = _cap_answer(report)
    if answer is not None and c.chance(80):
        code, display = vv.CAP_ANSWERS[answer][template], vv.CAP_DISPLAYS.get(answer, answer)
        return [Obx(c.pick(("CWE", "CE")), question, f"{code}{suffix}^{display}^{system}")]
    text = _text(c, report)
    if text is None:
        return None
    return [Obx("CWE", question, "^" + vv.escape(c, text))]


def _cap_answer(report: Report) -> str | None:
    value = report.value
    if isinstance(value, Score) and not value.subclass:
        return value.score
    if value is Mark.FAILED:
        return "ihc-failed" if report.measure is Measure.IHC else "ish-failed"
    if value is Mark.NOT_PERFORMED and report.measure is Measure.CALL:
        return "not-performed"
    if isinstance(value, Call) and value.answer != "equivocal":
        return value.answer
    return None


def _text(c: Chooser, report: Report) -> str | None:
    value = report.value
    if isinstance(value, Score):
        return vv.ihc_words(c, value)
    if isinstance(value, Unscored | Call):
        return value.answer
    if value is Mark.FAILED:
        return c.pick(fv.ANSWER_TEXTS["failed"])
    return None


def labelled(c: Chooser, report: Report, *, ish_order: bool) -> list[Obx] | None:
    """A label the contract lists, as OBX-3 text or as "label: value" under `&GDT`."""
    value = report.value
    if isinstance(value, Number):
        labels = vv.LABELS[report.measure] + (
            ("Ratio",) if ish_order and report.measure is Measure.RATIO else ()
        )
        text = fv.bound_text(c, value)
    elif isinstance(value, Score):
        labels = vv.LABELS[Measure.IHC] + vv.BY_VALUE_LABELS + ("Interpretation",)
        text = vv.ihc_words(c, value)
    elif isinstance(value, Unscored) or (value is Mark.FAILED and report.measure is Measure.IHC):
        labels = vv.LABELS[Measure.IHC]
        text = _text(c, report) or ""
    elif isinstance(value, Call) and value.answer != "equivocal":
        labels = vv.BY_VALUE_LABELS + (("Interpretation",) if ish_order else ())
        text = c.pick(fv.ISH_TEXTS[value.answer])
    else:
        return None
    label = c.pick(labels)
    kind = c.pick(vv.TEXT_TYPES)
    if c.chance(30):
        return [Obx(kind, "&GDT", vv.escape(c, f"{label}: {text}"))]
    label = vv.label_variant(c, label)
    local = f"L{sum(map(ord, label)) % 1000}"
    code = c.pick(
        (vv.escape(c, label), f"^{label}", f"{local}^{label}^L", f"{local}^{label}^99LOC")
    )
    return [Obx(kind, code, vv.escape(c, text))]


def obx_lines(c: Chooser, report: Report, *, ish_order: bool, single_probe: bool) -> list[Obx]:
    """The report in a pattern the chooser picks among those that can carry it."""
    if report.recount or (report.value is Mark.NOT_PERFORMED and report.measure is Measure.IHC):
        raise vv.NotExpressible(f"{report}")
    pattern = c.pick(("loinc", "cap", "label"))
    if report.value is Mark.NOT_PERFORMED:
        pattern = "cap"
    found = None
    if pattern == "cap":
        found = cap(c, report, single_probe=single_probe)
    elif pattern == "label":
        found = labelled(c, report, ish_order=ish_order)
    if found is None and report.value is Mark.NOT_PERFORMED:
        raise vv.NotExpressible(f"{report}")
    return found or loinc(c, report)
