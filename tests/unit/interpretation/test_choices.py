"""Cases decided over several readings: open bounds (contract 1.2) and tied values (1.3)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from adapter.interpretation.bounds import Interval, decimal_text
from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import Comparator, Number, ResultStatus
from tests.unit.interpretation.facts import findings

F = ResultStatus.FINAL
TWO = Fraction(2)


def test_an_open_ratio_that_changes_the_status_is_pending_dual_probe_ish() -> None:
    result = interpret(findings(ihc_="1+", ratio="<= 2.0", her2="5.0"))  # group 4 or group 1
    assert (result.status.value, result.next_step and result.next_step.value) == (
        "Pending",
        "dual-probe-ish",
    )
    assert result.ish_group is None
    assert result.category is None
    assert [c.status.value for c in result.choices] == ["Negative", "Positive"]
    assert "bound-not-decisive" in [f.value for f in result.flags]


def test_an_open_average_that_changes_the_status_is_pending_her2_average() -> None:
    result = interpret(findings(ihc_="1+", her2="> 4.5"))  # single-probe: negative or positive
    assert result.status.value == "Pending"
    assert result.next_step is not None
    assert result.next_step.value == "her2-average"


def test_open_ratio_and_open_average_ask_for_dual_probe_ish() -> None:
    result = interpret(findings(ihc_="2+", ratio="< 2.2", her2="> 3.5"))
    assert result.next_step is not None
    assert result.next_step.value == "dual-probe-ish"


def test_a_bound_that_agrees_either_way_keeps_the_status_without_a_group() -> None:
    # her2-reference.md 4.5: IHC 1+, ratio < 2.2, average 3.0: group 2 or 5, Negative either way
    result = interpret(findings(ihc_="1+", ratio="< 2.2", her2="3.0"))
    assert result.status.value == "Negative"
    assert result.ish_group is None
    assert result.category is not None
    assert result.category.value == "HER2-low"


def test_a_ratio_computed_from_a_bounded_average_is_an_open_average() -> None:
    result = interpret(findings(ihc_="1+", her2="> 3.5", cep17="2.0"))  # ratio > 1.75
    assert result.status.value == "Pending"
    assert result.next_step is not None
    assert result.next_step.value == "her2-average"


def test_tied_values_that_change_the_status_go_to_adjudication_and_list_each_value() -> None:
    result = interpret(findings(ihc_=[("0", F, None), ("3+", F, None)]))
    assert result.next_step is not None
    assert result.next_step.value == "adjudication"
    assert sorted(c.status.value for c in result.choices) == ["Negative", "Positive"]
    assert "IHC 0" in result.choices[0].description


def test_tied_values_agreeing_on_status_but_not_category_give_no_category() -> None:
    result = interpret(findings(ihc_=[("0", F, None), ("1+", F, None)]))
    assert result.status.value == "Negative"
    assert result.category is None
    assert [f.value for f in result.flags] == ["conflicting-results"]


def test_later_issued_wins_and_undated_reports_lose_to_dated_ones() -> None:
    result = interpret(
        findings(ihc_=[("3+", F, "2024-03-05T10:00:00"), ("1+", F, "2024-03-05T09:00:00")])
    )
    assert result.status.value == "Positive"
    assert not result.choices


def test_interval_of_each_comparator() -> None:
    lt = Interval.of(Number(Decimal("2.2"), Comparator.LT))
    assert lt.is_open_at(TWO)
    assert lt.representatives((TWO,)) == (Fraction(0), TWO)
    ge = Interval.of(Number(Decimal("2.0"), Comparator.GE))
    assert not ge.is_open_at(TWO)
    assert ge.representatives((TWO,)) == (TWO,)
    le = Interval.of(Number(Decimal("2.0"), Comparator.LE))
    assert le.is_open_at(TWO)
    gt = Interval.of(Number(Decimal("2.0"), Comparator.GT))
    assert not gt.is_open_at(TWO)
    assert gt.representatives((TWO,)) == (Fraction(3),)


def test_interval_division_for_a_computed_ratio() -> None:
    her2 = Interval.of(Number(Decimal("6.5"), Comparator.GT))
    cep17 = Interval.of(Number(Decimal("2.0")))
    quotient = her2.divided_by(cep17)
    assert quotient.low == Fraction(13, 4)
    assert quotient.high is None
    assert not quotient.low_closed


def test_computed_ratio_text_never_crosses_a_threshold_the_decision_did_not() -> None:
    assert decimal_text(Fraction(Decimal("5.99")) / Fraction(Decimal("3.0"))) == "1.9967"
    assert decimal_text(Fraction(Decimal("4.4")) / Fraction(Decimal("2.2"))) == "2"
