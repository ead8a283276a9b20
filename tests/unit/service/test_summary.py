"""The one-line text form of a case (`--format text`), from what the core decided with."""

from __future__ import annotations

from adapter.fhir.case import Case
from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import Her2Findings, ResultStatus
from adapter.service.summary import summary_line
from tests.unit.interpretation.facts import findings


def line(facts: Her2Findings) -> str:
    case = Case("specimen|Specimen/s1", facts, None, None, ("Observation/first",))
    return summary_line(case, interpret(facts))


def test_line_shows_status_ihc_ish_numbers_group_category_and_flags() -> None:
    assert line(findings(ihc_="1+", ratio="1.99", her2="4.8", cep17="2.41")) == (
        "specimen|Specimen/s1: Negative; site breast; IHC 1+; "
        "ISH ratio 1.99, HER2 4.8 per cell, CEP17 2.41 per cell; group 4; HER2-low; no flags"
    )


def test_pending_shows_next_step_and_each_reading_of_an_open_bound() -> None:
    text = line(findings(site=None, ihc_="1+", ratio="<= 2.0", her2="5.0"))
    assert text.startswith(
        "specimen|Specimen/s1: Pending (next step dual-probe-ish); site breast (assumed); "
    )
    assert "IHC 1+; ISH ratio < 2.0 (reported <= 2.0), HER2 5.0 per cell" in text
    assert " / IHC 1+; ISH ratio >= 2.0 (reported <= 2.0)" in text
    assert text.endswith("; no ISH group; no category; flags site-assumed, bound-not-decisive")


def test_superseded_values_are_not_shown_and_preliminary_is() -> None:
    text = line(
        findings(
            ihc_=[
                ("3+", ResultStatus.FINAL, "2024-03-03"),
                ("2+", ResultStatus.PRELIMINARY, "2024-03-05"),
            ]
        )
    )
    assert "IHC 3+" in text
    assert "IHC 2+" not in text


def test_computed_ratio_is_shown_to_four_decimals_and_marked() -> None:
    text = line(findings(ihc_="2+", her2="5.99", cep17="3.0"))
    assert "ISH ratio 1.9967 (computed: 5.99 / 3.0), HER2 5.99 per cell" in text


def test_failed_and_unscored_values_read_plainly() -> None:
    text = line(findings(ihc_="unsc-", call_="failed"))
    assert "IHC 0 or 1+ (no score reported); ISH failed;" in text
