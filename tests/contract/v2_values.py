"""One report as the OBX segments of hl7v2-contract.md 3: the LOINC pattern (primary or
alternate coding, every spelling of the LOINC system), CAP checklist keys (a number in a second
OBX linked by OBX-4) and labelled text (OBX-3 a label, or Epic-style `&GDT` "label: value"),
with every OBX-2 the contract reads (CWE, CE, NM, SN, ST, TX, FT)."""

from __future__ import annotations

from typing import Final

from tests.contract import fhir_values as fv
from tests.contract.grammar import Chooser
from tests.contract.model import Call, Mark, Measure, Number, Report, Score, Unscored

LOINC_SYSTEMS: Final = ("LN", "LN", "LOINC", "http://loinc.org", "2.16.840.1.113883.6.1")
CAP_SUFFIXES: Final = (".100004300", ".1000043")
CAP_QUESTIONS: Final = {Measure.IHC: ("52399", "31012"), Measure.CALL: ("48698", "49055")}
CAP_NUMBERS: Final = {Measure.HER2: "25910", Measure.CEP17: "25911", Measure.RATIO: "25912"}
CAP_SINGLE_PROBE: Final = "25913"
CAP_ANSWERS: Final = {  # (resection template, biomarker template)
    "0": ("40505", "31015"),
    "1+": ("57817", "31016"),
    "2+": ("56335", "31017"),
    "3+": ("40042", "31018"),
    "ihc-failed": ("25883", "25883"),
    "negative": ("51325", "25904"),
    "positive": ("42217", "25906"),
    "ish-failed": ("51125", "25907"),
    "not-performed": ("51471", "53635"),
}
CAP_DISPLAYS: Final = {  # the answer's text, never read (answers are read by code)
    "ihc-failed": "Cannot be determined",
    "ish-failed": "Cannot be determined",
    "not-performed": "Not performed",
    "positive": "Positive (amplified)",
    "negative": "Negative (not amplified)",
}
LABELS: Final = {
    Measure.RATIO: (
        "HER2 to Chr17 Ratio",
        "Ratio of average HER2/Chr17 signals",
        "HER2/CEP17 Ratio",
    ),
    Measure.HER2: (
        "Average HER2 Copy Number",
        "HER2 average copy number",
        "Average HER2 signals per cell",
    ),
    Measure.CEP17: ("Chr17 average copy number", "Average CEP17 signals per cell"),
    Measure.IHC: ("HER2 IHC", "HER2 (by immunohistochemistry)", "HER2 IHC Score"),
}
BY_VALUE_LABELS: Final = ("HER2", "HER2 Result")  # read by the value ("Interpretation": order)
SN_COMPARATORS: Final = ("", "=")
TEXT_TYPES: Final = ("ST", "TX", "FT")


class NotExpressible(Exception):
    """A fact HL7 v2 has no form for (a blinded recount, an IHC not performed)."""


def escape(c: Chooser, text: str) -> str:
    """The text as sent: sometimes one character as a hex escape (`\\X28\\` for "(")."""
    if not text or not c.chance(15):
        return text
    i = c.pick(range(len(text)))
    return text[:i] + f"\\X{ord(text[i]):02X}\\" + text[i + 1 :]


def label_variant(c: Chooser, label: str) -> str:
    """Labels are compared without case, extra spaces or a trailing colon."""
    return c.pick((label, label, label.upper(), label.replace(" ", "  "), label + ":"))


def ihc_words(c: Chooser, score: Score) -> str:
    """The v2 score rule: one score token, optionally after Score / IHC, with its words."""
    if score.subclass or c.chance(50):
        return fv.score_text(c, score)
    meaning = fv.MEANING[score.score].capitalize()
    return c.pick((f"{meaning} (Score {score.score})", f"HER2 {meaning} ({score.score})"))


def number_value(c: Chooser, value: Number, measure: Measure) -> tuple[str, str]:
    """(OBX-2, OBX-5) of a number: NM, SN with any comparator (empty and `=` included), an
    NM holding `^6.01`, a ratio `^2.3^:^1`, or text with or without a space."""
    shapes = ["NM", "SN", "SN", "NM^", "text"] if value.comparator is None else ["SN", "text"]
    if measure is Measure.RATIO and value.comparator is None:
        shapes.append("SN-ratio")
    shape = c.pick(shapes)
    if shape == "NM":
        return "NM", value.text
    if shape == "NM^":
        return "NM", "^" + value.text
    if shape == "SN-ratio":
        return "SN", f"^{value.text}^{c.pick((':', '/'))}^1"
    if shape == "SN":
        comparator = value.comparator or c.pick(SN_COMPARATORS)
        return "SN", f"{comparator}^{value.text}"
    return c.pick(TEXT_TYPES), escape(c, fv.bound_text(c, value))


def coded(c: Chooser, answer: str, *, ish: bool) -> tuple[str, str]:
    """A CWE/CE answer by LOINC or SNOMED CT code, or by its text only."""
    codes = fv.ANSWER_CODES[answer] + (fv.ISH_ONLY_CODES.get(answer, ()) if ish else ())
    texts = fv.ANSWER_TEXTS[answer] + (fv.ISH_TEXTS.get(answer, ()) if ish else ())
    kind = c.pick(("CWE", "CE"))
    if c.chance(70):
        system, code = c.pick(codes)
        return kind, f"{code}^{c.pick(texts)}^{'LN' if system == fv.LOINC else 'SCT'}"
    return kind, "^" + escape(c, c.pick(texts))


def loinc_value(c: Chooser, report: Report) -> tuple[str, str]:
    """(OBX-2, OBX-5) under a LOINC OBX-3."""
    value = report.value
    if isinstance(value, Number):
        return number_value(c, value, report.measure)
    if isinstance(value, Score):
        if not value.subclass and c.chance(40):
            code = fv.IHC_ANSWERS[value.score]
            return c.pick(("CWE", "CE")), f"{code}^{value.score}^LN"
        if value.score != "0" and not value.subclass and c.chance(20):
            return "NM", value.score  # real feeds send NM "2+"
        return text_value(c, ihc_words(c, value))
    if isinstance(value, Unscored):
        return coded(c, value.answer, ish=False)
    if isinstance(value, Call):
        return coded(c, value.answer, ish=True)
    if value is Mark.FAILED:
        return coded(c, "failed", ish=False)
    raise NotExpressible(f"{report.measure.value} {value}")


def text_value(c: Chooser, text: str) -> tuple[str, str]:
    """Text as ST, TX, FT or a CWE with only its text."""
    kind = c.pick((*TEXT_TYPES, "CWE"))
    return kind, ("^" if kind == "CWE" else "") + escape(c, text)


def loinc_code(c: Chooser, codes: list[str]) -> str:
    """OBX-3: the code as primary coding, or as the alternate coding after a local one."""
    code, system = codes[-1], c.pick(LOINC_SYSTEMS)
    label = c.pick(("HER2", "HER2 STATUS", "ER", "result"))  # OBX-3 text is never trusted
    if c.chance(30):
        return f"L{code.replace('-', '')}^{label}^L^{code}^{label}^{system}"
    return f"{code}^{label}^{system}"
