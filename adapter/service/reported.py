"""What the console's recent-cases list keeps of a report written (`adapter.recent_cases`).

The case is named by what a person at the lab searches for: the Specimen's accession number,
else the specimen (or subject) reference of the case key. Codes and identifiers only: the
report's patient, names and values stay out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapter.recent_cases import RecentCase
from adapter.service.settle import Settlement

JsonDict = dict[str, Any]


def recent_case(settled: Settlement, door: str, at: datetime) -> RecentCase | None:
    """The line for the report `settled` wrote; None when it wrote none."""
    if settled.report_status is None:
        return None
    state = settled.state
    report = next(r for r in settled.write if r.get("resourceType") == "DiagnosticReport")
    interpretation = settled.interpreted.interpretation if settled.interpreted else None
    next_step = interpretation.next_step if interpretation else None
    return RecentCase(
        case=_accession(state.support.values(), state.meta.key) or state.meta.key.split("|")[-1],
        her2_status=interpretation.status.value if interpretation else "",
        next_step=next_step.value if next_step else "",
        report_id=str(report.get("id", "")),
        version=state.meta.reports,
        report_status=settled.report_status,
        door=door,
        at=at,
    )


def _accession(support: Any, key: str) -> str | None:
    """The accession number of the case's Specimen (the one the case key names, else the only
    one kept)."""
    specimens = [e for e in support if e["resource"].get("resourceType") == "Specimen"]
    named = key.removeprefix("specimen|")
    chosen = [
        e for e in specimens if named in (e.get("fullUrl"), f"Specimen/{e['resource'].get('id')}")
    ] or (specimens if len(specimens) == 1 else [])
    for entry in chosen:
        accession = entry["resource"].get("accessionIdentifier") or {}
        if isinstance(accession, dict) and accession.get("value"):
            return str(accession["value"])
    return None
