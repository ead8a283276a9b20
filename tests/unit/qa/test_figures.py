"""Shares, the Wilson interval and the flags of one row (qa-report-contract.md 4, 5)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from adapter.benchmarks import load_benchmarks
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import mappings_directory
from adapter.qa.figures import Counts, build_rows, percent, row, wilson
from tests.qa.expected import wilson_reference

BENCHMARKS = load_benchmarks(mappings_directory())


@pytest.mark.parametrize("n", [1, 2, 3, 7, 13, 29, 30, 31, 100, 347])
def test_wilson_equals_an_independent_reference(n: int) -> None:
    for positive in range(n + 1):
        got, want = wilson(positive, n), wilson_reference(positive, n)
        assert got == pytest.approx(want, abs=1e-12)


def test_wilson_published_example() -> None:
    # Newcombe (Stat Med 1998;17:857), method 3: 81/263 -> 0.2553 to 0.3662
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(1, 8) * 100, "12.5"),
        (Fraction(100, 16), "6.3"),
        (Fraction(200, 3), "66.7"),
        (Fraction(0), "0.0"),
        (Fraction(100), "100.0"),
        (12.25, "12.3"),
        (0.04999, "0.0"),
    ],
)
def test_one_decimal_rounded_half_up(value: Fraction | float, shown: str) -> None:
    assert str(percent(value)) == shown


def counts(positive: int, negative: int, **more: int) -> Counts:
    return Counts(cases=positive + negative, positive=positive, negative=negative, **more)


def test_undefined_shares_are_none_never_zero() -> None:
    r = row("L", SiteGroup.BREAST, "2026-01", Counts(cases=2, equivocal=2), BENCHMARKS)
    assert r.positive_pct is None
    assert r.positive_ci is None
    assert (r.ihc_2plus_pct, r.ish_group_2_4_pct, r.discordant_pct) == (None, None, None)
    assert (r.her2_low_pct, r.status_differs_pct) == (None, None)
    assert r.flags == ("small-sample",)


def test_breast_only_shares_are_empty_elsewhere() -> None:
    c = counts(5, 30, dual_probe=20, ish_group_2_4=5, her2_low=3)
    gastric = row("L", SiteGroup.GASTRIC, "2026-01", c, BENCHMARKS)
    assert (gastric.ish_group_2_4_pct, gastric.her2_low_pct) == (None, None)
    breast = row("L", SiteGroup.BREAST, "2026-01", c, BENCHMARKS)
    assert (breast.ish_group_2_4_pct, breast.her2_low_pct) == (Decimal("25.0"), Decimal("10.0"))


@pytest.mark.parametrize(
    ("site", "positive", "negative", "flags"),
    [
        ("breast", 29, 0, ("small-sample",)),  # all positive, but 29 decided: no judgement
        ("breast", 14, 16, ("positivity-high",)),  # 30 decided; interval 30.2-63.9 > 23.1
        ("breast", 0, 30, ()),  # interval 0-11.35 reaches into 10.3-23.1
        ("breast", 0, 40, ("positivity-low",)),  # interval 0-8.76 < 10.3
        ("breast", 5, 25, ()),  # 7.3-33.6 overlaps the band
        ("gastric", 25, 25, ("positivity-high",)),  # 36.6-63.4 > 34.6
        ("gastric", 1, 40, ()),  # 0.43-12.6 reaches into 11.8-34.6
        ("gastric", 0, 60, ("positivity-low",)),  # 0-6.02 < 11.8
        ("other", 40, 0, ()),  # no band at other sites
        ("other", 3, 3, ("small-sample",)),
    ],
)
def test_positivity_flags(site: str, positive: int, negative: int, flags: tuple[str, ...]) -> None:
    got = row("L", SiteGroup(site), "2026-01", counts(positive, negative), BENCHMARKS).flags
    assert got == flags


@pytest.mark.parametrize(
    ("dual", "groups", "site", "flagged"),
    [
        (20, 2, "breast", False),  # exactly 10%: not above
        (20, 3, "breast", True),
        (19, 19, "breast", False),  # fewer than 20 dual-probe cases
        (201, 21, "breast", True),  # 10.45%
        (1000, 101, "breast", True),  # 10.1%: above 10 though it prints as 10.1
        (40, 40, "gastric", False),  # breast only
    ],
)
def test_ish_groups_high(dual: int, groups: int, site: str, flagged: bool) -> None:
    c = counts(10, 90, dual_probe=dual, ish_group_2_4=groups)
    got = row("L", SiteGroup(site), "2026-01", c, BENCHMARKS).flags
    assert ("ish-groups-high" in got) is flagged


def test_all_rows_add_the_laboratories_up_and_sort_last() -> None:
    by_lab = {
        ("b", SiteGroup.BREAST, "2026-02"): counts(3, 30),
        ("a", SiteGroup.BREAST, "2026-02"): counts(10, 10),
        ("z", SiteGroup.GASTRIC, "2026-01"): counts(1, 1),
    }
    rows = build_rows(by_lab, BENCHMARKS)
    assert [(r.period, r.site.value, r.lab) for r in rows] == [
        ("2026-01", "gastric", "z"),
        ("2026-01", "gastric", "all"),
        ("2026-02", "breast", "a"),
        ("2026-02", "breast", "b"),
        ("2026-02", "breast", "all"),
    ]
    total = rows[-1]
    assert (total.counts.positive, total.counts.decided) == (13, 53)
    assert total.positive_pct == Decimal("24.5")
