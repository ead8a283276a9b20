"""The laboratory of a case (qa-report-contract.md 2) and the report's `performer`."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.fhir.case import Laboratory
from adapter.fhir.findings import read_message
from adapter.fhir.laboratory import performer_reference
from adapter.mapping_files import default_mappings
from tests.builders import her2_bundle, ihc_observation, ish_observation
from tests.unit.fhir.outputs import case_outputs

LAB_A = {"resourceType": "Organization", "id": "lab-a", "name": "Lab A"}


def laboratory_of(*resources: dict[str, Any], urn: bool = False) -> Laboratory | None:
    message = her2_bundle(*resources, urn=urn) if len(resources) > 1 else resources[0]
    (case,) = read_message(message, default_mappings()).cases
    return case.laboratory


def header(sender: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MessageHeader",
        "id": "h",
        "eventCoding": {"system": "urn:example:events", "code": "result"},
        "source": {"endpoint": "urn:example:lis"},
        "sender": sender,
    }


def test_performer_identifier_comes_first() -> None:
    performer = {
        "reference": "Organization/lab-a",
        "identifier": {"system": "urn:example:labs", "value": "LAB-A"},
        "display": "Lab A",
    }
    lab = laboratory_of(ihc_observation("2+", performer=[performer]))
    assert lab == Laboratory("LAB-A", "urn:example:labs", "Lab A")


def test_a_referenced_organization_in_the_bundle_gives_its_first_identifier() -> None:
    organization = LAB_A | {"identifier": [{"system": "urn:x"}, {"value": "CLIA-05D1234567"}]}
    ihc = ihc_observation("1+", performer=[{"reference": "urn:uuid:lab-a"}])
    lab = laboratory_of(ihc, organization, urn=True)
    # the Organization's name is shown beside its identifier
    assert lab == Laboratory("CLIA-05D1234567", None, "Lab A")


def test_display_then_the_reference() -> None:
    assert laboratory_of(ihc_observation("0", performer=[{"display": "Lab B"}])) == Laboratory(
        display="Lab B"
    )
    only_reference = ihc_observation("0", performer=[{"reference": "Organization/x9"}])
    assert laboratory_of(only_reference) == Laboratory(display="Organization/x9")


def test_a_practitioner_performer_is_not_a_laboratory() -> None:
    practitioner = {"reference": "Practitioner/dr", "display": "Dr Who"}
    typed = {"type": "PractitionerRole", "display": "Reader"}
    lab = laboratory_of(ihc_observation("3+", performer=[practitioner, typed, {"display": "L"}]))
    assert lab == Laboratory(display="L")


def test_without_performer_the_message_headers_sender() -> None:
    sender = {"reference": "Organization/lab-a"}
    lab = laboratory_of(header(sender), ihc_observation("2+"), LAB_A)
    assert lab == Laboratory(display="Lab A")


def test_nothing_names_a_laboratory() -> None:
    assert laboratory_of(ihc_observation("2+")) is None


def test_inputs_of_two_laboratories_take_the_earliest_results() -> None:
    ihc = ihc_observation(
        "2+", performer=[{"display": "Z first lab"}], effectiveDateTime="2026-01-02"
    )
    ish = ish_observation(
        "2.5", her2="6.1", performer=[{"display": "A reference lab"}], issued="2026-01-20T10:00:00Z"
    )
    assert laboratory_of(ish, ihc) == Laboratory(display="Z first lab")


@pytest.mark.parametrize(
    "laboratory",
    [
        Laboratory("LAB-A", "urn:example:labs", "Lab A"),
        Laboratory("LAB-A"),
        Laboratory(display="Lab B"),
    ],
)
def test_the_written_performer_reads_back_as_the_same_laboratory(laboratory: Laboratory) -> None:
    performer = performer_reference(laboratory)
    assert performer["type"] == "Organization"
    assert laboratory_of(ihc_observation("1+", performer=[performer])) == laboratory


def test_report_and_status_observation_carry_performer_and_time() -> None:
    ihc = ihc_observation(
        "3+", performer=[{"display": "Lab B"}], effectiveDateTime="2025-11-03T09:00:00+01:00"
    )
    obs, report, _ = case_outputs(ihc)
    for resource in (obs, report):
        assert resource["performer"] == [{"type": "Organization", "display": "Lab B"}]
        assert resource["effectiveDateTime"] == "2025-11-03T09:00:00+01:00"
