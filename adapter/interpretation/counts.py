"""One ISH count (the first count, or the blinded recount) -> its readings.

A count has one reading per combination of its tied values and per side of each threshold a
bound leaves open (contract 1.2, 1.3), and two for a ratio that contradicts its own averages
(the reported ratio and the quotient). Each reading holds point values only (`IshReading`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import product
from typing import Final

from adapter.interpretation.bounds import Interval, decimal_text
from adapter.interpretation.facts import call_fact, listed_facts, number_fact
from adapter.interpretation.ish import AVERAGE_HIGH, AVERAGE_LOW, RATIO_CUT, IshReading
from adapter.interpretation.model import FailedTest, IshCall, IshCount, Number, Reported, SiteGroup
from adapter.interpretation.selection import select

RATIO_THRESHOLDS: Final = (RATIO_CUT,)
# The average meets 4.0 and 6.0 in breast (Figures 2, 3); elsewhere only 6.0 matters
# (copy-number-review), since the ratio alone decides there (contract 2.2).
AVERAGE_THRESHOLDS: Final = {
    SiteGroup.BREAST: (AVERAGE_LOW, AVERAGE_HIGH),
    SiteGroup.GASTRIC: (AVERAGE_HIGH,),
    SiteGroup.OTHER: (AVERAGE_HIGH,),
}


@dataclass(frozen=True, slots=True)
class CountOption:
    """One reading of one ISH count."""

    ish: IshReading
    text: str  # the values, for the report ("ratio 1.8, HER2 6.0 per cell")
    failed: bool = False
    equivocal: bool = False
    ratio_computed: bool = False
    preliminary: bool = False
    computed_ratio: str | None = None  # as the report shows it, when the ratio was computed


def count_reports(count: IshCount) -> tuple[Reported[object], ...]:
    """The values of one count in the order `count_options` lists them."""
    return (*count.ratio, *count.her2_per_cell, *count.cep17_per_cell, *count.call)


@dataclass(frozen=True, slots=True)
class CountState:
    conflicting: bool
    ratio_open: bool
    average_open: bool
    inconsistent: bool
    facts: tuple[str, ...]
    sources: tuple[str, ...]


def count_options(
    count: IshCount, site: SiteGroup, *, first: bool
) -> tuple[list[CountOption], CountState]:
    ratio, her2, cep17, call = (
        select(count.ratio),
        select(count.her2_per_cell),
        select(count.cep17_per_cell),
        select(count.call),
    )
    options: list[CountOption] = []
    ratio_open = average_open = inconsistent = False
    for r, h, c, q in product(ratio.options(), her2.options(), cep17.options(), call.options()):
        # A ratio that contradicts the averages of its own count: the reported ratio and the
        # quotient are two values of the ratio, tied (contract 1.2). A recount's numbers are
        # used as reported.
        contradicted = first and _contradicts(r, h, c)
        for quotient in (False, True) if contradicted else (False,):
            option_ratio_open, option_average_open, expanded = _expand(
                r, h, c, q, site, quotient=quotient
            )
            ratio_open |= option_ratio_open
            average_open |= option_average_open
            options.extend(expanded)
        inconsistent |= contradicted
    computed = dict.fromkeys(o.computed_ratio for o in options if o.computed_ratio)
    facts = (
        listed_facts("HER2/CEP17 ratio", count.ratio, ratio, number_fact)
        + listed_facts("average HER2 signals per cell", count.her2_per_cell, her2, number_fact)
        + listed_facts("average CEP17 signals per cell", count.cep17_per_cell, cep17, number_fact)
        + listed_facts("ISH result", count.call, call, call_fact)
        + tuple(f"HER2/CEP17 ratio: {text}" for text in computed)
    )
    return options, CountState(
        conflicting=inconsistent or any(s.conflicting for s in (ratio, her2, cep17, call)),
        ratio_open=ratio_open,
        average_open=average_open,
        inconsistent=inconsistent,
        facts=facts,
        sources=ratio.sources() + her2.sources() + cep17.sources() + call.sources(),
    )


# Rounding a laboratory's ratio may do (contract 1.2): 0.1, or 5 % of the quotient if larger.
RATIO_TOLERANCE: Final = Fraction(1, 10)
RATIO_TOLERANCE_SHARE: Final = Fraction(5, 100)


def _contradicts(
    ratio: Reported[Number | FailedTest] | None,
    her2: Reported[Number | FailedTest] | None,
    cep17: Reported[Number | FailedTest] | None,
) -> bool:
    """True where a count reports the ratio and both averages as exact numbers and the ratio
    differs from HER2 average / CEP17 average beyond rounding (contract 1.2)."""
    values = [x.value if x is not None else None for x in (ratio, her2, cep17)]
    numbers = [v.value for v in values if isinstance(v, Number) and v.comparator is None]
    if len(numbers) != 3 or numbers[2] == 0:
        return False
    r, h, c = (Fraction(n) for n in numbers)
    quotient = h / c
    return abs(r - quotient) > max(RATIO_TOLERANCE, RATIO_TOLERANCE_SHARE * quotient)


def _expand(
    ratio: Reported[Number | FailedTest] | None,
    her2: Reported[Number | FailedTest] | None,
    cep17: Reported[Number | FailedTest] | None,
    call: Reported[IshCall | FailedTest] | None,
    site: SiteGroup,
    *,
    quotient: bool = False,
) -> tuple[bool, bool, list[CountOption]]:
    """The readings of one combination of count values, one per open side of each bound.

    `quotient`: decide with HER2 / CEP17 instead of the reported ratio, which contradicts it
    (contract 1.2); the ratio is then not "computed" in the flag's sense (one was reported)."""
    values = [x.value if x is not None else None for x in (ratio, her2, cep17, call)]
    failed = any(isinstance(v, FailedTest) for v in values)
    preliminary = any((x is not None and x.preliminary) for x in (ratio, her2, cep17, call))
    ratio_n, her2_n, cep17_n = (v if isinstance(v, Number) else None for v in values[:3])
    call_v = values[3] if isinstance(values[3], IshCall) else None
    equivocal = call_v is IshCall.EQUIVOCAL
    usable_call = None if equivocal else call_v

    computed = ratio_n is None and her2_n is not None and cep17_n is not None
    ratio_interval: Interval | None = None
    if ratio_n is not None and not quotient:
        ratio_interval = Interval.of(ratio_n)
    elif her2_n is not None and cep17_n is not None:
        ratio_interval = Interval.of(her2_n).divided_by(Interval.of(cep17_n))
    her2_interval = Interval.of(her2_n) if her2_n is not None else None
    average_thresholds = AVERAGE_THRESHOLDS[site]

    ratio_open = ratio_interval is not None and ratio_interval.is_open_at(RATIO_CUT)
    average_open = her2_interval is not None and any(
        her2_interval.is_open_at(t) for t in average_thresholds
    )
    ratio_points = ratio_interval.representatives(RATIO_THRESHOLDS) if ratio_interval else (None,)
    her2_points = her2_interval.representatives(average_thresholds) if her2_interval else (None,)
    cep17_point = Fraction(cep17_n.value) if cep17_n is not None else None
    options = []
    for r, h in product(ratio_points, her2_points):
        shown_ratio = _ratio_shown(ratio_n, her2_n, cep17_n, r, quotient) if r is not None else None
        options.append(
            CountOption(
                ish=IshReading(ratio=r, her2=h, cep17=cep17_point, call=usable_call),
                text=_count_text(shown_ratio, her2_n, cep17_n, usable_call, h, equivocal, failed),
                failed=failed,
                equivocal=equivocal,
                ratio_computed=computed,
                preliminary=preliminary,
                computed_ratio=shown_ratio if computed or quotient else None,
            )
        )
    # A ratio left open only because it was computed from a bounded average is an open average.
    return ratio_open and not computed, average_open or (ratio_open and computed), options


