"""The clinically relevant time of a case (adapter-contract.md 3, qa-report-contract.md 2).

The latest `effective[x]` of the case's input Observations, else their latest `issued`; none
when no input gives a time. The time is kept as the input wrote it, so a year-only `2010`
stays a year and the QA report can count it in the period that holds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from adapter.fhir.observations import parse_fhir_datetime
from adapter.fhir.validation import Entry


def case_effective(members: Sequence[Entry]) -> str | None:
    """The case's time as a FHIR dateTime, or None."""
    resources = [member.resource for member in members]
    return _latest(_effective(r) for r in resources) or _latest(r.get("issued") for r in resources)


def _effective(resource: dict[str, Any]) -> Any:
    period = resource.get("effectivePeriod")
    period = period if isinstance(period, dict) else {}
    return (
        resource.get("effectiveDateTime")
        or resource.get("effectiveInstant")
        or period.get("start")
        or period.get("end")
    )


def _latest(times: Iterable[Any]) -> str | None:
    dated: list[tuple[datetime, int, str]] = []
    for text in times:
        moment = parse_fhir_datetime(text) if isinstance(text, str) else None
        if moment is not None:
            dated.append((moment, len(text), text))  # equal moments: the more precise text
    return max(dated)[2] if dated else None
