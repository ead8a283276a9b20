"""The invariant of issue 18, checked on one case of one door's output.

Every input whose code gives it an IHC or ISH role contributes to its case: its reference is
in the status Observation's `derivedFrom`, the DiagnosticReport's `result` and the
Provenance's `entity`, and its value is on the conclusion's "Results used" line. Or the whole
message was refused naming the field (checked by the door). Our readings where the contract
does not say it: a value that precedence set aside (1.3; a preliminary beaten by a final, an
IHC 0 refined by its sub-class) is named as an input (Q8: "the input is still in derivedFrom")
without its value; a withdrawn input is named nowhere (1.1: ignored); a test not performed
(1.2: absent) and a panel that only lists its members carry no value and are not checked.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

from tests.contract.model import (
    Call,
    Case,
    Mark,
    Number,
    Report,
    Score,
    Unscored,
    Value,
    value_text,
)
from tests.contract.oracle import select
from tests.contract.outputs import LABELS, CaseOutput

NUMBER = re.compile(r"^(<=|>=|<|>)?\s*(\S+)$")


def shown(value: Value, text: str) -> bool:
    """Whether the conclusion's `text` shows `value`."""
    if value is Mark.FAILED:
        return "failed" in text
    if isinstance(value, Number):
        match = NUMBER.match(text)
        try:
            return bool(match) and (match[1], Decimal(match[2])) == (value.comparator, value.value)  # type: ignore[index]
        except InvalidOperation:
            return False
    if isinstance(value, Call):
        return text == value.answer
    unscored = "no score" in text
    if isinstance(value, Unscored):
        start = {"positive": "3+", "equivocal": "2+", "negative": "negative"}[value.answer]
        return unscored and text.startswith(start)
    if isinstance(value, Score):
        words = {w for w in ("null", "ultralow") if w in text}
        return (
            not unscored and text.split()[0] == value.score and words == ({value.subclass} - {None})
        )
    return False


def label(report: Report) -> str:
    return ("recount: " if report.recount else "") + LABELS[report.measure]


def used(case: Case, report: Report) -> bool:
    """A value precedence keeps (1.3), so the conclusion must show it."""
    kept = select(case.live(report.measure, recount=report.recount))
    return report.live and any(v == report.value for v in kept)


def value_problems(case: Case, got: CaseOutput) -> list[str]:
    """Every value the case decides with is on the "Results used" line, under its label."""
    problems = []
    for report in case.reports:
        if used(case, report) and not any(
            f.label == label(report) and shown(report.value, f.value) and not f.superseded
            for f in got.facts
        ):
            problems.append(f"{label(report)} {value_text(report.value)} not in Results used")
    return problems


def fhir_problems(
    case: Case, inputs: list[tuple[set[str], Report | None]], got: CaseOutput
) -> list[str]:
    """FHIR: each input by its reference (any of the names it may go by)."""
    problems = value_problems(case, got)
    for names, report in inputs:
        if report is None or report.value is Mark.NOT_PERFORMED:
            continue
        reference = min(names)
        places = {
            "derivedFrom": bool(names & got.derived_from),
            "result": bool(names & got.results),
            "Provenance.entity": bool(names & got.entities),
        }
        if report.withdrawn:
            problems += [f"withdrawn {reference} in {p}" for p, found in places.items() if found]
        else:
            problems += [f"{reference} not in {p}" for p, found in places.items() if not found]
    return problems


def v2_problems(
    case: Case, sent: Counter[str], written: list[tuple[str, set[str]]], got: CaseOutput
) -> list[str]:
    """HL7 v2: an input Observation for every HER2 OBX with a value (counted by test; a test
    not done may be written too), each named by the case; `written` holds (test, names) of
    the case's live input Observations."""
    problems = value_problems(case, got)
    found = Counter(test for test, _ in written)
    if any(found[test] < count for test, count in sent.items()):
        problems.append(f"HER2 inputs by test: sent {dict(sent)}, written {dict(found)}")
    for _, names in written:
        for place, refs in (
            ("derivedFrom", got.derived_from),
            ("result", got.results),
            ("Provenance.entity", got.entities),
        ):
            if not names & refs:
                problems.append(f"{min(names)} not in {place}")
    return problems
