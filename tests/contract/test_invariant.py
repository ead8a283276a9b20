"""The invariant's checker can fail: a dropped value, an input not named, a withdrawn input
used or a kept value listed as superseded are each reported. In-process, no product code."""

from __future__ import annotations

from collections import Counter

from tests.contract.invariant import fhir_problems, v2_problems
from tests.contract.model import Case, Measure, Number, Report, Score, Status
from tests.contract.outputs import CaseOutput, facts_of

IHC = Report(Measure.IHC, Score("1+"))
RATIO = Report(Measure.RATIO, Number("2.0", ">="))
OLD = Report(Measure.IHC, Score("3+"), Status.PRELIMINARY)
WITHDRAWN = Report(Measure.HER2, Number("6.0"), withdrawn=True)
CASE = Case((IHC, RATIO, OLD, WITHDRAWN), "breast")
INPUTS = [({"O/ihc"}, IHC), ({"O/ratio"}, RATIO), ({"O/old"}, OLD), ({"O/gone"}, WITHDRAWN)]
LINE = "Results used: IHC score: 3+ [O/old, preliminary, superseded]; 1+ [O/ihc]; "


def output(
    line: str, named: frozenset[str] = frozenset({"O/ihc", "O/ratio", "O/old"})
) -> CaseOutput:
    return CaseOutput(
        "Positive", None, None, "HER2-positive", False, named, named, named,
        facts_of(f"HER2 status: POSITIVE.\n{line}"), "Specimen/s", None,
    )  # fmt: skip


def test_a_case_that_keeps_the_invariant_has_no_problem() -> None:
    assert fhir_problems(CASE, INPUTS, output(LINE + "HER2/CEP17 ratio: >= 2.0 [O/ratio].")) == []


def test_a_value_missing_from_results_used_is_a_problem() -> None:
    assert fhir_problems(CASE, INPUTS, output(LINE.removesuffix("; ") + ".")) == [
        "HER2/CEP17 ratio >= 2.0 not in Results used"
    ]


def test_a_kept_value_listed_as_superseded_is_a_problem() -> None:
    line = "Results used: IHC score: 1+ [O/ihc, superseded]; HER2/CEP17 ratio: >= 2.0 [O/ratio]."
    assert fhir_problems(CASE, INPUTS, output(line)) == ["IHC score 1+ not in Results used"]


def test_an_input_not_named_and_a_withdrawn_one_named_are_problems() -> None:
    got = output(
        LINE + "HER2/CEP17 ratio: >= 2.0 [O/ratio].", frozenset({"O/ihc", "O/old", "O/gone"})
    )
    problems = fhir_problems(CASE, INPUTS, got)
    assert "O/ratio not in derivedFrom" in problems
    assert "withdrawn O/gone in derivedFrom" in problems


def test_a_v2_result_not_written_is_a_problem() -> None:
    got = output(LINE + "HER2/CEP17 ratio: >= 2.0 [O/ratio].")
    written = [("ihc", {"O/ihc"}), ("ihc", {"O/old"})]
    problems = v2_problems(CASE, Counter({"ihc": 2, "ish": 1}), written, got)
    assert problems == ["HER2 inputs by test: sent {'ihc': 2, 'ish': 1}, written {'ihc': 2}"]
