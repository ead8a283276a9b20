"""From the reported facts to the readings a case is decided with.

A case usually has one reading. It has several when values of one measure are tied and differ
(contract 1.3) or when a bound leaves a threshold open (contract 1.2): the case is then decided
once per reading, and `interpret.py` combines the outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from itertools import product
from typing import Any, Final

from adapter.interpretation.bounds import Interval, decimal_text
from adapter.interpretation.ish import AVERAGE_HIGH, AVERAGE_LOW, RATIO_CUT, IshReading
from adapter.interpretation.model import (
    FailedTest,
    Her2Findings,
    IhcScore,
    IhcValue,
    IshCall,
    IshCount,
    Number,
    Reported,
    ResultStatus,
    SiteGroup,
    T,
)
from adapter.interpretation.selection import Selection, select, select_ihc

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


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading a case: one value per measure, every bound on one side."""

    ihc: IhcValue | None
    first: CountOption
    recount: CountOption | None
    ihc_failed: bool
    preliminary: bool

    @property
    def text(self) -> str:
        """The values of this reading: "IHC 2+; ISH ratio 1.8, HER2 6.01 per cell"."""
        parts = [f"IHC {ihc_text(self.ihc)}" if self.ihc else "no IHC"]
        if self.ihc_failed:
            parts = ["IHC failed"]
        parts.append(self.first.text)
        if self.recount is not None:
            parts.append(f"recount {self.recount.text}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Readings:
    choices: tuple[Reading, ...]
    conflicting: bool = False  # tied values that differ (contract 1.3)
    ratio_open: bool = False  # a reported ratio bound leaves 2.0 open (contract 1.2)
    average_open: bool = False  # an average bound (or a ratio computed from one) is open
    inconsistent: bool = False  # the reported ratio contradicts its own averages (1.2)
    facts: tuple[str, ...] = field(default=())
    listed: tuple[Reported[object], ...] = ()  # every value the facts show, for the account
    sources: tuple[str, ...] = field(default=())


def ihc_text(value: IhcValue) -> str:
    text = value.score.value
    if value.subclass is not None:
        text += f" ({value.subclass.value})"
    if not value.score_reported:
        text += " (no score reported)"
    return text


def read_case(findings: Her2Findings) -> Readings:
    """Every reading of a case, with what made it several."""
    site = findings.site.group
    ihc = select_ihc(findings.ihc)
    first_count, recount = findings.first_count, findings.recount
    if first_count.is_empty():  # only marked counts: the earliest mark-free one is missing
        first_count, recount = recount, IshCount()
    first, first_state = _count_options(first_count, site, first=True)
    second: list[CountOption | None] = [None]
    second_state = None
    if not recount.is_empty():
        options, second_state = _count_options(recount, site, first=False)
        second = list(options)
    choices = []
    for ihc_option, first_option, recount_option in product(_options(ihc), first, second):
        ihc_value = ihc_option.value if ihc_option is not None else None
        choices.append(
            Reading(
                ihc=ihc_value if isinstance(ihc_value, IhcValue) else None,
                first=first_option,
                recount=recount_option,
                ihc_failed=isinstance(ihc_value, FailedTest),
                preliminary=_preliminary(ihc_option)
                or first_option.preliminary
                or (recount_option is not None and recount_option.preliminary),
            )
        )
    states = [s for s in (first_state, second_state) if s is not None]
    facts = _facts("IHC score", findings.ihc, ihc, _ihc_fact) + first_state.facts
    if second_state is not None:
        facts += tuple(f"recount: {fact}" for fact in second_state.facts)
    facts += tuple(f"{n.value}: not performed [{n.source.reference}]" for n in findings.not_done)
    listed = (*findings.ihc, *_count_reports(first_count), *_count_reports(recount))
    return Readings(
        choices=tuple(choices),
        conflicting=ihc.conflicting or any(s.conflicting for s in states),
        ratio_open=any(s.ratio_open for s in states),
        average_open=any(s.average_open for s in states),
        inconsistent=first_state.inconsistent,
        facts=facts,
        listed=(*listed, *findings.not_done),
        sources=_sources(ihc) + tuple(src for s in states for src in s.sources),
    )


def _count_reports(count: IshCount) -> tuple[Reported[object], ...]:
    """The values of one count in the order `_count_options` lists them."""
    return (*count.ratio, *count.her2_per_cell, *count.cep17_per_cell, *count.call)


@dataclass(frozen=True, slots=True)
class _CountState:
    conflicting: bool
    ratio_open: bool
    average_open: bool
    inconsistent: bool
    facts: tuple[str, ...]
    sources: tuple[str, ...]


def _count_options(
    count: IshCount, site: SiteGroup, *, first: bool
) -> tuple[list[CountOption], _CountState]:
    ratio, her2, cep17, call = (
        select(count.ratio),
        select(count.her2_per_cell),
        select(count.cep17_per_cell),
        select(count.call),
    )
    options: list[CountOption] = []
    ratio_open = average_open = inconsistent = False
    for r, h, c, q in product(_options(ratio), _options(her2), _options(cep17), _options(call)):
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
        _facts("HER2/CEP17 ratio", count.ratio, ratio, _number_fact)
        + _facts("average HER2 signals per cell", count.her2_per_cell, her2, _number_fact)
        + _facts("average CEP17 signals per cell", count.cep17_per_cell, cep17, _number_fact)
        + _facts("ISH result", count.call, call, _call_fact)
        + tuple(f"HER2/CEP17 ratio: {text}" for text in computed)
    )
    return options, _CountState(
        conflicting=inconsistent or any(s.conflicting for s in (ratio, her2, cep17, call)),
        ratio_open=ratio_open,
        average_open=average_open,
        inconsistent=inconsistent,
        facts=facts,
        sources=_sources(ratio) + _sources(her2) + _sources(cep17) + _sources(call),
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
    preliminary = any(_preliminary(x) for x in (ratio, her2, cep17, call))
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


def _options(selection: Selection[T]) -> tuple[Reported[T] | None, ...]:
    return selection.candidates or (None,)


def _preliminary(reported: Reported[Any] | None) -> bool:
    return reported is not None and reported.source.status is ResultStatus.PRELIMINARY


def _sources(selection: Selection[T]) -> tuple[str, ...]:
    return tuple(c.source.reference for c in selection.candidates)


def _ihc_fact(value: IhcValue | FailedTest) -> str:
    if isinstance(value, FailedTest):
        return "test failed"
    if value.score is IhcScore.ZERO_OR_ONE:
        return "negative, no score reported (counts as 0 or 1+)"
    return ihc_text(value)


def _number_fact(value: Number | FailedTest) -> str:
    return "test failed" if isinstance(value, FailedTest) else str(value)


def _call_fact(value: IshCall | FailedTest) -> str:
    return "test failed" if isinstance(value, FailedTest) else value.value


def _facts(
    label: str,
    reported: Sequence[Reported[T]],
    selection: Selection[T],
    render: Callable[[T], str],
) -> tuple[str, ...]:
    """Every value reported for one measure, in input order, each with its source; a value set
    aside by precedence (contract 1.3) is listed too, marked, so the report shows every input
    the case was sent."""
    if not reported:
        return ()
    used = {id(r) for r in selection.used or selection.candidates}
    shown = "; ".join(
        f"{render(r.value)} [{r.source.reference}"
        + (", preliminary" if r.source.status is ResultStatus.PRELIMINARY else "")
        + ("]" if id(r) in used else ", superseded]")
        for r in reported
    )
    tied = " (tied reports that differ)" if selection.conflicting else ""
    return (f"{label}: {shown}{tied}",)
