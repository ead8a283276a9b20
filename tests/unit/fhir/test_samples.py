"""Every JSON file of shared/fhir-samples read end to end; expectations derived by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapter.errors import InvalidResource, NoHer2Result, UnreadableValue
from adapter.fhir.findings import read_message
from adapter.interpretation.model import (
    IhcScore,
    IhcValue,
    Number,
    ReportedStatus,
    SiteGroup,
    TumourSite,
)
from adapter.mapping_files import default_mappings

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fhir-samples"
UNSCORED_NEGATIVE = IhcValue(IhcScore.ZERO_OR_ONE, score_reported=False)
ASSUMED = TumourSite(SiteGroup.BREAST, assumed=True)


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("mcode-ctmapp-1.json", "Patient/mCODETrialMatchingPatientExample01"),
        ("mcode-ctmapp-2.json", "Patient/mCODETrialMatchingPatientExample02"),
        ("mcode-ctmapp-3.json", "Patient/utsw-1"),
    ],
)
def test_mcode_ctmapp_is_one_unscored_negative_ihc(name: str, subject: str) -> None:
    # 18474-7 with SNOMED 260385009, no specimen, no site: "IHC 0 or 1+", breast assumed,
    # a subject case (the Patient entry resolves the urn:uuid subject of -3).
    (case,) = read_message(sample(name), default_mappings()).cases
    assert [r.value for r in case.findings.ihc] == [UNSCORED_NEGATIVE]
    assert case.key == f"subject|{subject}"
    assert case.findings.site == ASSUMED
    assert case.findings.first_count.is_empty()


def test_mcode_ctms_2_unscored_negative_with_earlier_negative_status() -> None:
    # observation-id-5 (18474-7 = 260385009) and jenny-m's 48676-1 = LA6577-6, one subject.
    (case,) = read_message(sample("mcode-ctms-2.json"), default_mappings()).cases
    assert [r.value for r in case.findings.ihc] == [UNSCORED_NEGATIVE]
    assert [r.value for r in case.findings.reported_status] == [ReportedStatus.NEGATIVE]


@pytest.mark.parametrize(
    ("name", "entry"), [("mcode-ctms-1.json", 2), ("mcode-ctms-bct-1.json", 3)]
)
def test_two_value_x_is_bad_input(name: str, entry: int) -> None:
    # valueCodeableConcept and valueQuantity in one Observation (contract 5).
    with pytest.raises(InvalidResource) as caught:
        read_message(sample(name), default_mappings())
    assert caught.value.within == f"Bundle.entry[{entry}].resource"
    assert "valueQuantity and valueCodeableConcept" in caught.value.message


def test_mii_testdata_1_one_specimen_case_with_tied_ratios() -> None:
    # IHC 18474-7 = LA6576-8 (unscored positive), ratios 2.4 and 1.8 (the latter with averages
    # 3.6 / 2), and a 48676-1 Positive with no specimen joining the patient's only Specimen
    # (type TISS: no site named).
    (case,) = read_message(sample("mii-testdata-1.json"), default_mappings()).cases
    f = case.findings
    assert case.key == "specimen|Specimen/mii-exa-test-data-mtb-specimen-1"
    assert f.site == ASSUMED
    assert [r.value for r in f.ihc] == [IhcValue(IhcScore.THREE, score_reported=False)]
    assert [r.value for r in f.first_count.ratio] == [
        Number(Decimal("2.4")),
        Number(Decimal("1.8")),
    ]
    assert [r.value for r in f.first_count.her2_per_cell] == [Number(Decimal("3.6"))]
    assert [r.value for r in f.first_count.cep17_per_cell] == [Number(Decimal("2"))]
    assert [r.value for r in f.reported_status] == [ReportedStatus.POSITIVE]
    assert len(case.inputs) == 4


def test_mii_testdata_2_mixed_ihc_component_is_unreadable() -> None:
    # LA11840-8 "Mixed" as an 85319-2 component of a 48676-1: not an IHC answer -> bad input.
    with pytest.raises(UnreadableValue) as caught:
        read_message(sample("mii-testdata-2.json"), default_mappings())
    assert caught.value.expression == "Observation.component[0].valueCodeableConcept"


def test_canshare_is_not_her2() -> None:
    # NZ-edition SNOMED code, no LOINC: no HER2 result.
    with pytest.raises(NoHer2Result):
        read_message(sample("canshare-actnow-1.json"), default_mappings())
