"""Rules added for issue 18: a ratio that contradicts its own averages (contract 1.2,
her2-reference.md Q15), an IHC 0 refined by its sub-class, and every value sent listed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import Reported, ResultStatus, ValuesNotAccounted
from tests.unit.interpretation.facts import findings, source

F, P = ResultStatus.FINAL, ResultStatus.PRELIMINARY


def flags(result: object) -> set[str]:
    return {f.value for f in result.flags}  # type: ignore[attr-defined]


def test_tcga_ratio_1_0_beside_averages_47_and_63_is_decided_with_both_values() -> None:
    # 47 / 63 = 0.746: both ratios < 2.0 with HER2 >= 6.0, group 3 either way; no IHC: Pending.
    result = interpret(findings(ratio="1.0", her2="47", cep17="63"))
    assert (result.status.value, result.next_step and result.next_step.value) == (
        "Pending",
        "ihc-same-tissue",
    )
    assert {"conflicting-results", "ish-values-inconsistent"} <= flags(result)
    assert "ratio-computed" not in flags(result)  # a ratio was reported
    assert result.ish_group is not None
    assert int(result.ish_group) == 3
    assert any("0.7460" in reading for reading in result.readings)


def test_contradicting_ratio_and_quotient_that_disagree_on_status_go_to_adjudication() -> None:
    # ratio 2.5 (group 1, Positive) vs 4.0 / 2.5 = 1.6 (group 4 with IHC 1+: Negative)
    result = interpret(findings(ihc_="1+", ratio="2.5", her2="4.0", cep17="2.5"))
    assert (result.status.value, result.next_step and result.next_step.value) == (
        "Pending",
        "adjudication",
    )
    assert result.ish_group is None
    assert result.category is None
    assert {c.status.value for c in result.choices} == {"Positive", "Negative"}
    assert {"conflicting-results", "ish-values-inconsistent"} <= flags(result)


@pytest.mark.parametrize(
    ("ratio", "her2", "cep17"),
    [
        ("2.1", "4.0", "2.0"),  # 2.0: differs by 0.1, within rounding
        ("4.15", "8.0", "2.0"),  # 4.0: differs by 0.15, within 5 % (0.2)
        ("1.99", "4.0", "2.0"),  # rounding down across 2.0 is still rounding
    ],
)
def test_a_ratio_within_rounding_of_its_averages_is_one_value(
    ratio: str, her2: str, cep17: str
) -> None:
    result = interpret(findings(ihc_="1+", ratio=ratio, her2=her2, cep17=cep17))
    assert "ish-values-inconsistent" not in flags(result)
    assert "conflicting-results" not in flags(result)


def test_a_bounded_value_or_a_recount_is_never_checked_against_its_averages() -> None:
    bounded = interpret(findings(ihc_="1+", ratio="> 2.2", her2="3.0", cep17="2.0"))
    recount = interpret(
        findings(
            ihc_="2+",
            ratio="1.5",
            her2="4.5",
            cep17="3.0",
            recount={"ratio": "1.0", "her2": "47", "cep17": "63"},
        )
    )
    assert "ish-values-inconsistent" not in flags(bounded) | flags(recount)


def test_ihc_0_and_ihc_0_ultralow_of_one_specimen_are_one_refined_value() -> None:
    result = interpret(findings(ihc_=[("0", F, None), ("0 ultralow", F, None)]))
    assert result.category is not None
    assert result.category.value == "HER2-ultralow"
    assert "conflicting-results" not in flags(result)


def test_a_later_plain_ihc_0_keeps_the_earlier_sub_class_of_the_same_standing() -> None:
    result = interpret(findings(ihc_=[("0 null", F, "2025-03-01"), ("0", F, "2025-03-05")]))
    assert result.category is not None
    assert result.category.value == "HER2-null"


def test_two_sub_classes_tied_stay_a_conflict_without_a_category() -> None:
    result = interpret(findings(ihc_=[("0 null", F, None), ("0 ultralow", F, None)]))
    assert result.status.value == "Negative"
    assert result.category is None
    assert "conflicting-results" in flags(result)


def test_every_value_sent_is_listed_superseded_and_not_done_included() -> None:
    case = findings(ihc_=[("2+", P, None), ("3+", F, None)])
    case = replace(case, not_done=(Reported("ISH", source()),))
    result = interpret(case)
    text = " ".join(result.facts)
    for reported in case.reports():
        assert reported.source.reference in text
    assert "preliminary, superseded]" in text
    assert "ISH: not performed" in text


def test_a_value_the_conclusion_would_not_list_stops_the_report() -> None:
    class Unlisted(type(findings())):  # type: ignore[misc]
        """A case whose reports() holds one value no code lists (a measure added later)."""

        def reports(self) -> tuple[Reported[object], ...]:
            return (*super().reports(), Reported("x", source()))

    base = findings(ihc_="1+")
    case = Unlisted(**{name: getattr(base, name) for name in base.__dataclass_fields__})
    with pytest.raises(ValuesNotAccounted, match="are not listed"):
        interpret(case)


def test_tied_values_that_agree_on_the_group_keep_it_though_the_status_is_pending() -> None:
    # A failed IHC tied with IHC 1+: Pending (ihc-same-tissue) and Negative disagree, so
    # adjudication; both readings are group 4, so the group stands (contract 1.3).
    result = interpret(
        findings(ihc_=[("failed", F, None), ("1+", F, None)], ratio="1.5", her2="5.0")
    )
    assert result.next_step is not None
    assert result.next_step.value == "adjudication"
    assert result.ish_group is not None
    assert int(result.ish_group) == 4
