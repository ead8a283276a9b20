"""The QA report as one self-contained HTML page (qa-report-contract.md 6): the table of every
row, a funnel plot per site (inline SVG, `funnel.py`) and the bands with their sources. No
external assets, no script; every text from the data is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from adapter.benchmarks import Benchmarks
from adapter.interpretation.model import SiteGroup
from adapter.qa.figures import ALL_LABS, COLUMNS, Row
from adapter.qa.funnel import funnel_svg
from adapter.qa.tabular import csv_cell

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
.rows { overflow-x: auto; }
table { border-collapse: collapse; font-size: 11px; }
th, td { border: 1px solid #ccc; padding: 2px 5px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; white-space: normal; vertical-align: bottom; }
td:nth-child(-n+3), td:last-child, th:nth-child(-n+3), th:last-child { text-align: left; }
tr.all td { font-weight: 600; background: #fafafa; }
tr.flagged td { background: #fdf3f3; }
tr.flagged td:last-child { color: #b2182b; font-weight: 600; }
figure { display: inline-block; vertical-align: top; margin: 8px 24px 8px 0; }
"""


def html_page(
    rows: Sequence[Row], benchmarks: Benchmarks, granularity: str, generated: datetime
) -> str:
    sites = list(dict.fromkeys(row.site for row in rows))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>HER2 laboratory QA report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>HER2 laboratory QA report</h1>",
        f"<p>Periods by {escape(granularity)}; generated {generated:%Y-%m-%d %H:%M} UTC. "
        "Each case counted once, by its latest report. Positivity = positive / decided "
        "(positive + negative), with its Wilson 95% interval.</p>",
        _table(rows),
        "<h2>Funnel plots</h2>",
    ]
    for site in sites:
        band = benchmarks.band("positive_pct", site)
        labs = [r for r in rows if r.site is site and r.lab != ALL_LABS]
        title = f"{site.value}: positivity against decided cases"
        parts.append(f"<figure>{funnel_svg(title, labs, band)}")
        parts.append(f"<figcaption>{escape(title)}</figcaption></figure>")
    parts += [_sources(benchmarks, sites), "</body></html>"]
    return "\n".join(parts) + "\n"


def _table(rows: Sequence[Row]) -> str:
    # a long column name may break after its underscores: the table fits a laptop's width
    head = "".join(f"<th>{escape(column).replace('_', '_<wbr>')}</th>" for column in COLUMNS)
    lines = [f'<div class="rows"><table><thead><tr>{head}</tr></thead><tbody>']
    for row in rows:
        classes = " ".join(
            c for c, on in (("all", row.lab == ALL_LABS), ("flagged", row.flags)) if on
        )
        cells = "".join(f"<td>{escape(csv_cell(v))}</td>" for v in row.values().values())
        lines.append(f'<tr class="{classes}">{cells}</tr>')
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def _sources(benchmarks: Benchmarks, sites: Sequence[SiteGroup]) -> str:
    items = [
        f"<li>{escape(b.figure)}, {escape(b.site.value)}: "
        f"{escape(_range(b.low, b.high))} ({escape(b.derivation)}). {escape(b.source)}</li>"
        for b in benchmarks.bands
        if b.site in sites
    ]
    small = benchmarks.small_sample
    items.append(
        f"<li>small-sample: fewer than {small.decided_below} decided cases "
        f"({escape(small.source)}).</li>"
    )
    return "<h2>Benchmark bands</h2><ul>" + "".join(items) + "</ul>"


def _range(low: object, high: object) -> str:
    if low is None:
        return f"at most {high}%"
    if high is None:
        return f"at least {low}%"
    return f"{low}% to {high}%"
