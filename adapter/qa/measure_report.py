"""The QA report as FHIR R4 MeasureReports (qa-report-contract.md 6): a `collection` Bundle
with one MeasureReport (type `summary`) per site and period.

Each figure of section 4 is a `group`, coded in our CodeSystem by its column name. The group's
own populations and score are the `all` row's; its stratifier `laboratory` holds one stratum per
laboratory. Counts are scores in `{cases}`; shares are scores in `%` with their numerator and
denominator as populations (no score where the share is undefined); the interval bounds carry
the positivity's populations. Each flag is an extension (`her2-qa-flag`) on the group or stratum
of the figure it judges: the positivity flags and `small-sample` on `positive_pct`,
`ish-groups-high` on `ish_group_2_4_pct`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from adapter.errors import MappingError
from adapter.fhir.bundles import collection_bundle
from adapter.fhir.qa_extensions import STRUCTURE_DEFINITIONS
from adapter.fhir.report import ID_NAMESPACE
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import CODESYSTEM_FILE
from adapter.mappings import CODESYSTEM_URL, Mappings
from adapter.qa.figures import ALL_LABS, COLUMNS, FLAGS, Counts, Row
from adapter.qa.periods import period_bounds

MEASURE: Final = "https://her2-fhir-adapter.org/fhir/Measure/her2-laboratory-qa"
FLAG_URL: Final = STRUCTURE_DEFINITIONS + "her2-qa-flag"
POPULATIONS: Final = "http://terminology.hl7.org/CodeSystem/measure-population"
UCUM: Final = "http://unitsofmeasure.org"
FIGURES: Final = COLUMNS[3:-1]  # every column but lab, site, period and flags
FLAGGED_FIGURE: Final = {
    "positivity-high": "positive_pct",
    "positivity-low": "positive_pct",
    "small-sample": "positive_pct",
    "ish-groups-high": "ish_group_2_4_pct",
}
ShareOf = Callable[[Counts], tuple[int, int]]
SHARES: Final[dict[str, ShareOf]] = {  # numerator, denominator of each share
    "positive_pct": lambda c: (c.positive, c.decided),
    "positive_ci_low": lambda c: (c.positive, c.decided),
    "positive_ci_high": lambda c: (c.positive, c.decided),
    "ihc_2plus_pct": lambda c: (c.ihc_2plus, c.ihc_scored),
    "ish_group_2_4_pct": lambda c: (c.ish_group_2_4, c.dual_probe),
    "discordant_pct": lambda c: (c.discordant, c.ihc_and_ish),
    "her2_low_pct": lambda c: (c.her2_low, c.negative),
    "status_differs_pct": lambda c: (c.status_differs, c.reported_status),
}
TimeRange = Callable[[SiteGroup, str], tuple[datetime, datetime] | None]


def require_concepts(mappings: Mappings) -> None:
    """Raise MappingError unless our CodeSystem has every code a MeasureReport uses."""
    wanted = {*FIGURES, *FLAGS, "laboratory"}
    missing = sorted(wanted - set(mappings.concepts))
    if missing:
        raise MappingError(f"mappings/{CODESYSTEM_FILE}: no concept for {missing}")


def measure_reports(
    rows: Sequence[Row], mappings: Mappings, generated: datetime, time_range: TimeRange
) -> dict[str, Any]:
    """A collection Bundle of one MeasureReport per site and period, R4B-validated."""
    keys = list(dict.fromkeys((row.site, row.period) for row in rows))
    reports = []
    for site, period in keys:
        labs = [r for r in rows if (r.site, r.period) == (site, period) and r.lab != ALL_LABS]
        total = next(r for r in rows if (r.site, r.period) == (site, period) and r.lab == ALL_LABS)
        report_id = str(uuid.uuid5(ID_NAMESPACE, f"qa|{site.value}|{period}"))
        reports.append(
            {
                "resourceType": "MeasureReport",
                "id": report_id,
                "status": "complete",
                "type": "summary",
                "measure": MEASURE,
                "date": generated.isoformat(),
                "period": _period(period, site, generated, time_range),
                "group": [_group(figure, total, labs, mappings) for figure in FIGURES],
            }
        )
    return collection_bundle(reports)


def _group(figure: str, total: Row, labs: list[Row], mappings: Mappings) -> dict[str, Any]:
    group = {"code": _coded(figure, mappings)} | _figure(figure, total, mappings)
    group["stratifier"] = [
        {
            "code": [_coded("laboratory", mappings)],
            "stratum": [
                {"value": {"text": row.lab}} | _figure(figure, row, mappings) for row in labs
            ],
        }
    ]
    return group


def _figure(figure: str, row: Row, mappings: Mappings) -> dict[str, Any]:
    """Populations, score and flags of one figure in one row."""
    value = row.values()[figure]
    shown: dict[str, Any] = {}
    flags = [f for f in row.flags if FLAGGED_FIGURE[f] == figure]
    if flags:
        shown["extension"] = [
            {"url": FLAG_URL, "valueCoding": _coding(flag, mappings)} for flag in flags
        ]
    if figure in SHARES:
        numerator, denominator = SHARES[figure](row.counts)
        shown["population"] = [
            _population("numerator", numerator),
            _population("denominator", denominator),
        ]
        if isinstance(value, Decimal):
            shown["measureScore"] = {"value": value, "unit": "%", "system": UCUM, "code": "%"}
        return shown
    shown["population"] = [_population("initial-population", row.counts.cases)]
    shown["measureScore"] = {"value": value, "unit": "cases", "system": UCUM, "code": "{cases}"}
    return shown


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATIONS, "code": code}]}, "count": count}


def _period(
    period: str, site: SiteGroup, generated: datetime, time_range: TimeRange
) -> dict[str, str]:
    bounds = period_bounds(period)
    if bounds is not None:
        return {"start": bounds[0].isoformat(), "end": bounds[1].isoformat()}
    seen = time_range(site, period)  # `all` (and `unknown`): the times of the cases counted
    if seen is None:
        return {"end": generated.isoformat()}
    return {"start": seen[0].isoformat(), "end": seen[1].isoformat()}


def _coded(code: str, mappings: Mappings) -> dict[str, Any]:
    return {"coding": [_coding(code, mappings)], "text": code}


def _coding(code: str, mappings: Mappings) -> dict[str, str]:
    concept = mappings.concept(code)
    coding = {"system": CODESYSTEM_URL, "code": concept.code}
    return coding | ({"display": concept.display} if concept.display else {})