def _ratio_shown(
    ratio: Number | None,
    her2: Number | None,
    cep17: Number | None,
    point: Fraction,
    quotient: bool = False,
) -> str:
    """The ratio as the report shows it: as reported, the side of a bound, or computed."""
    if quotient:
        return f"{decimal_text(point)} (HER2 / CEP17 = {her2} / {cep17}; reported {ratio})"
    if ratio is not None:
        if ratio.comparator is None:
            return str(ratio)
        return f"{_side(point, RATIO_THRESHOLDS)} (reported {ratio})"
    assert her2 is not None  # a ratio is reported, or computed from both averages
    assert cep17 is not None
    if her2.comparator or cep17.comparator:
        return f"{_side(point, RATIO_THRESHOLDS)} (computed from {her2} / {cep17})"
    return f"{decimal_text(point)} (computed: {her2} / {cep17})"


def _count_text(
    shown_ratio: str | None,
    her2: Number | None,
    cep17: Number | None,
    call: IshCall | None,
    her2_point: Fraction | None,
    equivocal: bool,
    failed: bool,
) -> str:
    parts = [f"ratio {shown_ratio}"] if shown_ratio else []
    if her2 is not None and her2_point is not None:
        shown = str(her2)
        if her2.comparator is not None:
            shown = f"{_side(her2_point, (AVERAGE_LOW, AVERAGE_HIGH))} (reported {her2})"
        parts.append(f"HER2 {shown} per cell")
    if cep17 is not None:
        parts.append(f"CEP17 {cep17} per cell")
    if call is not None:
        parts.append(call.value)
    if equivocal:
        parts.append("'equivocal' (not used)")
    if parts:
        return "ISH " + ", ".join(parts)
    return "ISH failed" if failed else "no ISH"


def _side(point: Fraction, thresholds: tuple[Fraction, ...]) -> str:
    below = [t for t in thresholds if point < t]
    above = [t for t in thresholds if point >= t]
    if not above:
        return f"< {_threshold(below[0])}"
    if not below:
        return f">= {_threshold(above[-1])}"
    return f">= {_threshold(above[-1])} and < {_threshold(below[0])}"


def _threshold(value: Fraction) -> str:
    """A threshold as the guideline writes it: 2.0, 4.0, 6.0."""
    return format(Decimal(value.numerator) / Decimal(value.denominator), ".1f")
