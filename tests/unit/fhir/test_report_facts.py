"""The adapter's reports read back for the QA report (qa-report-contract.md 3, 4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adapter.fhir.report_facts import (
    ENTERED_IN_ERROR,
    NO_QA_FACTS,
    NO_STATUS_OBSERVATION,
    ReportReader,
    report_pairs,
)
from adapter.interpretation.decision import Status
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import default_mappings
from tests.builders import ihc_observation, ish_observation
from tests.unit.fhir.outputs import RECORDED, case_outputs

READER = ReportReader(default_mappings())


def outputs(*resources: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(DiagnosticReport, status Observation) of a one-case message."""
    observation, report, _ = case_outputs(*resources)
    return report, observation


@pytest.mark.parametrize(
    ("ihc", "status"),
    [("3+", Status.POSITIVE), ("1+", Status.NEGATIVE), ("2+", Status.EQUIVOCAL)],
)
def test_status_of_each_answer(ihc: str, status: Status) -> None:
    facts = READER.read(*outputs(ihc_observation(ihc)))
    assert facts.figures is not None
    assert facts.figures.status is status


def test_pending_and_indeterminate() -> None:
    pending = READER.read(*outputs(ish_observation("1.6", her2="4.8", cep17="3.0")))
    failed = READER.read(*outputs(ihc_observation(valueString="unscorable")))
    assert pending.figures is not None
    assert pending.figures.status is Status.PENDING
    assert failed.figures is not None
    assert failed.figures.status is Status.INDETERMINATE


def test_a_report_s_case_laboratory_time_and_figures() -> None:
    report, obs = outputs(
        ihc_observation("1+", performer=[{"display": "Lab A"}], effectiveDateTime="2026-01-05"),
        ish_observation("1.6", her2="4.8", cep17="3.0"),
    )
    facts = READER.read(report, obs)
    assert facts.case == report["identifier"][0]["value"]
    assert (facts.laboratory, facts.time, facts.version) == ("Lab A", "2026-01-05", None)
    assert facts.issued == RECORDED
    assert facts.figures is not None
    assert facts.figures.site is SiteGroup.BREAST
    assert (facts.figures.ish_group, facts.figures.her2_low, facts.figures.ihc_score) == (
        4,
        True,
        "1+",
    )


def test_no_laboratory_no_effective_time() -> None:
    report, obs = outputs(ihc_observation("1+"))
    report["meta"]["versionId"] = "3"
    facts = READER.read(report, obs)
    assert (facts.laboratory, facts.time, facts.version) == ("unknown", report["issued"], 3)


def test_reports_that_are_not_counted() -> None:
    report, obs = outputs(ihc_observation("3+"))
    withdrawn = copy.deepcopy(report) | {"status": "entered-in-error"}
    assert READER.read(withdrawn, obs).not_counted == ENTERED_IN_ERROR
    assert READER.read(report, None).not_counted == NO_STATUS_OBSERVATION
    old = {k: v for k, v in obs.items() if k != "extension"}
    assert READER.read(report, old).not_counted == NO_QA_FACTS
    assert READER.read(report, old).figures is None


def test_pairs_by_the_shared_identifier_in_order() -> None:
    first, first_obs = outputs(ihc_observation("3+"))
    again, again_obs = outputs(ihc_observation("1+"))  # the same case: the same identifier
    other = {"resourceType": "DiagnosticReport", "identifier": [{"system": "urn:x", "value": "1"}]}
    pairs = list(report_pairs([first_obs, first, other, again, again_obs]))
    assert pairs == [(first, first_obs), (again, again_obs)]
    assert list(report_pairs([first])) == [(first, None)]
