"""The latest report of each case, and the counts of every laboratory x site x period.

Each case counts once, by its latest report: the highest `meta.versionId`, else the latest
`issued`; of two equally late reports, the one read last (qa-report-contract.md 3). Knowing
which report is a case's latest needs a note per case seen; to keep memory flat over any
history, those notes (one small row per case: its rank and what it counts) live in a private
temporary SQLite database, which spills to a temporary file beyond a few megabytes of cache
and is deleted when closed. Nothing of a Bundle is kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final

from adapter.fhir.report_facts import CaseFigures, ReportFacts
from adapter.interpretation.decision import Status
from adapter.interpretation.model import SiteGroup
from adapter.qa.periods import moment_of

BATCH: Final = 5_000  # reports written to SQLite per statement
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
NEVER: Final = -(2**62)  # rank of a missing versionId or issued: below any real one
FIGURES: Final = (
    "status",
    "site",
    "ihc_score",
    "ihc_used",
    "ish_used",
    "dual_probe",
    "ish_group",
    "discordant",
    "her2_low",
    "reported_status",
    "status_differs",
)
COLUMNS: Final = ("case_id", "version", "issued", "lab", "period", "moment", "not_counted")
_SCHEMA: Final = f"""
CREATE TABLE latest ({", ".join(f"{c}" for c in COLUMNS)}, {", ".join(FIGURES)},
                     PRIMARY KEY (case_id)) WITHOUT ROWID
"""
_UPSERT: Final = f"""
INSERT INTO latest VALUES ({", ".join("?" * (len(COLUMNS) + len(FIGURES)))})
ON CONFLICT (case_id) DO UPDATE SET
  {", ".join(f"{c} = excluded.{c}" for c in (*COLUMNS[1:], *FIGURES))}
WHERE (excluded.version, excluded.issued) >= (latest.version, latest.issued)
"""


@dataclass(frozen=True, slots=True)
class Tally:
    """Cases with the same laboratory, site, period and figures: `count` of them."""

    lab: str
    period: str
    figures: CaseFigures
    count: int


class LatestReports:
    """Takes reports in any order; answers, per laboratory, site and period, what the latest
    report of each case counts. Use as a context manager (the database is deleted on exit)."""

    def __init__(self) -> None:
        # "": a private temporary database, on disk once its pages outgrow the cache.
        self._db = sqlite3.connect("")
        self._db.execute("PRAGMA cache_size = -4096")  # 4 MiB of pages in memory, at most
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(_SCHEMA)
        self._pending: list[tuple[Any, ...]] = []
        self.reports = 0

    def __enter__(self) -> LatestReports:
        return self

    def __exit__(self, *_: object) -> None:
        self._db.close()

    def add(self, facts: ReportFacts, period: str) -> None:
        """Note one report of a case in the period its time falls in."""
        self.reports += 1
        moment = moment_of(facts.time)
        figures = facts.figures
        self._pending.append(
            (
                facts.case,
                NEVER if facts.version is None else facts.version,
                NEVER if facts.issued is None else _micros(facts.issued),
                facts.laboratory,
                period,
                None if moment is None else _micros(moment),
                facts.not_counted,
                *(_figure_values(figures) if figures else (None,) * len(FIGURES)),
            )
        )
        if len(self._pending) >= BATCH:
            self._flush()

    def tallies(self) -> Iterator[Tally]:
        """The counted cases, grouped by everything a row needs."""
        self._flush()
        names = ", ".join(("lab", "period", *FIGURES))
        query = f"SELECT {names}, COUNT(*) FROM latest WHERE not_counted IS NULL GROUP BY {names}"
        for lab, period, *values, count in self._db.execute(query):
            yield Tally(lab, period, _figures(values), count)

    def not_counted(self) -> dict[str, int]:
        """Cases whose latest report is not counted, by reason."""
        self._flush()
        query = "SELECT not_counted, COUNT(*) FROM latest WHERE not_counted IS NOT NULL GROUP BY 1"
        return dict(self._db.execute(query).fetchall())

    def time_range(self, site: SiteGroup, period: str) -> tuple[datetime, datetime] | None:
        """The earliest and latest time of the counted cases of a site and period."""
        self._flush()
        low, high = self._db.execute(
            "SELECT MIN(moment), MAX(moment) FROM latest"
            " WHERE not_counted IS NULL AND site = ? AND period = ?",
            (site.value, period),
        ).fetchone()
        return None if low is None else (_moment(low), _moment(high))

    def _flush(self) -> None:
        if self._pending:
            with self._db:
                self._db.executemany(_UPSERT, self._pending)
            self._pending.clear()


def _figure_values(figures: CaseFigures) -> tuple[Any, ...]:
    values = (getattr(figures, name) for name in FIGURES)
    return tuple(v.value if isinstance(v, Enum) else v for v in values)


def _figures(values: list[Any]) -> CaseFigures:
    row = dict(zip(FIGURES, values, strict=True))
    kept = ("ihc_score", "ish_group")
    flags = {k: bool(v) for k, v in row.items() if k not in kept}  # SQLite gives 0 / 1 back
    enums = {"status": Status(row["status"]), "site": SiteGroup(row["site"])}
    return CaseFigures(**(row | flags | enums))


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)
