"""Line charts as inline SVG, drawn on the server: the console plots without any script.

Each chart is an `<svg role="img">` with a title and a description a screen reader reads (the
latest value of each line); colours come from the stylesheet by class (`series-0`...), so the
Content-Security-Policy needs no inline style. The page keeps the figures themselves in tables:
a chart shows their shape over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from markupsafe import Markup, escape

WIDTH: Final = 600
HEIGHT: Final = 170
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 22  # room for the axis labels


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    values: Sequence[float | None]  # one per point; None: no value (a gap)


def line_chart(title: str, unit: str, starts: Sequence[int], lines: Sequence[Line]) -> Markup:
    """An SVG chart of `lines` over the points starting at `starts` (epoch seconds)."""
    known = [v for line in lines for v in line.values if v is not None]
    top = _ceiling(max(known, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(starts) - 1, 1)

    def y(value: float) -> float:
        return TOP + plot_h - (value / top) * plot_h if top else TOP + plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(_latest(lines, unit))}</desc>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">'
        f"{escape(_number(top))} {escape(unit)}</text>",
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    if starts:
        parts += [
            f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">{_clock(starts[0])}</text>',
            f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
            f"{_clock(starts[-1])} UTC</text>",
        ]
    for index, line in enumerate(lines):
        for run in _runs(line.values):
            if len(run) == 1:  # a value between two gaps: a dot, as a line would not show
                ((i, v),) = run
                parts.append(
                    f'<circle class="series-{index}" cx="{LEFT + i * step:.1f}" cy="{y(v):.1f}" '
                    'r="3"/>'
                )
                continue
            points = " ".join(f"{LEFT + i * step:.1f},{y(v):.1f}" for i, v in run)
            parts.append(f'<polyline class="series-{index}" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive known values (a gap breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((i, value))
    return [run for run in runs if run]


def _latest(lines: Sequence[Line], unit: str) -> str:
    said = []
    for line in lines:
        last = next((v for v in reversed(line.values) if v is not None), None)
        said.append(f"{line.name}: " + ("none" if last is None else f"{_number(last)} {unit}"))
    return "latest: " + "; ".join(said)


def _ceiling(value: float) -> float:
    """A round top for the axis at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 0.0
    scale = 10.0 ** (len(str(int(value))) - 1) if value >= 1 else 0.001
    while True:
        for factor in (1, 2, 5):
            if factor * scale >= value:
                return factor * scale
        scale *= 10


def _number(value: float) -> str:
    return f"{value:.3g}"


def _clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M")
