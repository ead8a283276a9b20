"""The operations console's Flow: per door, what came in and what became of it, now and over
the last hour or day (per-minute counts, `Metrics.minutes`), with end-to-end latency.

Totals are the counters `/metrics` renders, read from the same hash, so the page and Prometheus
agree; each figure names its metric. Latency percentiles are estimated from histogram buckets
as Prometheus's `histogram_quantile` does: linearly within the bucket the rank falls in, and the
last finite bound when it falls above it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from adapter.metrics import BUCKETS, SEP

DOORS: Final = ("http", "mllp", "backfill")
QUANTILES: Final = (0.5, 0.95, 0.99)
LATENCY: Final = "her2_end_to_end_seconds"


@dataclass(frozen=True, slots=True)
class Figure:
    """One count of the Flow table: what it is, its metric, and its value."""

    label: str
    metric: str
    meaning: str


# Each row of the Flow table; rows over a labelled metric add up its reasons.
FIGURES: Final = (
    Figure("received", "her2_messages_received_total", "every POST or MLLP frame"),
    Figure("accepted", "her2_messages_accepted_total", "checked and queued"),
    Figure("refused", "her2_messages_rejected_total", "answered with an error, not queued"),
    Figure("processed", "her2_jobs_processed_total", "jobs a worker finished"),
    Figure("written", "her2_reports_written_total", "reports written to the FHIR server"),
    Figure("retried", "her2_writeback_retries_total", "jobs retried after a transient fault"),
    Figure("dead-lettered", "her2_dead_lettered_total", "jobs that failed for good"),
)
WINDOWS: Final = {"hour": (60, 1), "day": (1440, 15)}  # minutes read, minutes per point


@dataclass(frozen=True, slots=True)
class Point:
    start: int  # epoch seconds of its first minute
    counts: Mapping[str, int]  # figure label -> count in the point's minutes
    latency: Mapping[float, float | None]  # quantile -> seconds (None: nothing finished)


@dataclass(frozen=True, slots=True)
class DoorFlow:
    door: str
    totals: Mapping[str, int]  # figure label -> total since the counters began
    reasons: Mapping[str, Mapping[str, int]]  # refused / dead-lettered -> reason -> total
    in_window: Mapping[str, int]  # figure label -> count in the window
    latency: Mapping[float, float | None]  # quantile -> seconds over the window
    points: tuple[Point, ...]


def door_flows(
    totals: Mapping[str, str], minutes: Sequence[tuple[int, Mapping[str, int]]], per_point: int
) -> list[DoorFlow]:
    """The Flow of each door that has counted anything (HTTP and MLLP always)."""
    # Each point's minutes added up once (a day is 96 points of 15 minutes), then read per door.
    points = [
        (minutes[i][0], _added(counts for _, counts in minutes[i : i + per_point]))
        for i in range(0, len(minutes), per_point)
    ]
    window = _added(counts for _, counts in points)
    flows = []
    for door in DOORS:
        counted = _by_figure(totals, door)
        if door == "backfill" and not any(counted.values()):
            continue
        flows.append(
            DoorFlow(
                door=door,
                totals={label: sum(r.values()) for label, r in counted.items()},
                reasons={
                    label: dict(sorted(counted[label].items()))
                    for label in ("refused", "dead-lettered")
                },
                in_window={label: sum(r.values()) for label, r in _by_figure(window, door).items()},
                latency=_quantiles(window, door),
                points=tuple(_point(start, counts, door) for start, counts in points),
            )
        )
    return flows


def quantile(q: float, in_buckets: Sequence[int], count: int) -> float | None:
    """The `q` quantile of `count` observations, `in_buckets[i]` of them at or below
    `BUCKETS[i]` and above the bound before (the rest above the last); None when count is 0."""
    if count <= 0:
        return None
    rank, below, lower = q * count, 0, 0.0
    for bound, inside in zip(BUCKETS, in_buckets, strict=True):
        if inside and below + inside >= rank:
            return lower + (bound - lower) * (rank - below) / inside
        below += inside
        lower = bound
    return BUCKETS[-1]


def _by_figure(fields: Mapping[str, object], door: str) -> dict[str, dict[str, int]]:
    """Figure label -> reason ("" for unlabelled) -> count, for `door`."""
    found: dict[str, dict[str, int]] = {figure.label: {} for figure in FIGURES}
    names = {figure.metric: figure.label for figure in FIGURES}
    for field, value in fields.items():
        name, _, values = field.partition("|")
        label = names.get(name)
        if label is None:
            continue
        door_and_reason = values.split(SEP)
        if door_and_reason[0] != door:
            continue
        reason = door_and_reason[1] if len(door_and_reason) > 1 else ""
        found[label][reason] = found[label].get(reason, 0) + int(float(str(value)))
    return found


def _added(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for each in counts:
        total.update(each)
    return dict(total)


def _point(start: int, counts: Mapping[str, int], door: str) -> Point:
    figures = {label: sum(r.values()) for label, r in _by_figure(counts, door).items()}
    return Point(start, figures, _quantiles(counts, door))


def _quantiles(counts: Mapping[str, int], door: str) -> dict[float, float | None]:
    in_buckets = [counts.get(f"{LATENCY}_in|{door}{SEP}{bound}", 0) for bound in BUCKETS]
    count = counts.get(f"{LATENCY}_count|{door}", 0)
    return {q: quantile(q, in_buckets, count) for q in QUANTILES}
