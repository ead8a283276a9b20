"""Choosing among several values reported for one measure (adapter-contract.md 1.3).

`amended`/`corrected` beats `final` beats `preliminary`; then the later `issued` (else
`effective[x]`) wins; equal values are fine. Values still tied that differ are all kept: the
case is then decided with each of them in turn (see `interpret.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from adapter.interpretation.model import Reported, ResultStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Selection(Generic[T]):
    """What remains of one measure after precedence: one value, or several tied ones."""

    candidates: tuple[Reported[T], ...]  # distinct values, in input order; empty: not reported

    @property
    def conflicting(self) -> bool:
        return len(self.candidates) > 1

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
    return Selection(tuple(distinct))
