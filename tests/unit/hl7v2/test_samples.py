"""Every public sample in /work/shared/hl7v2-samples/ read without a crash, HER2 ones read the
way a pathologist would (SOURCES.tsv beside them says where each comes from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.hl7v2.errors import V2BadMessage, V2BadValue
from adapter.mappings import Mappings
from adapter.service.offline import interpret_v2_file
from tests.unit.hl7v2.messages import RECORDED, SAMPLES, interpret_v2, statuses

NO_HER2 = [
    "fhir-converter-LAB-ORU-1.hl7",  # CBC with BOM, OBX-11 I/P/F
    "fhir-converter-LRI_2.0-NG_CBC_Typ_Message.hl7",
    "fhir-converter-ORU-R01-01.hl7",  # OBX-5 '27~25' on a non-HER2 result: tolerated
    "fhir-converter-ORU-R01-RMGEAD.hl7",
    "lfh-connect-naaccr5-ampulla-capecc-4.hl7",
    "lfh-connect-naaccr5-breast-multispecimen-2.hl7",
    "lfh-connect-naaccr5-breast-narrative-1.hl7",
    "lfh-connect-naaccr5-breast-nys-synoptic-3.hl7",  # receptors "to follow": nothing yet
    "lfh-connect-naaccr5-flowcytometry-6.hl7",
    "sdc-cdm-naaccr40-adrenal-capecc-2.hl7",
    "sdc-cdm-naaccr51-thyroid-capecp-1.hl7",
]


def read(name: str, mappings: Mappings) -> list:  # type: ignore[type-arg]
    return interpret_v2_file((SAMPLES / name).read_bytes(), mappings, site=None, recorded=RECORDED)


def test_every_sample_file_is_read_without_a_crash(mappings: Mappings) -> None:
    names = sorted(p.name for p in SAMPLES.glob("*.hl7"))
    assert len(names) == 17
    for name in names:
        assert read(name, mappings), name


@pytest.mark.parametrize("name", NO_HER2)
def test_samples_without_her2_are_good_messages_with_a_warning(
    name: str, mappings: Mappings
) -> None:
    (result,) = read(name, mappings)
    assert result.error is None
    assert not result.cases
    assert any("no HER2 result" in w for w in result.warnings)


def test_malformed_sample_msh_and_pid_run_together_is_rejected(mappings: Mappings) -> None:
    (result,) = read("lfh-connect-naaccr5-prostate-malformed-5.hl7", mappings)
    assert isinstance(result.error, V2BadMessage)
    assert "segment separator is missing after MSH" in str(result.error)


def test_cap_obx_only_sample_has_no_msh_so_is_bad_message_1(mappings: Mappings) -> None:
    (result,) = read("sdc-cdm-ccr-breast-resection-capecc-obx-only-1.hl7", mappings)
    assert isinstance(result.error, V2BadMessage)
    assert result.number == 1


def test_cap_sample_under_a_header_is_negative_her2_low(mappings: Mappings) -> None:
    # The sample is OBX only; a SYNTHETIC MSH/PID/OBR is put in front. OBX 60: key 52399 (HER2
    # by IHC) = 57817 "Negative (Score 1+)", OBX-11 C. IHC 1+ with no ISH in a breast resection
    # -> Negative; IHC 1+ makes it HER2-low (ASCO/CAP 2023). Corrected counts as final.
    header = (
        "MSH|^~\\&|LIS|ST JUDE|CCR|CCR|20250918102100||ORU^R01^ORU_R01|C1|P|2.5.1\r"
        "PID|1||X1^^^SJ^MR\rOBR|1||FP25-10911|60568-3^Synoptic report^LN\r"
    )
    obx = (SAMPLES / "sdc-cdm-ccr-breast-resection-capecc-obx-only-1.hl7").read_bytes()
    result = interpret_v2(header.encode() + obx, mappings)
    assert statuses(result) == ["Negative HER2-low"]
    assert result.cases[0].observation["status"] == "final"


def test_kisim_nm_two_plus_under_85319_2_is_equivocal_reflex_ish(mappings: Mappings) -> None:
    # 85319-2 (mislabelled "Her2/neu Score" is right here) NM "2+": an NM holding a score is
    # read as text -> IHC 2+ alone -> Equivocal, reflex ISH. No SPM/OBR-15: breast assumed.
    # MSH-18 UNICODE UTF-8 with "ä" in the FT report decodes.
    (result,) = read("synthetic-kisim-ch-breast-her2-2.hl7", mappings)
    assert statuses(result) == ["Equivocal (reflex-ish)"]
    assert "site-assumed" in {f.value for f in result.cases[0].interpretation.flags}


def test_curl_st_her2_positive_3_plus_under_label_is_positive(mappings: Mappings) -> None:
    # OBX-3 "HER2^HER2 IHC" without a coding system: label "HER2 IHC" = IHC score; ST "HER2
    # Positive (3+)" holds one score token, 3+ -> Positive, HER2-positive. No OBX-11: final.
    (result,) = read("synthetic-curl-example-her2-4.hl7", mappings)
    assert statuses(result) == ["Positive HER2-positive"]


def test_csharp_85318_4_snomed_negative_is_ish_negative(mappings: Mappings) -> None:
    # 85318-4 is an ISH result code (contract 1.1), whatever its label "HER2 STATUS" says;
    # SNOMED 260385009 Negative -> ISH negative without numbers -> Negative as group 5, flag
    # no-ish-group; no IHC score, so no expression category. "LOINC" is read as "LN".
    (result,) = read("synthetic-csharp-parser-test-breast-her2-3.hl7", mappings)
    assert statuses(result) == ["Negative"]
    assert "no-ish-group" in {f.value for f in result.cases[0].interpretation.flags}


def test_dxcare_local_answer_under_85319_2_is_an_unreadable_ihc_value(mappings: Mappings) -> None:
    # 85319-2 (IHC score by code, mislabelled "HORMOONRECEPTOR ER") = POS^Positief 90%^LOCAL:
    # no score, no known answer: the IHC value cannot be read; the message is rejected (AE).
    (result,) = read("synthetic-dxcare-be-breast-her2-1.hl7", mappings)
    assert isinstance(result.error, V2BadValue)
    assert str(result.error.location) == "OBX[2]-5"
    assert result.error.code == "103"


def test_samples_path_is_outside_the_repository() -> None:
    assert Path("/work/main") not in SAMPLES.resolve().parents
