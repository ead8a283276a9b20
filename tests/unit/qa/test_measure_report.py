"""MeasureReports (qa-report-contract.md 6): the codes they need, and their periods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from fhir.resources.R4B.bundle import Bundle

from adapter.benchmarks import load_benchmarks
from adapter.errors import MappingError
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import default_mappings, mappings_directory
from adapter.qa.figures import Counts, build_rows
from adapter.qa.measure_report import measure_reports, require_concepts

GENERATED = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
SEEN = (datetime(2025, 2, 3, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


def test_our_codesystem_has_every_code_a_measure_report_uses() -> None:
    require_concepts(default_mappings())
    mappings = default_mappings()
    without = {code: c for code, c in mappings.concepts.items() if code != "laboratory"}
    broken = dataclasses.replace(mappings, concepts=MappingProxyType(without))
    with pytest.raises(MappingError, match=r"her2-adapter\.codesystem\.json: .*'laboratory'"):
        require_concepts(broken)


@pytest.mark.parametrize(
    ("period", "seen", "expected"),
    [
        ("2026-Q3", None, {"start": "2026-07-01", "end": "2026-09-30"}),
        ("all", SEEN, {"start": SEEN[0].isoformat(), "end": SEEN[1].isoformat()}),
        ("unknown", None, {"end": GENERATED.isoformat()}),
    ],
)
def test_the_period_of_a_measure_report(
    period: str, seen: tuple[datetime, datetime] | None, expected: dict[str, str]
) -> None:
    counts = {("L", SiteGroup.OTHER, period): Counts(cases=1, positive=1)}
    rows = build_rows(counts, load_benchmarks(mappings_directory()))
    asked: list[tuple[SiteGroup, str]] = []

    def time_range(site: SiteGroup, name: str) -> tuple[datetime, datetime] | None:
        asked.append((site, name))
        return seen

    bundle = measure_reports(rows, default_mappings(), GENERATED, time_range)
    Bundle.model_validate(bundle)
    (entry,) = bundle["entry"]
    assert entry["resource"]["period"] == expected
    assert asked == ([] if period.startswith("2026") else [(SiteGroup.OTHER, period)])
