"""The rows the QA report must print for a population, computed here from the generated
composition, with a Wilson interval written independently of adapter/qa/figures.py."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from tests.qa.population import FLAGS, Case, expected_counts

Z: Final = 1.959963984540054  # the 0.975 quantile of the standard normal distribution


def wilson_reference(positive: int, n: int) -> tuple[float, float]:
    """The roots p of (p - x/n)^2 = Z^2 p (1 - p) / n: the Wilson score interval."""
    phat = positive / n
    a = 1 + Z * Z / n
    b = -(2 * phat + Z * Z / n)
    c = phat * phat
    root = math.sqrt(max(0.0, b * b - 4 * a * c))
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def one_decimal(value: float | Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def share(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return ""
    return one_decimal(Decimal(100 * numerator) / Decimal(denominator))


def expected_rows(cases: list[Case]) -> list[dict[str, str]]:
    """The CSV rows, as strings, in the contract's order."""
    rows = []
    for (lab, site, period), c in expected_counts(cases).items():
        decided = c["positive"] + c["negative"]
        low = high = ""
        if decided:
            interval = wilson_reference(c["positive"], decided)
            low, high = one_decimal(100 * interval[0]), one_decimal(100 * interval[1])
        breast = site == "breast"
        rows.append(
            {
                "lab": lab,
                "site": site,
                "period": period,
                "cases": str(c["cases"]),
                **{s: str(c[s]) for s in ("positive", "negative", "equivocal", "pending")},
                "indeterminate": str(c["indeterminate"]),
                "decided": str(decided),
                "positive_pct": share(c["positive"], decided),
                "positive_ci_low": low,
                "positive_ci_high": high,
                "ihc_2plus_pct": share(c["ihc_2plus"], c["ihc_scored"]),
                "dual_probe_ish": str(c["dual"]),
                "ish_group_2_4_pct": share(c["group_2_4"], c["dual"]) if breast else "",
                "discordant_pct": share(c["discordant"], c["both"]),
                "her2_low_pct": share(c["her2_low"], c["negative"]) if breast else "",
                "status_differs_pct": share(c["differs"], c["reported"]),
                "flags": ";".join(FLAGS.get((lab, site, period), ())),
            }
        )
    rows.sort(key=lambda r: (r["period"], r["site"], r["lab"] == "all", r["lab"]))
    return rows
