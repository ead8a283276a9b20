"""A funnel plot per site as inline SVG (qa-report-contract.md 6): each laboratory's positivity
against its decided cases, the benchmark band, and the band's 95% and 99.8% control limits.

The limits widen the band by z x sqrt(p (1 - p) / n) at each number of decided cases n (normal
approximation; z = 1.96 and 3.09), from its upper edge upwards and its lower edge downwards: a
laboratory above the upper 95% limit is, roughly, one whose whole 95% interval lies above the
band (the `positivity-high` flag). Text is escaped; nothing but laboratories and counts is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from statistics import NormalDist
from typing import Final

from adapter.benchmarks import Band
from adapter.qa.figures import Z_95, Row

Z_998: Final = NormalDist().inv_cdf(0.999)
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 96
BAND_GREEN: Final = "#1b7837"
COLOURS: Final = {"positivity-high": "#b2182b", "positivity-low": "#2166ac"}
LIMITS: Final = ((Z_95, "6 4", "95% control limits"), (Z_998, "2 3", "99.8% control limits"))


@dataclass(frozen=True, slots=True)
class _Scale:
    """Decided cases (x) and positivity in percent (y) -> SVG coordinates."""

    x_max: float
    y_max: float

    def x(self, cases: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * cases / self.x_max

    def y(self, percent: float) -> float:
        clipped = max(0.0, min(percent, self.y_max))
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - clipped / self.y_max)


def funnel_svg(title: str, rows: Sequence[Row], band: Band | None) -> str:
    """One site's funnel plot; `rows` are its laboratories' rows (not the `all` rows)."""
    points = [r for r in rows if r.positive_pct is not None]
    most = max([30, *(r.counts.decided for r in points)])
    highest = max([40.0, *(float(r.positive_pct or 0) for r in points)])
    if band is not None and band.high is not None:
        highest = max(highest, 1.6 * float(band.high))
    scale = _Scale(_nice(most * 1.1), min(100.0, math.ceil(highest / 10) * 10))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="#fff" stroke="#999"/>',
        *_band(scale, band),
        *_axes(scale),
        *(_point(scale, row) for row in points),
        *_legend(band),
        "</svg>",
    ]
    return "\n".join(parts)


def _band(scale: _Scale, band: Band | None) -> list[str]:
    if band is None or band.low is None or band.high is None:
        return []
    low, high, centre = float(band.low), float(band.high), float(band.centre)
    parts = [
        f'<rect x="{scale.x(0):.1f}" y="{scale.y(high):.1f}" '
        f'width="{scale.x(scale.x_max) - scale.x(0):.1f}" '
        f'height="{scale.y(low) - scale.y(high):.1f}" fill="#d9f0d3"/>',
        f'<line x1="{scale.x(0):.1f}" x2="{scale.x(scale.x_max):.1f}" y1="{scale.y(centre):.1f}" '
        f'y2="{scale.y(centre):.1f}" stroke="{BAND_GREEN}" stroke-width="1"/>',
    ]
    for z, dash, _ in LIMITS:
        parts += [_limit(scale, high, z, +1, dash), _limit(scale, low, z, -1, dash)]
    return parts


def _limit(scale: _Scale, edge: float, z: float, side: int, dash: str) -> str:
    """The control limit of a band edge (percent) over 1 .. x_max decided cases."""
    p = edge / 100
    coordinates = []
    for step in range(121):
        n = max(1.0, scale.x_max ** (step / 120))  # denser at small n, where the funnel bends
        limit = 100 * (p + side * z * math.sqrt(p * (1 - p) / n))
        coordinates.append(f"{scale.x(n):.1f},{scale.y(limit):.1f}")
    return (
        f'<polyline points="{" ".join(coordinates)}" fill="none" stroke="{BAND_GREEN}" '
        f'stroke-width="1.2" stroke-dasharray="{dash}"/>'
    )


def _point(scale: _Scale, row: Row) -> str:
    n, p = row.counts.decided, float(row.positive_pct or 0)
    colour = next((COLOURS[f] for f in row.flags if f in COLOURS), "#444")
    fill = "#fff" if "small-sample" in row.flags else colour  # hollow: too few to judge
    tip = f"{row.lab}, {row.period}: {row.counts.positive} of {n} decided positive ({p}%)"
    return (
        f"<g><title>{escape(tip)}</title>"
        f'<circle cx="{scale.x(n):.1f}" cy="{scale.y(p):.1f}" r="4" fill="{fill}" '
        f'stroke="{colour}" stroke-width="1.5"/>'
        f'<text x="{scale.x(n) + 6:.1f}" y="{scale.y(p) - 6:.1f}" font-size="10" '
        f'fill="{colour}">{escape(f"{row.lab} {row.period}")}</text></g>'
    )


def _axes(scale: _Scale) -> list[str]:
    bottom, parts = HEIGHT - BOTTOM, []
    for i in range(6):
        cases = scale.x_max * i / 5
        parts.append(
            f'<text x="{scale.x(cases):.1f}" y="{bottom + 16}" font-size="11" '
            f'text-anchor="middle">{cases:g}</text>'
        )
    for percent in range(0, int(scale.y_max) + 1, 10):
        parts.append(
            f'<text x="{LEFT - 6}" y="{scale.y(percent) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{percent}%</text>'
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{bottom + 34}" font-size="12" '
        'text-anchor="middle">decided cases (positive + negative)</text>'
    )
    parts.append(
        f'<text x="14" y="{(TOP + bottom) / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + bottom) / 2})">HER2 positive</text>'
    )
    return parts


def _legend(band: Band | None) -> list[str]:
    y = HEIGHT - 30
    if band is None:
        return [f'<text x="{LEFT}" y="{y}" font-size="11">no benchmark band for this site</text>']
    parts = [
        f'<rect x="{LEFT}" y="{y - 9}" width="18" height="10" fill="#d9f0d3"/>',
        f'<text x="{LEFT + 24}" y="{y}" font-size="11">band {band.low}-{band.high}%</text>',
    ]
    for i, (_, dash, label) in enumerate(LIMITS):
        x = LEFT + 150 + 170 * i
        parts.append(
            f'<line x1="{x}" x2="{x + 24}" y1="{y - 4}" y2="{y - 4}" stroke="{BAND_GREEN}" '
            f'stroke-dasharray="{dash}"/><text x="{x + 30}" y="{y}" font-size="11">{label}</text>'
        )
    parts.append(
        f'<text x="{LEFT}" y="{y + 18}" font-size="11">red: positivity-high, blue: '
        "positivity-low; hollow: small sample</text>"
    )
    return parts


def _nice(value: float) -> float:
    """A round axis end at or above `value` (1, 2 or 5 times a power of ten, x 5 ticks)."""
    step = value / 5
    power: float = 10.0 ** math.floor(math.log10(step))
    return 5 * next(m * power for m in (1, 2, 5, 10) if m * power >= step)
