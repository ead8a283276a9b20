"""The values of a case as its conclusion lists them ("Results used"): every value it was
sent, with its source, those set aside by precedence marked (contract 1.3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from adapter.interpretation.model import (
    FailedTest,
    IhcScore,
    IhcValue,
    IshCall,
    Number,
    Reported,
    T,
)
from adapter.interpretation.selection import Selection


def ihc_text(value: IhcValue) -> str:
    text = value.score.value
    if value.subclass is not None:
        text += f" ({value.subclass.value})"
    if not value.score_reported:
        text += " (no score reported)"
    return text


def ihc_fact(value: IhcValue | FailedTest) -> str:
    if isinstance(value, FailedTest):
        return "test failed"
    if value.score is IhcScore.ZERO_OR_ONE:
        return "negative, no score reported (counts as 0 or 1+)"
    return ihc_text(value)


def number_fact(value: Number | FailedTest) -> str:
    return "test failed" if isinstance(value, FailedTest) else str(value)


def call_fact(value: IshCall | FailedTest) -> str:
    return "test failed" if isinstance(value, FailedTest) else value.value


def listed_facts(
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
        + (", preliminary" if r.preliminary else "")
        + ("]" if id(r) in used else ", superseded]")
        for r in reported
    )
    tied = " (tied reports that differ)" if selection.conflicting else ""
    return (f"{label}: {shown}{tied}",)
