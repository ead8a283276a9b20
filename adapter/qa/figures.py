"""The rows of the QA report: counts, shares, the Wilson interval and the flags
(qa-report-contract.md 4, 5).

Shares are exact fractions rounded half up to one decimal (12.25 -> 12.3); an undefined share
(denominator 0) is None, printed empty, never 0. The Wilson score interval uses z = 1.959964,
the 0.975 quantile of the normal distribution. Flags compare the unrounded interval and share
with the bands of `mappings/qa-benchmarks.json`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from statistics import NormalDist
from typing import Final

from adapter.benchmarks import Benchmarks
from adapter.fhir.report_facts import ISH_GROUPS_2_TO_4, CaseFigures
from adapter.interpretation.decision import Status
from adapter.interpretation.model import SiteGroup

Z_95: Final = NormalDist().inv_cdf(0.975)
ALL_LABS: Final = "all"
ONE_DECIMAL: Final = Decimal("0.1")
COLUMNS: Final = (
    "lab",
    "site",
    "period",
    "cases",
    "positive",
    "negative",
    "equivocal",
    "pending",
    "indeterminate",
    "decided",
    "positive_pct",
    "positive_ci_low",
    "positive_ci_high",
    "ihc_2plus_pct",
    "dual_probe_ish",
    "ish_group_2_4_pct",
    "discordant_pct",
    "her2_low_pct",
    "status_differs_pct",
    "flags",
)
FLAGS: Final = ("positivity-high", "positivity-low", "ish-groups-high", "small-sample")


@dataclass(slots=True)
class Counts:
    """Numerators and denominators of one row, added up case by case."""

    cases: int = 0
    positive: int = 0
    negative: int = 0
    equivocal: int = 0
    pending: int = 0
    indeterminate: int = 0
    ihc_scored: int = 0
    ihc_2plus: int = 0
    dual_probe: int = 0
    ish_group_2_4: int = 0
    ihc_and_ish: int = 0
    discordant: int = 0
    her2_low: int = 0
    reported_status: int = 0
    status_differs: int = 0

    def add(self, figures: CaseFigures, count: int) -> None:
        """Count `count` cases with these figures."""
        self.cases += count
        status = figures.status.value.lower()  # the five statuses have a count field each
        setattr(self, status, getattr(self, status) + count)
        self.ihc_scored += count * (figures.ihc_score is not None)
        self.ihc_2plus += count * (figures.ihc_score == "2+")
        self.dual_probe += count * figures.dual_probe
        self.ish_group_2_4 += count * (figures.ish_group in ISH_GROUPS_2_TO_4)
        both = figures.ihc_used and figures.ish_used
        self.ihc_and_ish += count * both
        self.discordant += count * figures.discordant
        self.her2_low += count * (figures.her2_low and figures.status is Status.NEGATIVE)
        self.reported_status += count * figures.reported_status
        self.status_differs += count * figures.status_differs

    def merge(self, other: Counts) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def decided(self) -> int:
        return self.positive + self.negative


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the report: a laboratory (or `all`) x site x period."""

    lab: str
    site: SiteGroup
    period: str
    counts: Counts
    positive_pct: Decimal | None
    positive_ci: tuple[Decimal, Decimal] | None
    ihc_2plus_pct: Decimal | None
    ish_group_2_4_pct: Decimal | None
    discordant_pct: Decimal | None
    her2_low_pct: Decimal | None
    status_differs_pct: Decimal | None
    flags: tuple[str, ...]

    def values(self) -> dict[str, int | str | Decimal | tuple[str, ...] | None]:
        """The row by the contract's column names (section 4), in their order."""
        c = self.counts
        low, high = self.positive_ci or (None, None)
        return dict(
            zip(
                COLUMNS,
                (
                    self.lab,
                    self.site.value,
                    self.period,
                    c.cases,
                    c.positive,
                    c.negative,
                    c.equivocal,
                    c.pending,
                    c.indeterminate,
                    c.decided,
                    self.positive_pct,
                    low,
                    high,
                    self.ihc_2plus_pct,
                    c.dual_probe,
                    self.ish_group_2_4_pct,
                    self.discordant_pct,
                    self.her2_low_pct,
                    self.status_differs_pct,
                    self.flags,
                ),
                strict=True,
            )
        )


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of successes / n, as proportions (0..1); n > 0."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def percent(value: Fraction | float) -> Decimal:
    """A share in percent with one decimal, rounded half up."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return exact.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def build_rows(
    counts: dict[tuple[str, SiteGroup, str], Counts], benchmarks: Benchmarks
) -> list[Row]:
    """Every laboratory's row and an `all` row per site and period, sorted by period, site,
    laboratory (`all` last)."""
    totals: dict[tuple[SiteGroup, str], Counts] = {}
    for (_, site, period), row_counts in counts.items():
        totals.setdefault((site, period), Counts()).merge(row_counts)
    keyed = [*counts.items(), *(((ALL_LABS, s, p), c) for (s, p), c in totals.items())]
    keyed.sort(key=lambda item: (item[0][2], item[0][1].value, item[0][0] == ALL_LABS, item[0][0]))
    return [row(lab, site, period, c, benchmarks) for (lab, site, period), c in keyed]


def row(lab: str, site: SiteGroup, period: str, c: Counts, benchmarks: Benchmarks) -> Row:
    """The figures and flags of one row's counts."""
    breast = site is SiteGroup.BREAST
    interval = wilson(c.positive, c.decided) if c.decided else None
    return Row(
        lab=lab,
        site=site,
        period=period,
        counts=c,
        positive_pct=_share(c.positive, c.decided),
        positive_ci=(percent(100 * interval[0]), percent(100 * interval[1])) if interval else None,
        ihc_2plus_pct=_share(c.ihc_2plus, c.ihc_scored),
        ish_group_2_4_pct=_share(c.ish_group_2_4, c.dual_probe) if breast else None,
        discordant_pct=_share(c.discordant, c.ihc_and_ish),
        her2_low_pct=_share(c.her2_low, c.negative) if breast else None,
        status_differs_pct=_share(c.status_differs, c.reported_status),
        flags=tuple(_flags(site, c, interval, benchmarks)),
    )


def _flags(
    site: SiteGroup, c: Counts, interval: tuple[float, float] | None, benchmarks: Benchmarks
) -> Iterable[str]:
    small = c.decided < benchmarks.small_sample.decided_below
    band = benchmarks.band("positive_pct", site)
    if band is not None and interval is not None and not small:
        low, high = 100 * interval[0], 100 * interval[1]
        if band.high is not None and low > band.high:
            yield "positivity-high"
        if band.low is not None and high < band.low:
            yield "positivity-low"
    groups = benchmarks.band("ish_group_2_4_pct", site)
    if (
        groups is not None
        and groups.high is not None
        and c.dual_probe >= (groups.min_denominator or 1)
        and Fraction(100 * c.ish_group_2_4, c.dual_probe) > groups.high
    ):
        yield "ish-groups-high"
    if small:
        yield "small-sample"


def _share(numerator: int, denominator: int) -> Decimal | None:
    return percent(Fraction(100 * numerator, denominator)) if denominator else None
