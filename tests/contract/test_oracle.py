"""The oracle against the worked examples of her2-reference.md section 10 (row numbers) and
the new rules of adapter-contract.md 1.2 (a ratio that contradicts its averages, IHC 0 with its
sub-class): an oracle that disagrees with the contract's own examples proves nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings

from tests.contract.grammar import cases
from tests.contract.model import (
    Call,
    Case,
    Mark,
    Measure,
    Number,
    Report,
    Score,
    Status,
    Unscored,
    Value,
)
from tests.contract.oracle import expect

IHC: dict[str, Value] = {
    "unsc+": Unscored("positive"),
    "unsc-": Unscored("negative"),
    "failed": Mark.FAILED,
    "0 ultralow": Score("0", "ultralow"),
    "0 null": Score("0", "null"),
}


def number(text: str) -> Number:
    sign, _, value = text.rpartition(" ")
    return Number(value, sign or None)


def case(organ: str | None, ihc: str | None = None, **ish: str) -> Case:
    """A case from a row: ihc "2+", ratio="> 2.2", her2="4.0", cep17=..., call="positive"."""
    reports = []
    if ihc:
        reports.append(Report(Measure.IHC, IHC.get(ihc, Score(ihc))))
    for key, measure in (
        ("ratio", Measure.RATIO),
        ("her2", Measure.HER2),
        ("cep17", Measure.CEP17),
    ):
        if key in ish:
            reports.append(Report(measure, number(ish[key])))
        if "rc_" + key in ish:
            reports.append(Report(measure, number(ish["rc_" + key]), recount=True))
    if "call" in ish:
        value = Mark.FAILED if ish["call"] == "failed" else Call(ish["call"])
        reports.append(Report(Measure.CALL, value))
    return Case(tuple(reports), organ)


ROWS = [  # (row, case, status, next step, group, category)
    (1, case("breast", "3+"), "Positive", None, None, "HER2-positive"),
    (2, case("breast", "2+"), "Equivocal", "reflex-ish", None, None),
    (4, case("breast", "0"), "Negative", None, None, "HER2-0"),
    (5, case("breast", "0 null"), "Negative", None, None, "HER2-null"),
    (6, case("breast", "0 ultralow"), "Negative", None, None, "HER2-ultralow"),
    (9, case(None, "unsc+"), "Positive", None, None, "HER2-positive"),
    (10, case(None, "unsc-"), "Negative", None, None, None),
    (
        11,
        case("breast", "1+", ratio="2.0", her2="4.0", cep17="2.0"),
        "Positive",
        None,
        1,
        "HER2-positive",
    ),
    (13, case("breast", "1+", ratio="1.99", her2="5.0"), "Negative", None, 4, "HER2-low"),
    (16, case("breast", "0", ratio="2.5", her2="3.99"), "Negative", None, 2, "HER2-0"),
    (20, case("breast", "2+", ratio="1.5", her2="4.0"), "Pending", "blinded-recount", 4, None),
    (23, case("breast", "1+", ratio="1.8", her2="6.0"), "Negative", None, 3, "HER2-low"),
    (
        24,
        case("breast", "2+", ratio="1.8", her2="6.01", rc_ratio="1.7", rc_her2="6.3"),
        "Positive",
        None,
        3,
        "HER2-positive",
    ),
    (25, case("breast", ratio="1.8", her2="6.0"), "Pending", "ihc-same-tissue", 3, None),
    (
        30,
        case("breast", "2+", ratio="2.2", her2="3.8", rc_ratio="2.1", rc_her2="3.6"),
        "Negative",
        None,
        2,
        "HER2-low",
    ),
    (
        31,
        case("breast", "2+", ratio="2.2", her2="3.8", rc_ratio="2.3", rc_her2="4.3"),
        "Pending",
        "adjudication",
        None,
        None,
    ),
    (
        39,
        case("breast", "2+", ratio="1.5", her2="5.0", rc_ratio="1.5", rc_her2="3.8"),
        "Pending",
        "adjudication",
        None,
        None,
    ),
    (
        41,
        case("breast", "3+", ratio="1.2", her2="2.4", cep17="2.0"),
        "Positive",
        None,
        5,
        "HER2-positive",
    ),
    (42, case("breast", ratio="1.2", her2="2.4"), "Negative", None, 5, None),
    (43, case("breast", "1+", her2="4.4", cep17="2.2"), "Positive", None, 1, "HER2-positive"),
    (44, case("breast", "2+", her2="3.98", cep17="2.0"), "Negative", None, 5, "HER2-low"),
    (45, case("breast", "1+", her2="6.0", cep17="3.02"), "Negative", None, 3, "HER2-low"),
    (47, case("breast", "2+", her2="5.99"), "Pending", "dual-probe-ish", None, None),
    (50, case("breast", "0", her2="5.0"), "Negative", None, None, "HER2-0"),
    (53, case("breast", "1+", call="positive"), "Positive", None, None, "HER2-positive"),
    (56, case("breast", call="negative"), "Negative", None, None, None),
    (59, case("breast", "2+", ratio="1.7"), "Pending", "her2-average", None, None),
    (60, case("breast", "0", ratio="2.4"), "Pending", "her2-average", None, None),
    (61, case(None, "unsc+", ratio="> 2.2"), "Positive", None, None, "HER2-positive"),
    (62, case(None, "unsc-", ratio="< 1.8"), "Negative", None, None, None),
    (64, case("breast", "1+", ratio=">= 2.0", her2="4.5"), "Positive", None, 1, "HER2-positive"),
    (65, case("breast", "0", ratio="1.5", her2="> 6.5"), "Negative", None, 3, "HER2-0"),
    (67, case("breast", "1+", ratio="2.5", her2="> 4.5"), "Positive", None, 1, "HER2-positive"),
    (68, case("breast", "3+", ratio="<= 2.0", her2="5.0"), "Positive", None, None, "HER2-positive"),
    (69, case("breast", "failed"), "Indeterminate", None, None, None),
    (70, case("breast", "failed", ratio="1.2", her2="2.4"), "Negative", None, 5, None),
    (71, case("breast", "2+", call="failed"), "Equivocal", "reflex-ish", None, None),
    (84, case("breast", "unsc-", ratio="2.2", her2="3.8"), "Negative", None, 2, None),
    (91, case("stomach", "2+", ratio="1.8", her2="6.0"), "Negative", None, None, None),
    (94, case("stomach", "2+", ratio="2.2"), "Positive", None, None, None),
    (97, case("gej", "2+", her2="7.0"), "Pending", "dual-probe-ish", None, None),
    (99, case("stomach", "1+", her2="3.0"), "Pending", "dual-probe-ish", None, None),
    (101, case("stomach", "0 ultralow"), "Negative", None, None, None),
    (105, case("lung", "2+", ratio="2.5", her2="6.0"), "Positive", None, None, None),
    (106, case("endometrium", "1+"), "Negative", None, None, None),
]


@pytest.mark.parametrize(
    ("given_case", "status", "step", "group", "category"),
    [r[1:] for r in ROWS],
    ids=[f"row {r[0]}" for r in ROWS],
)
def test_oracle_gives_the_worked_example(
    given_case: Case,
    status: str,
    step: str | None,
    group: int | None,
    category: str | None,
) -> None:
    got = expect(given_case)
    assert (got.status, got.next_step, got.group, got.category) == (status, step, group, category)
    assert got.site_assumed is (given_case.organ is None)


def test_a_ratio_contradicting_its_averages_is_tied_with_their_quotient() -> None:
    """Contract 1.2 (Q15): a ratio of 2.4 beside averages of 4.7 and 6.3 (0.75) gives group 1
    or group 5; within 0.1 of the quotient it is rounding; both ratios Positive stand."""
    got = expect(case("breast", "1+", ratio="2.4", her2="4.7", cep17="6.3"))
    assert (got.status, got.next_step, got.group) == ("Pending", "adjudication", None)
    within = expect(case("breast", "1+", ratio="2.1", her2="4.0", cep17="2.0"))  # 0.1: rounding
    assert (within.status, within.group) == ("Positive", 1)
    agreeing = expect(case("breast", "3+", ratio="5.3", her2="7.89", cep17="5.0"))
    assert (agreeing.status, agreeing.group) == ("Positive", None)  # groups 1 and 3


def test_ihc_0_beside_ihc_0_ultralow_is_refined_not_conflicting() -> None:
    both = Case(
        (Report(Measure.IHC, Score("0")), Report(Measure.IHC, Score("0", "ultralow"))), "breast"
    )
    assert expect(both).category == "HER2-ultralow"


def test_an_open_computed_ratio_is_decided_on_both_sides_of_2() -> None:
    """HER2 below 5.0 over CEP17 2.2: the ratio may be 2.27 (group 1) or 1.82 (group 4)."""
    assert expect(case("breast", "1+", her2="< 5.0", cep17="2.2")).status == "Pending"


def test_precedence_then_time_picks_the_value() -> None:
    day = [datetime(2025, 3, d, tzinfo=UTC) for d in (3, 5)]
    later = Case(
        (
            Report(Measure.IHC, Score("2+"), Status.FINAL, day[0]),
            Report(Measure.IHC, Score("3+"), Status.FINAL, day[1]),
            Report(Measure.IHC, Score("1+"), Status.PRELIMINARY, day[1]),
        ),
        "breast",
    )
    assert expect(later).status == "Positive"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(drawn=cases())
def test_the_oracle_is_total_and_pending_always_names_a_next_step(drawn: Case) -> None:
    got = expect(drawn)
    assert (got.status == "Pending") <= (got.next_step is not None)
    assert got.category is None or (
        drawn.site_group == "breast" and got.status in ("Positive", "Negative")
    )
    assert got.group is None or drawn.site_group == "breast"
