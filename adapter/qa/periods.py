"""The period a case counts in (qa-report-contract.md 3).

The period of a time is taken in UTC: `2026-03` (month), `2026-Q1` (quarter), `2026` (year),
or `all`. A time given only to the year or month counts in the period that holds it; where no
period of the asked kind holds it (a year-only time by month or quarter), it counts in a period
named by its year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

from adapter.fhir.observations import parse_fhir_datetime

GRANULARITIES: Final = ("month", "quarter", "year", "all")
ALL: Final = "all"
UNKNOWN: Final = "unknown"  # no time at all (a report without effectiveDateTime and issued)


def period_of(time: str | None, granularity: str) -> str:
    """The name of the period `time` (a FHIR date, dateTime or instant) counts in."""
    if granularity == ALL:
        return ALL
    moment = parse_fhir_datetime(time) if time else None
    if time is None or moment is None:
        return UNKNOWN
    text = time.strip()
    # A date without a time has no zone: it names its calendar day, month or year as written.
    utc = moment if len(text) <= len("2026-03-01") else moment.astimezone(UTC)
    if len(text) == len("2026") or granularity == "year":
        return f"{utc.year:04d}"
    if granularity == "quarter":
        return f"{utc.year:04d}-Q{(utc.month - 1) // 3 + 1}"
    return f"{utc.year:04d}-{utc.month:02d}"


def period_bounds(period: str) -> tuple[date, date] | None:
    """First and last day of a named period; None for `all` and `unknown`."""
    year, _, rest = period.partition("-")
    if not year.isdigit():
        return None
    first_month, last_month = 1, 12
    if rest.startswith("Q"):
        first_month = 3 * int(rest[1:]) - 2
        last_month = first_month + 2
    elif rest:
        first_month = last_month = int(rest)
    end = date(int(year) + 1, 1, 1) if last_month == 12 else date(int(year), last_month + 1, 1)
    return date(int(year), first_month, 1), date.fromordinal(end.toordinal() - 1)


def moment_of(time: str | None) -> datetime | None:
    """The first instant of a time, for ranges (`all`)."""
    return parse_fhir_datetime(time) if time else None
