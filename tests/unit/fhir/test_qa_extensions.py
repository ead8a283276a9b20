"""The status Observation carries what the QA report counts, in coded form, and reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.structuredefinition import StructureDefinition

from adapter.fhir import qa_extensions as qa
from adapter.fhir.observations import read_observation
from adapter.fhir.validation import Entry
from adapter.fhir.values import Measure
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import default_mappings
from adapter.qa.measure_report import FLAG_URL
from tests.builders import (
    LOINC,
    SCT,
    ihc_observation,
    ish_observation,
    observation,
    quantity,
    specimen,
)
from tests.unit.fhir.outputs import case_outputs

DOCS = Path(__file__).resolve().parents[3] / "docs" / "fhir"
STOMACH = {"coding": [{"system": SCT, "code": "69695003"}]}


def status_observation(*resources: dict[str, Any]) -> dict[str, Any]:
    return case_outputs(*resources)[0]


def facts(*resources: dict[str, Any]) -> qa.CodedFacts:
    return qa.read_qa_extensions(status_observation(*resources))


def test_ihc_2_plus_and_a_dual_probe_ratio_in_breast() -> None:
    got = facts(ihc_observation("2+"), ish_observation("2.5", her2="6.1", cep17="2.4"))
    assert got == qa.CodedFacts(SiteGroup.BREAST, ("ihc-2+",), ("ish-dual-probe-ratio",), False)
    assert got.ihc_score == "2+"
    assert got.dual_probe


def test_a_computed_ratio_and_a_ratio_without_average_are_dual_probe() -> None:
    computed = ish_observation(None, her2="6.1", cep17="2.4")
    assert facts(ihc_observation("1+"), computed).dual_probe
    assert facts(ish_observation("2.5")).dual_probe


def test_single_probe_and_qualitative_ish() -> None:
    single = observation("74860-8", id="avg", valueQuantity=quantity("6.5"))
    assert facts(single).ish == ("ish-single-probe",)
    call = observation("85318-4", id="call", valueString="amplified")
    assert facts(call).ish == ("ish-qualitative",)
    assert not facts(call).dual_probe


def test_an_unscored_ihc_is_ihc_used_but_no_score() -> None:
    unscored = ihc_observation(
        valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6576-8"}]}
    )
    got = facts(unscored)
    assert got.ihc == ("ihc-positive",)
    assert got.ihc_score is None


def test_tied_ihc_values_that_differ_are_both_used_and_no_one_score() -> None:
    first = ihc_observation("1+", id="a")
    second = ihc_observation("2+", id="b")
    got = facts(first, second)
    assert set(got.ihc) == {"ihc-1+", "ihc-2+"}
    assert got.ihc_score is None


def test_a_failed_ihc_is_not_used_and_an_ihc_0_subclass_is_a_score_of_0() -> None:
    failed = ihc_observation(valueString="unscorable")
    assert facts(failed, ish_observation("2.5", her2="6.1")).ihc == ()
    assert facts(ihc_observation(valueString="0 (ultralow)")).ihc_score == "0"


def test_site_group_and_reported_status() -> None:
    gastric = ihc_observation("3+", specimen="Specimen/s")
    reported = observation(
        "48676-1", id="st", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6577-6"}]}
    )
    got = facts(gastric, specimen("s", body_site=STOMACH), reported)
    assert got.site is SiteGroup.GASTRIC
    assert got.reported_status
    assert not facts(ihc_observation("3+")).reported_status


def test_a_status_observation_without_the_extensions_reads_as_no_site() -> None:
    assert qa.read_qa_extensions({"resourceType": "Observation"}) == qa.CodedFacts(
        None, (), (), False
    )


def test_fed_back_to_the_adapter_the_status_observation_holds_no_ihc_or_ish_result() -> None:
    obs = status_observation(ihc_observation("2+"), ish_observation("1.5", her2="4.5", cep17="3"))
    read, _ = read_observation(Entry(obs), "Observation/x", default_mappings())
    assert {fact.measure for fact in read} <= {Measure.STATUS}
    codes = {c["code"]["coding"][0]["system"] for c in obs.get("component", ())}
    assert codes <= {"https://her2-fhir-adapter.org/fhir/CodeSystem/her2-adapter"}


@pytest.mark.parametrize(
    ("url", "value"),
    [
        (qa.SITE_GROUP_URL, "Coding"),
        (qa.IHC_USED_URL, "Coding"),
        (qa.ISH_USED_URL, "Coding"),
        (qa.REPORTED_STATUS_URL, "boolean"),
        (FLAG_URL, "Coding"),  # on the QA report's MeasureReports
    ],
)
def test_each_extension_is_defined_by_a_valid_structure_definition(url: str, value: str) -> None:
    path = DOCS / f"StructureDefinition-{url.rsplit('/', 1)[1]}.json"
    definition = StructureDefinition.model_validate(json.loads(path.read_text()))
    assert definition.url == url
    elements = {e.path: e for e in definition.differential.element}
    assert elements["Extension.url"].fixedUri == url
    assert [t.code for t in elements["Extension.value[x]"].type] == [value]
