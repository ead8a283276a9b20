"""The one-line text form of a case (`--format text`)."""

from __future__ import annotations

from decimal import Decimal

from adapter.case import Case
from adapter.interpretation import model as m
from adapter.summary import summary_line

FIRST = m.Source("Observation/first", m.ResultStatus.FINAL)
LATER = m.Source("Observation/amended", m.ResultStatus.AMENDED)


def number(text: str, comparator: m.Comparator | None = None) -> m.Number:
    return m.Number(Decimal(text), comparator)


def interpretation(findings: m.Her2Findings, **changes: object) -> m.Interpretation:
    values: dict[str, object] = {
        "status": m.Status.NEGATIVE,
        "next_step": None,
        "ish_group": m.IshGroup.G4,
        "category": m.Category.HER2_LOW,
        "flags": (),
        "comments": (),
        "trace": (),
        "facts": (),
        "site": findings.site,
        "preliminary": False,
        "sources": (),
    }
    values.update(changes)
    return m.Interpretation(**values)  # type: ignore[arg-type]


def case(findings: m.Her2Findings) -> Case:
    return Case("specimen|Specimen/s1", findings, None, None, ("Observation/first",))


BREAST = m.TumourSite(m.SiteGroup.BREAST)


def test_line_shows_status_ihc_ish_numbers_group_category_and_flags() -> None:
    findings = m.Her2Findings(
        site=BREAST,
        ihc=(m.Reported(m.IhcValue(m.IhcScore.ONE), FIRST),),
        first_count=m.IshCount(
            ratio=(m.Reported(number("1.99"), FIRST),),
            her2_per_cell=(m.Reported(number("4.8"), FIRST),),
            cep17_per_cell=(m.Reported(number("2.41"), FIRST),),
        ),
    )
    line = summary_line(case(findings), interpretation(findings))
    assert line == (
        "specimen|Specimen/s1: Negative; site breast; IHC 1+; "
        "ISH ratio 1.99, HER2 4.8/cell, CEP17 2.41/cell; group 4; HER2-low; no flags"
    )


def test_pending_shows_next_step_and_only_the_values_the_decision_used() -> None:
    findings = m.Her2Findings(
        site=m.TumourSite(m.SiteGroup.BREAST, assumed=True),
        ihc=(
            m.Reported(m.IhcValue(m.IhcScore.ONE), FIRST),
            m.Reported(m.IhcValue(m.IhcScore.TWO), LATER),
        ),
        first_count=m.IshCount(ratio=(m.Reported(number("2.2", m.Comparator.LT), LATER),)),
    )
    interp = interpretation(
        findings,
        status=m.Status.PENDING,
        next_step=m.NextStep.HER2_AVERAGE,
        ish_group=None,
        category=None,
        flags=(m.Flag.SITE_ASSUMED,),
        preliminary=True,
        sources=("Observation/amended",),
    )
    line = summary_line(case(findings), interp)
    assert line.startswith(
        "specimen|Specimen/s1: Pending (next step her2-average), preliminary; site breast (assumed)"
    )
    assert "IHC 2+;" in line
    assert "IHC 1+" not in line
    assert "ISH ratio < 2.2;" in line
    assert line.endswith("; no ISH group; no category; flags site-assumed")


def test_computed_ratio_is_shown_to_four_decimals_and_marked() -> None:
    findings = m.Her2Findings(
        site=BREAST,
        first_count=m.IshCount(
            her2_per_cell=(m.Reported(number("5.99"), FIRST),),
            cep17_per_cell=(m.Reported(number("3.0"), FIRST),),
        ),
    )
    interp = interpretation(findings, flags=(m.Flag.RATIO_COMPUTED,))
    assert "ISH ratio 1.9967 (computed), HER2 5.99/cell" in summary_line(case(findings), interp)


def test_failed_and_unscored_values_and_no_ish_read_plainly() -> None:
    findings = m.Her2Findings(
        site=BREAST,
        ihc=(m.Reported(m.IhcValue(m.IhcScore.ZERO_OR_ONE, score_reported=False), FIRST),),
        recount=m.IshCount(call=(m.Reported(m.FAILED, FIRST),)),
    )
    line = summary_line(case(findings), interpretation(findings, category=None))
    assert "IHC 0 or 1+ (unscored answer); ISH none; recount failed;" in line
