"""Over HL7 v2 the laboratory is MSH-4.1 and the time OBX-14, else OBR-7
(qa-report-contract.md 2), written on the report like those of a FHIR message."""

from __future__ import annotations

from adapter.fhir.case import Laboratory
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
