"""Builders of core facts for tests: short strings in, `Her2Findings` out.

ihc("2+"), ihc("0 ultralow"), ihc("unsc+"), ihc("failed")
number("1.99"), number("<= 2.0")
findings(site="breast", ihc="2+", ratio="1.8", her2="6.0", recount={"ratio": ...})
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapter.interpretation.model import (
    FAILED,
    Comparator,
    FailedTest,
    Her2Findings,
    IhcScore,
    IhcSubclass,
    IhcValue,
    IshCall,
    IshCount,
    Number,
    Reported,
    ReportedStatus,
    ResultStatus,
    SiteGroup,
    Source,
    TumourSite,
)

SCORES = {s.value: s for s in IhcScore}
UNSCORED = {
    "unsc+": IhcValue(IhcScore.THREE, score_reported=False),
    "unsc-": IhcValue(IhcScore.ZERO_OR_ONE, score_reported=False),
    "unsc?": IhcValue(IhcScore.TWO, score_reported=False),
}
ORGANS = {
    "breast": SiteGroup.BREAST,
    "stomach": SiteGroup.GASTRIC,
    "GEJ": SiteGroup.GASTRIC,
    "oesophagus": SiteGroup.GASTRIC,
    "gastric": SiteGroup.GASTRIC,
    "colon": SiteGroup.OTHER,
    "lung": SiteGroup.OTHER,
    "endometrium": SiteGroup.OTHER,
    "other": SiteGroup.OTHER,
}
_counter = iter(range(1_000_000))


def source(status: ResultStatus = ResultStatus.FINAL, issued: str | None = None) -> Source:
    when = datetime.fromisoformat(issued).replace(tzinfo=UTC) if issued else None
    return Source(f"Observation/o{next(_counter)}", status, when)


def ihc(text: str) -> IhcValue | FailedTest:
    if text == "failed":
        return FAILED
    if text in UNSCORED:
        return UNSCORED[text]
    score, _, sub = text.partition(" ")
    return IhcValue(SCORES[score], IhcSubclass(sub) if sub else None)


def number(text: str) -> Number | FailedTest:
    if text == "failed":
        return FAILED
    for comparator in sorted(Comparator, key=lambda c: -len(c.value)):
        if text.startswith(comparator.value):
            return Number(Decimal(text[len(comparator.value) :].strip()), comparator)
    return Number(Decimal(text))


def call(text: str) -> IshCall | FailedTest:
    return FAILED if text == "failed" else IshCall(text)


def _many(spec: Any, parse: Any) -> tuple[Reported[Any], ...]:
    """A value, or a list of (value, status, issued) for several reports of one measure."""
    if spec is None:
        return ()
    if isinstance(spec, list):
        return tuple(Reported(parse(v), source(st, when)) for v, st, when in spec)
    return (Reported(parse(spec), source()),)


def count(ratio: Any = None, her2: Any = None, cep17: Any = None, call_: Any = None) -> IshCount:
    return IshCount(
        ratio=_many(ratio, number),
        her2_per_cell=_many(her2, number),
        cep17_per_cell=_many(cep17, number),
        call=_many(call_, call),
    )


def findings(
    site: str | None = "breast",
    ihc_: Any = None,
    ratio: Any = None,
    her2: Any = None,
    cep17: Any = None,
    call_: Any = None,
    recount: dict[str, Any] | None = None,
    reported: str | None = None,
    overridden: bool = False,
) -> Her2Findings:
    place = (
        TumourSite(SiteGroup.BREAST, assumed=True)
        if site is None
        else TumourSite(ORGANS[site], organ=site, overridden=overridden)
    )
    return Her2Findings(
        site=place,
        ihc=_many(ihc_, ihc),
        first_count=count(ratio, her2, cep17, call_),
        recount=count(**recount) if recount else IshCount(),
        reported_status=_many(reported, ReportedStatus),
    )
