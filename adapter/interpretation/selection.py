"""Choosing among several values reported for one measure (adapter-contract.md 1.3).

`amended`/`corrected` beats `final` beats `preliminary`; then the later `issued` (else
`effective[x]`) wins; equal values are fine. Values still tied that differ are all kept: the
case is then decided with each of them in turn (see `interpret.py`).

An IHC 0 that states its sub-class refines a plain IHC 0 (her2-reference.md 2.3): the two are one
score at two levels of detail, not a conflict, and the sub-class is what the HER2-null /
-ultralow category rests on (`select_ihc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from adapter.interpretation.model import FailedTest, IhcScore, IhcValue, Reported, ResultStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Selection(Generic[T]):
    """What remains of one measure after precedence: one value, or several tied ones."""

    candidates: tuple[Reported[T], ...]  # distinct values, in input order; empty: not reported
    # Every report behind the candidates (equal values of equal standing included); a report
    # outside it was set aside by precedence, and the conclusion says so.
    used: tuple[Reported[T], ...] = ()

    @property
    def conflicting(self) -> bool:
        return len(self.candidates) > 1

    def options(self) -> tuple[Reported[T] | None, ...]:
        """The values to decide with, one reading each; `(None,)`: the measure is absent."""
        return self.candidates or (None,)

    def sources(self) -> tuple[str, ...]:
        """The references of the values decided with."""
        return tuple(c.source.reference for c in self.candidates)

    @property
    def values(self) -> tuple[T | None, ...]:
        """The values to decide with; `(None,)` when the measure was not reported."""
        return tuple(c.value for c in self.candidates) or (None,)


def _rank(reported: Reported[T]) -> tuple[ResultStatus, bool, datetime | None]:
    return (reported.source.status, reported.source.issued is not None, reported.source.issued)


def select(reported: Sequence[Reported[T]]) -> Selection[T]:
    """Apply the precedence of contract 1.3; keep every distinct value still tied."""
    if not reported:
        return Selection(())
    best_status = max(r.source.status for r in reported)
    top = [r for r in reported if r.source.status == best_status]
    dated = [r.source.issued for r in top if r.source.issued is not None]
    if dated:
        latest = max(dated)
        top = [r for r in top if r.source.issued == latest]
    distinct: list[Reported[T]] = []
    for candidate in top:
        if all(candidate.value != kept.value for kept in distinct):
            distinct.append(candidate)
    return Selection(tuple(distinct), tuple(top))


def select_ihc(
    reported: Sequence[Reported[IhcValue | FailedTest]],
) -> Selection[IhcValue | FailedTest]:
    """`select` for IHC, where an IHC 0 with a sub-class refines a plain IHC 0.

    The score is chosen by precedence; where it is 0, the sub-class is chosen by the same
    precedence among the values of that standing (status) that state one. Two sub-classes still
    tied (null and ultralow) stay two values, decided in turn like any conflict.
    """
    chosen = select(reported)
    if not chosen.candidates or not all(_is_zero(c.value) for c in chosen.candidates):
        return chosen
    standing = chosen.candidates[0].source.status
    refined = select(
        [
            r
            for r in reported
            if r.source.status == standing
            and isinstance(r.value, IhcValue)
            and r.value.score is IhcScore.ZERO
            and r.value.subclass is not None
        ]
    )
    if not refined.candidates:
        return chosen
    return Selection(refined.candidates, chosen.used + refined.used)


def _is_zero(value: IhcValue | FailedTest) -> bool:
    return isinstance(value, IhcValue) and value.score is IhcScore.ZERO and value.score_reported
