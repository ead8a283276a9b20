"""The pure parts of scripts/bench.py: percentiles, figures against their targets, the table.

No I/O and no clock here, so tests/unit/test_bench_report.py can check them without a run.
A figure is a measured value; a `Target` reads it either alone (p99 < 10 ms) or as a ratio to
a baseline measured in the same run (service >= 0.5x baseline A): benchmarks print ratios,
never absolute pass/fail timings (STYLE.md 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Compare = Literal[">=", "<=", "<"]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks.

    Raises ValueError on an empty sequence or p outside 0..100.
    """
    if not values:
        raise ValueError("no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Target:
    """`value <compare> bound`, or `value / baseline <compare> bound` when `baseline` is set."""

    compare: Compare
    bound: float
    baseline: str | None = None  # name of the figure the value is divided by

    def describe(self) -> str:
        return f"{self.compare} {self.bound:g}" + ("x" if self.baseline else "")


@dataclass(slots=True)
class Figure:
    name: str
    value: float | None  # None: not measured (not available, or the step failed)
    unit: str
    target: Target | None = None
    note: str = ""


@dataclass(slots=True)
class Row:
    name: str
    value: float | None
    unit: str
    baseline: str | None
    ratio: float | None
    target: str
    met: bool | None  # None: no target, or nothing to compare
    note: str


@dataclass(slots=True)
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def value(self, name: str) -> float | None:
        return next((f.value for f in self.figures if f.name == name), None)

    def rows(self) -> list[Row]:
        return [self._row(f) for f in self.figures]

    def _row(self, figure: Figure) -> Row:
        target = figure.target
        base = self.value(target.baseline) if target and target.baseline else None
        ratio = figure.value / base if figure.value is not None and base else None
        compared = ratio if target and target.baseline else figure.value
        met = None
        if target is not None and compared is not None:
            met = {
                ">=": compared >= target.bound,
                "<=": compared <= target.bound,
                "<": compared < target.bound,
            }[target.compare]
        return Row(
            name=figure.name,
            value=figure.value,
            unit=figure.unit,
            baseline=target.baseline if target else None,
            ratio=ratio,
            target=target.describe() if target else "",
            met=met,
            note=figure.note,
        )

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "figure": r.name,
                "value": r.value,
                "unit": r.unit,
                "baseline": r.baseline,
                "ratio": r.ratio,
                "target": r.target or None,
                "met": r.met,
                "note": r.note or None,
            }
            for r in self.rows()
        ]


def number(value: float | None) -> str:
    """A figure as the table shows it: 3 significant digits, thousands grouped."""
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(report: Report) -> str:
    """The plain-text table: figure, value, baseline, ratio, target, met?"""
    header = ("figure", "value", "unit", "baseline", "ratio", "target", "met?")
    lines = [header]
    notes = []
    for row in report.rows():
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(
            (
                row.name,
                number(row.value),
                row.unit,
                row.baseline or "-",
                ratio,
                row.target or "-",
                met,
            )
        )
        if row.note:
            notes.append(f"  {row.name}: {row.note}")
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(w) if i in (0, 2, 3, 5) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text + (["", "notes:", *notes] if notes else []))


def summary(reports: Sequence[Report]) -> str:
    """Every figure with a target across runs: its ratio (or value) and met? in each run that
    measured it, and whether every one of those runs met it. A figure's name that starts with
    a number (its target's in the issue) sorts by it."""
    header = ["target", *(f"run {n}" for n in range(1, len(reports) + 1)), "every run"]
    lines = [header]
    names = list(dict.fromkeys(f.name for r in reports for f in r.figures if f.target))
    names.sort(key=lambda name: name.split(" ", 1)[0])  # "1 CPU ...": by the target
    for name in names:
        cells, verdicts = [], []
        for report in reports:
            row = next((r for r in report.rows() if r.name == name), None)
            if row is None or row.met is None:
                cells.append("-")
                continue
            shown = (
                f"{row.ratio:.2f}x" if row.ratio is not None else f"{number(row.value)} {row.unit}"
            )
            cells.append(f"{shown} {'yes' if row.met else 'NO'}")
            verdicts.append(row.met)
        every = "-" if not verdicts else ("yes" if all(verdicts) else "NO")
        target = next(f.target for r in reports for f in r.figures if f.name == name)
        assert target is not None
        lines.append([f"{name} ({target.describe()})", *cells, every])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(line, widths, strict=True))) for line in lines]  # fmt: skip
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)
