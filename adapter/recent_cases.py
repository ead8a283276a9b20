"""The cases last reported, for the operations console: a bounded list in Redis.

Each report a worker writes adds one line (`RecentCase`) to `her2:recent-cases`, in the same
pipeline that saves the case (`CaseStore.save_all(..., also=...)`): the list is trimmed to
`LIMIT` lines in that pipeline, so it never grows with the traffic. A line holds codes and
identifiers of the case only (accession number or specimen reference, HER2 status, next step,
the report's id, version and status, the door, when): never a name, a birth date or a value.
It expires with the cases (`case_retention_seconds`), refreshed by every report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final

import redis

KEY: Final = "her2:recent-cases"
LIMIT: Final = 500


@dataclass(frozen=True, slots=True)
class RecentCase:
    case: str  # the Specimen's accession number, else the case's specimen or subject reference
    her2_status: str  # "" for a withdrawn report (entered-in-error)
    next_step: str  # "" when there is none
    report_id: str  # the DiagnosticReport's id
    version: int  # the n-th report of this case the adapter wrote
    report_status: str  # preliminary, final, amended, entered-in-error
    door: str
    at: datetime

    @classmethod
    def from_json(cls, raw: bytes | str) -> RecentCase:
        values = json.loads(raw)
        return cls(**{**values, "at": datetime.fromisoformat(values["at"])})

    def to_json(self) -> str:
        # Field by field: dataclasses.asdict deep-copies every value first.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps({**values, "at": self.at.isoformat()})


@dataclass(frozen=True, slots=True)
class NotedCases:
    """The commands that note reports, for the pipeline that saves their cases."""

    lines: tuple[str, ...]
    retention_seconds: int

    def add_to(self, pipe: redis.client.Pipeline) -> None:
        if not self.lines:
            return
        pipe.lpush(KEY, *self.lines)
        pipe.ltrim(KEY, 0, LIMIT - 1)
        pipe.expire(KEY, self.retention_seconds)


class RecentCases:
    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._redis = client
        self._retention = retention_seconds

    def noted(self, cases: Sequence[RecentCase]) -> NotedCases:
        """`cases` to add (the caller's pipeline executes them)."""
        return NotedCases(tuple(case.to_json() for case in cases), self._retention)

    def recent(self, count: int = 20) -> list[RecentCase]:
        """The latest `count` reports, newest first."""
        return [RecentCase.from_json(raw) for raw in self._redis.lrange(KEY, 0, count - 1)]

    def search(self, accession: str, count: int = 20) -> list[RecentCase]:
        """The latest `count` reports whose case holds `accession` (any case), newest first.
        Reads the whole bounded list: at most `LIMIT` lines."""
        wanted = accession.strip().casefold()
        found = [c for c in self.recent(LIMIT) if wanted and wanted in c.case.casefold()]
        return found[:count]
