"""Over HL7 v2 the laboratory is MSH-4.1 and the time OBX-14, else OBR-7
(qa-report-contract.md 2), written on the report like those of a FHIR message."""

from __future__ import annotations

import pytest

from adapter.fhir.case import Laboratory
from adapter.hl7v2.errors import DATA_TYPE_ERROR, V2BadValue
from adapter.hl7v2.message import read_v2_message
from adapter.hl7v2.to_fhir import FACILITY_SYSTEM
from adapter.mappings import Mappings
from tests.unit.hl7v2.messages import MSH, OBR, ihc_loinc, interpret_v2, oru


def test_msh_4_1_is_the_laboratory_and_the_reports_performer(mappings: Mappings) -> None:
    (case,) = interpret_v2(oru(ihc_loinc("2+")), mappings).cases
    assert case.case.laboratory == Laboratory("SYNTH_LAB", FACILITY_SYSTEM)
    performer = [
        {"type": "Organization", "identifier": {"system": FACILITY_SYSTEM, "value": "SYNTH_LAB"}}
    ]
    assert case.observation["performer"] == case.diagnostic_report["performer"] == performer


def test_without_msh_4_there_is_no_laboratory(mappings: Mappings) -> None:
    msh = MSH.replace("|LIS|SYNTH_LAB|", "|LIS||")
    (case,) = interpret_v2(oru(ihc_loinc("2+"), msh=msh), mappings).cases
    assert case.case.laboratory is None
    assert "performer" not in case.diagnostic_report


def test_obx_14_is_the_reports_time(mappings: Mappings) -> None:
    obx = ihc_loinc("2+") + "|||20250305093000"  # OBX-14, no offset: MSH-7's
    (case,) = interpret_v2(oru(obx), mappings).cases
    assert case.diagnostic_report["effectiveDateTime"] == "2025-03-05T09:30:00+01:00"


def test_without_obx_14_obr_7_is_the_reports_time(mappings: Mappings) -> None:
    assert OBR.endswith("|20250228")  # OBR-7, a date
    (case,) = interpret_v2(oru(ihc_loinc("2+")), mappings).cases
    assert case.observation["effectiveDateTime"] == "2025-02-28"
    (undated,) = interpret_v2(oru(ihc_loinc("2+"), obr=OBR[: -len("|20250228")]), mappings).cases
    assert "effectiveDateTime" not in undated.diagnostic_report


@pytest.mark.parametrize(
    ("obr", "obx_14", "where"),
    [
        (OBR, "20251301", "OBX[1]-14"),  # a 13th month
        (OBR, "20250230093000", "OBX[1]-14"),  # 30 February
        (OBR, "20250305240000", "OBX[1]-14"),  # hour 24
        (OBR, "20250305093000+1500", "OBX[1]-14"),  # an offset past 14 hours
        (OBR[: -len("20250228")] + "20250229", "", "OBR[1]-7"),  # 2025 is no leap year
    ],
)
def test_a_time_naming_no_real_moment_is_refused_at_its_field(
    mappings: Mappings, obr: str, obx_14: str, where: str
) -> None:
    with pytest.raises(V2BadValue) as refused:
        read_v2_message(oru(ihc_loinc("2+") + f"|||{obx_14}", obr=obr), mappings)

    assert str(refused.value.location) == where
    assert refused.value.code == DATA_TYPE_ERROR
