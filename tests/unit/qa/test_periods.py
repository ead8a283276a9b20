"""The period a case counts in (qa-report-contract.md 3): UTC, and partial times where they fit."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.qa.periods import period_bounds, period_of


@pytest.mark.parametrize(
    ("time", "month", "quarter", "year"),
    [
        ("2026-03-31T23:30:00-02:00", "2026-04", "2026-Q2", "2026"),  # 01:30 UTC on 1 April
        ("2026-04-01T00:30:00+02:00", "2026-03", "2026-Q1", "2026"),
        ("2026-12-31T23:59:59Z", "2026-12", "2026-Q4", "2026"),
        ("2026-03-31", "2026-03", "2026-Q1", "2026"),  # a date names its own day
        ("2010-05", "2010-05", "2010-Q2", "2010"),  # month only: the periods that hold it
        ("2010", "2010", "2010", "2010"),  # year only: no month or quarter holds it
    ],
)
def test_period_names(time: str, month: str, quarter: str, year: str) -> None:
    assert period_of(time, "month") == month
    assert period_of(time, "quarter") == quarter
    assert period_of(time, "year") == year
    assert period_of(time, "all") == "all"


def test_no_time_counts_in_unknown() -> None:
    assert period_of(None, "month") == "unknown"
    assert period_of("not a time", "quarter") == "unknown"


@pytest.mark.parametrize(
    ("period", "bounds"),
    [
        ("2026-02", (date(2026, 2, 1), date(2026, 2, 28))),
        ("2024-Q1", (date(2024, 1, 1), date(2024, 3, 31))),
        ("2026-Q4", (date(2026, 10, 1), date(2026, 12, 31))),
        ("2010", (date(2010, 1, 1), date(2010, 12, 31))),
        ("all", None),
        ("unknown", None),
    ],
)
def test_period_bounds(period: str, bounds: tuple[date, date] | None) -> None:
    assert period_bounds(period) == bounds
