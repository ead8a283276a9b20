"""One QA report run: count the reports, build the rows, render them in a format."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from adapter.benchmarks import Benchmarks
from adapter.fhir.report_facts import ReportFacts
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.qa import tabular
from adapter.qa.figures import Counts, Row, build_rows
from adapter.qa.html import html_page
from adapter.qa.measure_report import measure_reports
from adapter.qa.periods import period_of
from adapter.qa.tally import LatestReports


class QaReport:
    """Use as a context manager: the latest-report store is deleted on exit."""

    def __init__(self, mappings: Mappings, benchmarks: Benchmarks, granularity: str) -> None:
        self.mappings = mappings
        self.benchmarks = benchmarks
        self.granularity = granularity
        self.generated = datetime.now(UTC)
        self._latest = LatestReports()

    def __enter__(self) -> QaReport:
        return self

    def __exit__(self, *_: object) -> None:
        self._latest.__exit__()

    def count(self, reports: Iterable[ReportFacts]) -> None:
        """Note every report (any order; each case counts once, by its latest report)."""
        for facts in reports:
            self._latest.add(facts, period_of(facts.time, self.granularity))

    def rows(self) -> list[Row]:
        counts: dict[tuple[str, SiteGroup, str], Counts] = {}
        for tally in self._latest.tallies():
            key = (tally.lab, tally.figures.site, tally.period)
            counts.setdefault(key, Counts()).add(tally.figures, tally.count)
        return build_rows(counts, self.benchmarks)

    def not_counted(self) -> dict[str, int]:
        """Cases whose latest report is not counted, by reason."""
        return self._latest.not_counted()

    def render(self, form: str) -> str:
        """The report as `csv`, `json`, `fhir` (a Bundle of MeasureReports) or `html`."""
        rows = self.rows()
        if form == "csv":
            return tabular.csv_text(rows)
        if form == "json":
            return tabular.json_text(rows, self.benchmarks, self.granularity)
        if form == "fhir":
            bundle = measure_reports(rows, self.mappings, self.generated, self._latest.time_range)
            return tabular.json_dump(bundle)
        if form == "html":
            return html_page(rows, self.benchmarks, self.granularity, self.generated)
        raise ValueError(f"unknown format {form!r}")
