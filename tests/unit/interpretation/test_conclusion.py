"""The conclusion text: what the pathologist reads and signs."""

from __future__ import annotations

from adapter.interpretation.conclusion import conclusion_text
from adapter.interpretation.interpret import interpret
from tests.unit.interpretation.facts import findings


def test_pending_opens_with_pending_and_the_next_step() -> None:
    result = interpret(findings(ihc_="2+", ratio="2.2", her2="3.8"))
    assert conclusion_text(result).startswith("HER2 status pending: a blinded recount")
    assert not [c for c in result.comments if c.key.startswith("group-")]  # Q5


def test_negative_group_4_carries_the_group_comment_and_the_2023_comment() -> None:
    text = conclusion_text(interpret(findings(ihc_="1+", ratio="1.99", her2="5.0")))
    assert text.startswith("HER2 status: NEGATIVE.")
    assert "ISH group 4 (ASCO/CAP 2018):" in text
    assert "HER2-low (IHC 1+, or IHC 2+ with negative ISH)" in text
    assert "HER2-low (a reporting comment, not a status)" in text
    assert "Figure 6" in text


def test_group_comment_is_not_given_to_a_positive_case() -> None:  # her2-reference.md Q5
    result = interpret(findings(ihc_="3+", ratio="2.2", her2="3.8"))
    text = conclusion_text(result)
    assert "ISH group 2 (ASCO/CAP 2018, Figure 3)." in text  # the group is named ...
    assert "ISH group 2 (ASCO/CAP 2018):" not in text  # ... without its negative comment
    assert not [c for c in result.comments if c.key.startswith("group-")]


def test_computed_ratio_is_shown_to_four_decimals_and_marked_computed() -> None:
    text = conclusion_text(interpret(findings(ihc_="2+", her2="5.99", cep17="3.0")))
    assert "1.9967 (computed: 5.99 / 3.0)" in text


def test_ultralow_negative_names_the_2025_indication_and_not_the_2023_comment() -> None:
    result = interpret(findings(ihc_="0 ultralow"))
    keys = [c.key for c in result.comments]
    assert "her2-ultralow-2025" in keys
    assert "her2-low-2023" not in keys


def test_unscored_negative_says_a_score_is_needed() -> None:
    result = interpret(findings(site=None, ihc_="unsc-"))
    assert [c.key for c in result.comments] == ["ihc-score-needed"]


def test_oesophagus_says_rules_assume_adenocarcinoma() -> None:
    result = interpret(findings(site="oesophagus", ihc_="1+"))
    assert "oesophageal-adenocarcinoma" in [c.key for c in result.comments]


def test_other_site_names_the_tumour_agnostic_practice_and_the_ihc_3_basis() -> None:
    result = interpret(findings(site="colon", ihc_="1+", ratio="2.5", her2="6.0"))
    keys = [c.key for c in result.comments]
    assert "tumour-agnostic-practice" in keys
    assert "tumour-agnostic-ihc-3" in keys


def test_every_rule_in_the_trace_cites_a_source() -> None:
    result = interpret(findings(ihc_="2+", ratio="1.8", her2="6.01", recount={"ratio": "1.7"}))
    assert result.trace
    assert all(str(rule.citation) for rule in result.trace)


def test_failed_test_is_named() -> None:
    result = interpret(findings(ihc_="2+", call_="failed"))
    assert "failed-ish" in [c.key for c in result.comments]
