"""Property tests: the thresholds of ASCO/CAP 2018 Figures 2-3 and CAP/ASCP/ASCO 2016.

The oracle below is written straight from the contract's tables (adapter-contract.md 2.1, 2.2),
as plain if/else, independently of the core's row tables; hypothesis sweeps values around
every threshold (1.99/2.0/2.01, 3.99/4.0/4.01, 5.99/6.0/6.01) and beyond.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from adapter.interpretation.decision import IshGroup, Status
from adapter.interpretation.interpret import interpret
from adapter.interpretation.ish import DUAL_PROBE_GROUPS, dual_probe_group
from tests.unit.interpretation.facts import findings

D = Decimal
NEAR = [D(x) for x in ("1.99", "2.0", "2.01", "3.99", "4.0", "4.01", "5.99", "6.0", "6.01")]
numbers = st.one_of(
    st.sampled_from(NEAR),
    st.decimals(min_value=D("0.01"), max_value=D("40"), places=2),
)
ihc_scores = st.sampled_from([None, "0", "1+", "2+", "3+"])


def oracle_group(ratio: Decimal, her2: Decimal) -> int:
    if ratio >= D("2.0"):
        return 1 if her2 >= D("4.0") else 2
    if her2 >= D("6.0"):
        return 3
    return 4 if her2 >= D("4.0") else 5


def oracle_breast_dual(ihc: str | None, group: int) -> tuple[str, str | None]:
    if ihc == "3+" or group == 1:
        return "Positive", None
    if group == 5:
        return "Negative", None
    if ihc is None:
        return "Pending", "ihc-same-tissue"
    if ihc in ("0", "1+"):
        return "Negative", None
    return "Pending", "blinded-recount"


def oracle_breast_single(ihc: str | None, her2: Decimal) -> tuple[str, str | None]:
    if her2 >= D("6.0") or ihc == "3+":
        return "Positive", None
    if her2 < D("4.0") or ihc in ("0", "1+"):
        return "Negative", None
    return "Pending", "dual-probe-ish"


def oracle_gastric(ihc: str | None, ratio: Decimal | None) -> tuple[str, str | None]:
    if ihc == "3+":
        return "Positive", None
    if ratio is not None:
        return ("Positive", None) if ratio >= D("2.0") else ("Negative", None)
    return {None: ("Indeterminate", None), "2+": ("Equivocal", "reflex-ish")}.get(
        ihc, ("Negative", None)
    )


def outcome(**facts: object) -> tuple[str, str | None]:
    result = interpret(findings(**facts))  # type: ignore[arg-type]
    return result.status.value, result.next_step.value if result.next_step else None


@given(ratio=numbers, her2=numbers)
def test_every_dual_probe_count_falls_in_exactly_one_group(ratio: Decimal, her2: Decimal) -> None:
    exact_ratio, exact_her2 = Fraction(ratio), Fraction(her2)
    matching = [r.group for r in DUAL_PROBE_GROUPS if r.ratio(exact_ratio) and r.her2(exact_her2)]
    assert matching == [IshGroup(oracle_group(ratio, her2))]


@given(ihc=ihc_scores, ratio=numbers, her2=numbers)
def test_breast_dual_probe_status_follows_figure_3_and_its_work_up(
    ihc: str | None, ratio: Decimal, her2: Decimal
) -> None:
    group = oracle_group(ratio, her2)
    result = interpret(findings(ihc_=ihc, ratio=str(ratio), her2=str(her2)))
    assert (result.status.value, result.next_step.value if result.next_step else None) == (
        oracle_breast_dual(ihc, group)
    )
    assert result.ish_group == IshGroup(group)


cep17_counts = st.decimals(min_value=D("0.5"), max_value=D("10"), places=2)


@given(ihc=ihc_scores, her2=numbers, cep17=cep17_counts)
def test_computed_ratio_is_compared_exactly(ihc: str | None, her2: Decimal, cep17: Decimal) -> None:
    # exact comparison: her2 / cep17 >= 2.0 exactly when her2 >= 2 * cep17
    group = oracle_group(D(2) if her2 >= 2 * cep17 else D("1.9"), her2)
    result = interpret(findings(ihc_=ihc, her2=str(her2), cep17=str(cep17)))
    assert result.ish_group == IshGroup(group)
    assert (result.status.value, result.next_step.value if result.next_step else None) == (
        oracle_breast_dual(ihc, group)
    )


@given(ihc=ihc_scores, her2=numbers)
def test_breast_single_probe_follows_figure_2(ihc: str | None, her2: Decimal) -> None:
    assert outcome(ihc_=ihc, her2=str(her2)) == oracle_breast_single(ihc, her2)


@given(
    ihc=ihc_scores,
    ratio=st.one_of(st.none(), numbers),
    her2=numbers,
    site=st.sampled_from(["stomach", "GEJ", "oesophagus", "colon"]),
)
def test_gastric_and_other_sites_follow_the_ratio(
    ihc: str | None, ratio: Decimal | None, her2: Decimal, site: str
) -> None:
    facts = findings(site=site, ihc_=ihc, ratio=str(ratio) if ratio else None, her2=str(her2))
    result = interpret(facts)
    expected = oracle_gastric(ihc, ratio)
    if ratio is None and ihc != "3+":
        expected = ("Pending", "dual-probe-ish")  # an average alone decides nothing there
    assert (result.status.value, result.next_step.value if result.next_step else None) == expected
    assert result.ish_group is None
    assert result.category is None


@given(ihc=ihc_scores, ratio=numbers, her2=numbers)
def test_no_positive_is_ever_read_as_negative_by_a_bound_that_settles_it(
    ihc: str | None, ratio: Decimal, her2: Decimal
) -> None:
    """A bound strictly past the ratio threshold on the exact value's side decides the same."""
    exact = outcome(ihc_=ihc, ratio=str(ratio), her2=str(her2))
    bound = f">= {ratio}" if ratio >= D("2.0") else None
    if bound is not None:
        assert outcome(ihc_=ihc, ratio=bound, her2=str(her2))[0] == exact[0]


@given(ihc=ihc_scores, ratio=numbers, her2=numbers)
def test_positive_and_negative_only_with_a_final_table_row(
    ihc: str | None, ratio: Decimal, her2: Decimal
) -> None:
    result = interpret(findings(ihc_=ihc, ratio=str(ratio), her2=str(her2)))
    if result.status in (Status.PENDING, Status.EQUIVOCAL):
        assert result.category is None
        assert not result.is_final
        assert result.next_step is not None
    else:
        assert result.next_step is None
        assert result.is_final


def test_group_table_matches_the_figure_at_each_edge() -> None:
    edges = {
        ("2.0", "4.0"): 1,
        ("2.0", "3.99"): 2,
        ("1.99", "6.0"): 3,
        ("1.99", "5.99"): 4,
        ("1.99", "4.0"): 4,
        ("1.99", "3.99"): 5,
    }
    for (ratio, her2), group in edges.items():
        assert dual_probe_group(Fraction(D(ratio)), Fraction(D(her2))) == IshGroup(group)
