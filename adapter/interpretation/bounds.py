"""Reported numbers as intervals, and the choices a bounded number leaves open.

A bound ("> 2.2", `comparator` "<=") is an interval; it settles a comparison only when the
whole interval lies on one side of the threshold (her2-reference.md 4.5, contract 1.2). Where it
leaves a threshold open, the case is decided once for a value on each side of it.

All arithmetic is exact (`Fraction` built from the reported `Decimal`), so a quotient such as
5.99 / 3.0 is compared as 1.99666..., never rounded across 2.0 (her2-reference.md Q10).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from adapter.interpretation.model import Comparator, Number


@dataclass(frozen=True, slots=True)
class Interval:
    """A set of possible values: [low, high] with open or closed ends; `high` None is infinity."""

    low: Fraction
    high: Fraction | None
    low_closed: bool = True
    high_closed: bool = True

    @classmethod
    def of(cls, number: Number) -> Interval:
        value = Fraction(number.value)
        match number.comparator:
            case None:
                return cls(value, value)
            case Comparator.LT:
                return cls(Fraction(0), value, high_closed=False)
            case Comparator.LE:
                return cls(Fraction(0), value)
            case Comparator.GT:
                return cls(value, None, low_closed=False, high_closed=False)
            case Comparator.GE:
                return cls(value, None, high_closed=False)

    @property
    def exact(self) -> Fraction | None:
        """The value, when the interval holds exactly one."""
        return self.low if self.high == self.low else None

    def divided_by(self, other: Interval) -> Interval:
        """Interval quotient of two non-negative intervals (a computed ratio from bounds)."""
        low = Fraction(0) if other.high is None else self.low / other.high
        low_closed = self.low_closed and (other.high is not None and other.high_closed)
        if self.high is None or other.low == 0:
            return Interval(low, None, low_closed, False)
        high_closed = self.high_closed and other.low_closed
        return Interval(low, self.high / other.low, low_closed, high_closed)

    def is_open_at(self, threshold: Fraction) -> bool:
        """True when the interval holds values both below and at-or-above the threshold."""
        below = self.low < threshold
        at_or_above = (
            self.high is None
            or self.high > threshold
            or (self.high == threshold and self.high_closed)
        )
        return below and at_or_above

    def representatives(self, thresholds: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
        """One value inside the interval for each side of each threshold it leaves open."""
        edges: list[Fraction | None] = [None, *sorted(thresholds), None]
        found: list[Fraction] = []
        for region_low, region_high in pairwise(edges):
            point = self._point_within(region_low, region_high)
            if point is not None:
                found.append(point)
        return tuple(found)

    def _point_within(self, low: Fraction | None, high: Fraction | None) -> Fraction | None:
        """A point of this interval inside the region [low, high) (None: unbounded), if any."""
        if low is None or self.low > low:
            start, start_closed = self.low, self.low_closed
        elif self.low < low:
            start, start_closed = low, True
        else:
            start, start_closed = low, self.low_closed
        end, end_closed = self.high, self.high_closed
        if high is not None and (end is None or end > high or (end == high)):
            end, end_closed = high, False
        if end is None:
            return start if start_closed else start + 1
        if start < end:
            return start if start_closed else (start + end) / 2
        return start if start == end and start_closed and end_closed else None


def decimal_text(value: Fraction, places: int = 4) -> str:
    """A computed value for the report: exact when it has a short decimal form, else rounded."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if exact == exact.quantize(Decimal(1).scaleb(-places)):
        return format(exact.normalize(), "f")
    return format(exact.quantize(Decimal(1).scaleb(-places)), "f")
