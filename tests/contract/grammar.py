"""The grammar of cases: every fact adapter-contract.md 1.2-1.4 lets a case hold.

One function draws a case through a `Chooser`; a seeded `random.Random` drives it for the
long form and the CLI batches (fast, reproducible from a seed), and hypothesis drives it for
the property tests (`cases()`, shrinking to the smallest failing case). The renderers draw
their spellings through the same chooser. Options are listed simplest first, which is where
hypothesis shrinks to.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from tests.contract.model import (
    ANSWERS,
    COMPARATORS,
    SUBCLASSES,
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

T = TypeVar("T")


class Chooser(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...

    def chance(self, percent: int) -> bool: ...


class SeededChooser:
    """Choices from a seeded generator: the same seed, the same cases."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)  # a str seed is hashed by SHA-512: stable across runs

    def pick(self, options: Sequence[T]) -> T:
        return self.rng.choice(options)

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class DrawChooser:
    """Choices drawn by hypothesis inside a composite strategy."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def pick(self, options: Sequence[T]) -> T:
        chosen: T = self.draw(st.sampled_from(options))
        return chosen

    def chance(self, percent: int) -> bool:
        return bool(self.draw(st.integers(0, 99)) >= 100 - percent)  # shrinks to False


# Values around every threshold of 2.1 and 2.2, then random ones (two decimals).
RATIOS = ("2.0", "1.99", "2.01", "2.00", "1.8", "2.2", "1.5", "2.5", "3.1", "0.9", "5.3", "1.0")
AVERAGES = ("4.0", "3.99", "4.01", "5.99", "6.0", "6.01", "2.4", "3.5", "4.8", "7.2", "12.1", "6")
CEP17S = ("2.0", "1.0", "2.2", "3.0", "1.995", "2.005", "3.02", "1.5", "63")
EXACT_QUOTIENT_CEP17 = ("2.0", "1.0", "2.5", "4.0", "5.0", "1.25")  # H / C terminates
BOUND_POINTS = {
    Measure.RATIO: ("2.0", "1.8", "2.2", "1.9", "2.1"),
    Measure.HER2: ("4.0", "6.0", "3.5", "4.5", "5.0", "6.5"),
    Measure.CEP17: ("2.0", "1.5", "2.5", "3.0"),
}
TIMES = tuple(datetime(2025, 3, day, 10, tzinfo=UTC) for day in (3, 4, 5))
STATUSES = (Status.FINAL, Status.FINAL, Status.PRELIMINARY, Status.AMENDED, Status.CORRECTED)
ISH_KINDS = (
    "none", "dual", "dual", "dual", "computed", "ratio+her2", "ratio", "ratio+cep17", "single",
    "cep17", "call", "call+dual", "failed",
)  # fmt: skip


def _random_decimal(c: Chooser, low: int, high: int) -> str:
    cents = c.pick(range(low, high))
    return str(Decimal(cents) / 100)


def number(c: Chooser, measure: Measure) -> Number:
    if c.chance(20):
        return Number(c.pick(BOUND_POINTS[measure]), c.pick(COMPARATORS))
    listed = {Measure.RATIO: RATIOS, Measure.HER2: AVERAGES, Measure.CEP17: CEP17S}[measure]
    if c.chance(60):
        return Number(c.pick(listed))
    low, high = {Measure.RATIO: (50, 800), Measure.HER2: (100, 2000)}.get(measure, (80, 500))
    return Number(_random_decimal(c, low, high))


def ihc_value(c: Chooser) -> Value:
    kind = c.pick(("score", "score", "score", "zero", "unscored", "failed"))
    if kind == "score":
        return Score(c.pick(("1+", "2+", "2+", "3+", "0")))
    if kind == "zero":
        return Score("0", c.pick(SUBCLASSES))
    if kind == "unscored":
        return Unscored(c.pick(ANSWERS))
    return Mark.FAILED


def _reports(c: Chooser, measure: Measure, draw: Callable[[], Value]) -> list[Report]:
    """One value, or (15%) several values of one measure: equal or different, each with a
    status and, for all of them or none, a time (1.3)."""
    timed = c.chance(50)
    first = draw()
    values = [first]
    if c.chance(15):
        values.append(first if c.chance(30) else draw())
    if first == Score("0") and c.chance(30):  # 0 beside 0 (ultralow): a refinement
        return [
            Report(measure, value, Status.FINAL, TIMES[0] if timed else None)
            for value in (first, Score("0", c.pick(SUBCLASSES)))
        ]
    return [Report(measure, v, c.pick(STATUSES), c.pick(TIMES) if timed else None) for v in values]


def _consistent_ratio(c: Chooser) -> list[Report]:
    """Exact ratio and averages of one count: consistent (the rounded quotient) or off it by
    the tolerance of 1.2 exactly, just beyond it, or by a mistyped value."""
    cep17 = c.pick(EXACT_QUOTIENT_CEP17)
    her2 = _random_decimal(c, 100, 1600)
    quotient = Decimal(her2) / Decimal(cep17)
    tolerance = max(Decimal("0.1"), quotient / 20)
    ratio = c.pick(
        (
            quotient.quantize(Decimal("0.01")),
            quotient + tolerance,
            quotient - tolerance,
            quotient + tolerance + Decimal("0.01"),
            Decimal(c.pick(RATIOS)),
        )
    )
    return [
        Report(Measure.RATIO, Number(format(abs(ratio), "f"))),
        Report(Measure.HER2, Number(her2)),
        Report(Measure.CEP17, Number(cep17)),
    ]


def _ish(c: Chooser, kind: str) -> list[Report]:
    def numbers(*measures: Measure) -> list[Report]:
        return [r for m in measures for r in _reports(c, m, partial(number, c, m))]

    if kind in ("dual", "call+dual"):
        found = (
            _consistent_ratio(c)
            if c.chance(30)
            else numbers(Measure.RATIO, Measure.HER2, Measure.CEP17)
        )
        if kind == "call+dual":
            found += _reports(c, Measure.CALL, lambda: Call(c.pick(ANSWERS)))
        return found
    measures = {
        "computed": (Measure.HER2, Measure.CEP17),
        "ratio+her2": (Measure.RATIO, Measure.HER2),
        "ratio": (Measure.RATIO,),
        "ratio+cep17": (Measure.RATIO, Measure.CEP17),
        "single": (Measure.HER2,),
        "cep17": (Measure.CEP17,),
    }
    if kind in measures:
        return numbers(*measures[kind])
    if kind == "call":
        return _reports(c, Measure.CALL, lambda: Call(c.pick(ANSWERS)))
    if kind == "failed":
        return [Report(Measure.CALL, Mark.FAILED)]
    return []


def _recount(c: Chooser) -> list[Report]:
    return [
        Report(measure, number(c, measure), recount=True)
        for measure in (Measure.RATIO, Measure.HER2)
    ]


ORGAN_WEIGHTS = (
    *("breast",) * 8, *(None,) * 3, "stomach", "gej", "oesophagus",
    "colon", "rectum", "lung", "bladder", "kidney", "ovary", "endometrium",
)  # fmt: skip


def draw_case(c: Chooser) -> Case:
    """A case: an organ, an IHC (75%), an ISH of one kind, sometimes a blinded recount, a
    withdrawn report, a test not performed or a status reported earlier."""
    reports: list[Report] = []
    if c.chance(75):
        reports += _reports(c, Measure.IHC, lambda: ihc_value(c))
    kind = c.pick(ISH_KINDS)
    reports += _ish(c, kind)
    measured = {r.measure for r in reports}
    dual = Measure.HER2 in measured and bool(measured & {Measure.RATIO, Measure.CEP17})
    if dual and c.chance(15):  # a recount beside a dual-probe first count (README decision)
        reports += _recount(c)
    if c.chance(10):
        measure = c.pick((Measure.IHC, Measure.RATIO, Measure.HER2))
        value = ihc_value(c) if measure is Measure.IHC else number(c, measure)
        reports.append(Report(measure, value, c.pick(STATUSES), withdrawn=True))
    if not any(r.live for r in reports):
        reports.append(Report(Measure.IHC, ihc_value(c)))
    if c.chance(5):  # a test not done counts as absent (1.2)
        missing = Measure.CALL if any(r.measure is Measure.IHC for r in reports) else Measure.IHC
        if not any(r.measure is missing for r in reports):
            reports.append(Report(missing, Mark.NOT_PERFORMED))
    reported = c.pick(ANSWERS) if c.chance(10) else None
    return Case(tuple(reports), c.pick(ORGAN_WEIGHTS), reported)


@st.composite
def cases(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case:
    """The hypothesis strategy over the case grammar."""
    return draw_case(DrawChooser(draw))
