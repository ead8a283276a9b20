"""The expected outcome of a case, from adapter-contract.md 1.2-1.4 and 2.1-2.5 alone.

Precedence among several values of one measure (1.3), the ratio that contradicts its own
averages (1.2), the choices a bound leaves open (1.2) and the aggregation over every choice
(1.3) are written here; the tables for one reading are in `tables`. Numbers are exact
fractions; no code of `adapter` is imported. Readings of the contract where it is silent are
marked "our reading" and listed in the README paragraph on these tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import product

from tests.contract.model import Call, Case, Mark, Measure, Number, Report, Score, Value
from tests.contract.tables import Count, Outcome, decide

INF = None  # an interval's missing upper end
TWO, FOUR, SIX = Fraction(2), Fraction(4), Fraction(6)
ZONES = ((Fraction(0), FOUR), (FOUR, SIX), (SIX, INF))  # HER2 average: [lo, hi)


@dataclass(frozen=True, slots=True)
class Expected:
    status: str
    next_step: str | None
    group: int | None
    category: str | None
    site_assumed: bool


@dataclass(frozen=True, slots=True)
class Interval:
    """Where a reported number can lie; values are never negative."""

    lo: Fraction
    lo_closed: bool
    hi: Fraction | None
    hi_closed: bool

    @staticmethod
    def of(number: Number | Fraction) -> Interval:
        if isinstance(number, Fraction):
            return Interval(number, True, number, True)
        v = Fraction(number.value)
        return {
            None: Interval(v, True, v, True),
            "<": Interval(Fraction(0), False, v, False),
            "<=": Interval(Fraction(0), False, v, True),
            ">": Interval(v, False, INF, False),
            ">=": Interval(v, True, INF, False),
        }[number.comparator]

    def below(self, t: Fraction) -> bool:
        return self.lo < t

    def at_or_above(self, t: Fraction) -> bool:
        return self.hi is None or self.hi > t or (self.hi == t and self.hi_closed)

    def within(self, lo: Fraction, hi: Fraction | None) -> Interval | None:
        """The part of this interval in [lo, hi), or None when empty."""
        if not self.at_or_above(lo) or (hi is not None and not self.below(hi)):
            return None
        new_lo, lo_closed = (lo, True) if lo > self.lo else (self.lo, self.lo_closed)
        if hi is not None and (self.hi is None or hi <= self.hi):
            return Interval(new_lo, lo_closed, hi, False)
        return Interval(new_lo, lo_closed, self.hi, self.hi_closed)


def select(reports: Sequence[Report]) -> list[Value]:
    """1.3: amended/corrected > final > preliminary, then the later time; distinct values
    still tied are all kept. Times are compared only where every tied report has one (our
    reading; the generator never mixes timed and untimed reports of one measure)."""
    if not reports:
        return []
    best = max(r.status.rank for r in reports)
    top = [r for r in reports if r.status.rank == best]
    if all(r.time is not None for r in top):
        latest = max(r.time for r in top if r.time is not None)
        top = [r for r in top if r.time == latest]
    values: list[Value] = []
    for r in top:
        if not any(_same(r.value, v) for v in values):
            values.append(r.value)
    return _refine_zero(values)


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, Number) and isinstance(b, Number):  # 2.0 equals 2.00 (1.3)
        return a.value == b.value and a.comparator == b.comparator
    return a == b


def _refine_zero(values: list[Value]) -> list[Value]:
    """IHC 0 beside one IHC 0 with a sub-class: the second refines the first (issue 18 #4)."""
    subclassed = {v for v in values if isinstance(v, Score) and v.subclass}
    if len(subclassed) == 1 and Score("0") in values:
        return [v for v in values if v != Score("0")]
    return values


def expect(case: Case) -> Expected:
    """The expected status, next step, ISH group, category and site-assumed of `case`."""
    measures = (Measure.IHC, Measure.RATIO, Measure.HER2, Measure.CEP17, Measure.CALL)
    first = [select(case.live(m)) for m in measures]
    recount = [select(case.live(m, recount=True)) for m in measures[1:4]]
    conflicting = any(len(v) > 1 for v in (*first, *recount))
    failed = any(Mark.FAILED in values for values in (first[0], first[4]))
    outcomes: list[Outcome] = []
    ratio_open = False
    options: list[list[Value | None]] = [list(v) or [None] for v in (*first, *recount)]
    for ihc, ratio, her2, cep17, call, r2, h2, c2 in product(*options):
        for ratio_option in ratio_options(ratio, her2, cep17):
            conflicting |= ratio_option is not ratio  # 1.2: a ratio contradicting its averages
            ratio_open |= _open(ratio_option)
            counts = _counts(ratio_option, her2, cep17, call)
            recounts: Iterable[Count | None] = [None]
            if r2 is not None or h2 is not None:
                ratio_open |= _open(r2)
                recounts = _counts(r2, h2, c2, None)
            for count, again in product(counts, recounts):
                ihc_value = ihc if not isinstance(ihc, Number | Call) else None
                outcomes.append(decide(case.site_group, ihc_value, count, again, failed))
    return _aggregate(outcomes, conflicting, ratio_open, case.organ is None)


def ratio_options(
    ratio: Value | None, her2: Value | None, cep17: Value | None
) -> list[Number | Fraction | None]:
    """1.2: with the ratio and both averages exact, a ratio off the quotient by more than 0.1
    or 5% of it (the larger) is tied with the quotient."""
    if not isinstance(ratio, Number):
        return [None]
    exact = [v for v in (ratio, her2, cep17) if isinstance(v, Number) and v.comparator is None]
    if len(exact) < 3 or not isinstance(her2, Number) or not isinstance(cep17, Number):
        return [ratio]
    quotient = Fraction(her2.value) / Fraction(cep17.value)
    if abs(Fraction(ratio.value) - quotient) > max(Fraction(1, 10), quotient / 20):
        return [ratio, quotient]
    return [ratio]


def _open(ratio: Value | Fraction | None) -> bool:
    """A reported ratio bound that leaves 2.0 open (next step `dual-probe-ish`)."""
    if not isinstance(ratio, Number | Fraction):
        return False
    interval = Interval.of(ratio)
    return interval.below(TWO) and interval.at_or_above(TWO)


def _counts(
    ratio: Number | Fraction | Value | None,
    her2: Value | None,
    cep17: Value | None,
    call: Value | None,
) -> list[Count]:
    """Every side of every open threshold one count can fall on (1.2, bounded numbers)."""
    r = Interval.of(ratio) if isinstance(ratio, Number | Fraction) else None
    h = Interval.of(her2) if isinstance(her2, Number) else None
    c = Interval.of(cep17) if isinstance(cep17, Number) else None
    if r is None and h is None:  # no ratio, no average: the answer, if any (1.2)
        answer = call.answer if isinstance(call, Call) and call.answer != "equivocal" else None
        return [Count(call=answer)]
    zones: list[tuple[int | None, Interval | None]] = [(None, None)]
    if h is not None:
        zones = [(z, part) for z, (lo, hi) in enumerate(ZONES) if (part := h.within(lo, hi))]
    counts = []
    for zone, part in zones:
        for high in _ratio_sides(r, part, c):
            counts.append(Count(ratio_high=high, zone=zone))
    return counts


def _ratio_sides(
    ratio: Interval | None, her2: Interval | None, cep17: Interval | None
) -> list[bool | None]:
    """The sides of 2.0 the reported ratio, or the ratio computed from averages in these
    intervals, can take; [None] when there is no ratio (single-probe)."""
    if ratio is not None:
        return [s for s, ok in ((False, ratio.below(TWO)), (True, ratio.at_or_above(TWO))) if ok]
    if her2 is None or cep17 is None:
        return [None]
    # h / c < 2 for some pair iff inf(h) < 2 sup(c); h / c >= 2 iff sup(h) > 2 inf(c), or
    # equal with both ends reached.
    low = cep17.hi is None or her2.lo < 2 * cep17.hi
    high = (
        her2.hi is None
        or her2.hi > 2 * cep17.lo
        or (her2.hi == 2 * cep17.lo and her2.hi_closed and cep17.lo_closed)
    )
    return [s for s, ok in ((False, low), (True, high)) if ok]


def _aggregate(
    outcomes: list[Outcome], conflicting: bool, ratio_open: bool, assumed: bool
) -> Expected:
    """1.3: one status for every choice stands; otherwise Pending, next step adjudication for
    tied values, else dual-probe-ish for an open ratio, else her2-average (the README's
    order where both apply - our reading). Group and category only where all agree."""
    statuses = {o.status for o in outcomes}
    steps = {o.next_step for o in outcomes}
    if len(statuses) == 1 and len(steps) == 1:
        status, step = statuses.pop(), steps.pop()
    else:
        status = "Pending"
        step = "adjudication" if conflicting else "dual-probe-ish" if ratio_open else "her2-average"
    groups = {o.group for o in outcomes}
    categories = {o.category for o in outcomes}
    return Expected(
        status,
        step,
        groups.pop() if len(groups) == 1 else None,
        categories.pop() if len(categories) == 1 and status != "Pending" else None,
        assumed,
    )
