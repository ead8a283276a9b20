"""Each case counts once, by its latest report (qa-report-contract.md 3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from adapter.fhir.report_facts import CaseFigures, ReportFacts
from adapter.interpretation.decision import Status
from adapter.interpretation.model import SiteGroup
from adapter.qa.tally import BATCH, LatestReports


def figures(status: Status, site: SiteGroup = SiteGroup.BREAST) -> CaseFigures:
    return CaseFigures(status, site, None, False, False, False, None, False, False, False, False)


def facts(
    case: str,
    status: Status | None,
    *,
    version: int | None = None,
    day: int | None = None,
    lab: str = "L",
) -> ReportFacts:
    issued = datetime(2026, 1, day, tzinfo=UTC) if day else None
    return ReportFacts(
        case,
        version,
        issued,
        lab,
        "2026-01-15",
        figures(status) if status else None,
        None if status else "entered-in-error",
    )


def counted(*reports: ReportFacts) -> Counter[str]:
    with LatestReports() as latest:
        for report in reports:
            latest.add(report, "2026-01")
        return Counter({t.figures.status.value: t.count for t in latest.tallies()})


def test_the_highest_version_wins_whatever_the_order() -> None:
    v1 = facts("a", Status.EQUIVOCAL, version=1, day=20)
    v2 = facts("a", Status.POSITIVE, version=2, day=10)
    assert counted(v1, v2) == counted(v2, v1) == Counter({"Positive": 1})


def test_without_versions_the_latest_issued_wins() -> None:
    early = facts("a", Status.EQUIVOCAL, day=1)
    late = facts("a", Status.NEGATIVE, day=2)
    assert counted(late, early) == Counter({"Negative": 1})


def test_equally_late_reports_the_one_read_last() -> None:
    assert counted(facts("a", Status.PENDING, day=1), facts("a", Status.NEGATIVE, day=1)) == (
        Counter({"Negative": 1})
    )


def test_a_withdrawn_latest_report_is_not_counted_an_earlier_one_is_forgotten() -> None:
    with LatestReports() as latest:
        latest.add(facts("a", Status.POSITIVE, version=1), "2026-01")
        latest.add(facts("a", None, version=2), "2026-01")
        latest.add(facts("b", None, version=1), "2026-01")
        latest.add(facts("b", Status.NEGATIVE, version=2), "2026-01")
        assert [t.figures.status for t in latest.tallies()] == [Status.NEGATIVE]
        assert latest.not_counted() == {"entered-in-error": 1}


def test_many_cases_over_several_batches() -> None:
    with LatestReports() as latest:
        for n in range(2 * BATCH + 7):
            latest.add(facts(f"c{n % (BATCH + 3)}", Status.POSITIVE, day=1 + n // BATCH), "p")
        (tally,) = latest.tallies()
        assert tally.count == BATCH + 3
        assert latest.reports == 2 * BATCH + 7
