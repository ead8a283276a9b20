"""The smallest messages behind failures the generated tests found, kept as they were found
(each cites the contract it holds the product to). One `her2-adapter interpret` run each."""

from __future__ import annotations

import json
from pathlib import Path

from tests.contract.cli_doors import interpret

MSH = "MSH|^~\\&|LIS|LAB|EHR|HOSP|20250306100000||ORU^R01|X1|P|2.5.1\rPID|1||MRN1^^^HOSP^MR\r"
BREAST = {"coding": [{"system": "http://snomed.info/sct", "code": "76752008"}]}


def _v2(tmp_path: Path, order: str, *obx: str) -> tuple[int, str, str]:
    path = tmp_path / "message.hl7"
    path.write_text(MSH + f"OBR|1|PL1|ACC1^LAB|{order}\r" + "\r".join(obx) + "\r")
    result = interpret(["--format", "text", "--hl7v2", str(path)])
    return result.returncode, result.stdout, result.stderr


def _fhir(tmp_path: Path, *resources: dict[str, object]) -> tuple[int, str, str]:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:x:{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }
    path = tmp_path / "message.json"
    path.write_text(json.dumps(bundle))
    result = interpret(["--format", "text", str(path)])
    return result.returncode, result.stdout, result.stderr


def _observation(oid: str, code: str, **value: object) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "specimen": {"reference": "Specimen/s"},
        **value,
    }


SPECIMEN = {"resourceType": "Specimen", "id": "s", "collection": {"bodySite": BREAST}}


def test_a_label_written_with_extra_spaces_is_that_label(tmp_path: Path) -> None:
    """hl7v2-contract 3: labels are compared without case, extra spaces or a trailing colon."""
    code, out, err = _v2(tmp_path, "HER2^HER2 IHC", "OBX|1|TX|HER2  IHC||2+||||||F")
    assert (code, err) == (0, ""), err
    assert "Equivocal" in out


def test_a_withdrawal_with_an_empty_value_withdraws_a_structured_number(tmp_path: Path) -> None:
    """hl7v2-contract 3: X/D/W withdraw the earlier result with that identity; real feeds send
    them with an empty OBX-5 (hl7v2-notes), whatever the OBX-2."""
    code, out, err = _v2(
        tmp_path,
        "HER2^HER2 FISH",
        "OBX|1|NM|74860-8^HER2 average^LN|1|5.1||||||F",
        "OBX|2|SN|49683-6^Ratio^LN|2|^2.39||||||F",
        "OBX|3|SN|49683-6^Ratio^LN|2|||||||D",
    )
    assert (code, err) == (0, ""), err
    assert "dual-probe-ish" in out  # the ratio is gone: a single-probe 5.1 with no IHC


def test_an_epic_line_is_withdrawn_by_its_obx3_and_obx4(tmp_path: Path) -> None:
    """hl7v2-contract 3: a result's identity is specimen, OBX-3 and OBX-4; the withdrawal
    (empty OBX-5, as sent) of the 6.0 leaves IHC 0 alone: Negative, not Positive."""
    code, out, err = _v2(
        tmp_path,
        "HER2^HER2 IHC and FISH",
        "OBX|1|TX|85319-2^HER2 IHC^LN|1|0||||||F",
        "OBX|2|ST|&GDT|2|Average HER2 signals per cell: 6.0||||||F",
        "OBX|3|ST|&GDT|2|||||||D",
    )
    assert code == 0, err
    assert "Negative" in out, out


def test_an_empty_coding_system_is_refused_naming_it(tmp_path: Path) -> None:
    """FHIR JSON has no empty strings (contract 5: not a FHIR resource); read as a code
    without a system, the IHC 3+ below was dropped: Pending on the ratio alone, not Positive."""
    ihc = _observation("a", "85319-2", valueInteger=3)
    ihc["code"] = {"coding": [{"system": "", "code": "85319-2"}]}
    code, out, err = _fhir(
        tmp_path, SPECIMEN, ihc, _observation("b", "49683-6", valueQuantity={"value": 1.5})
    )
    assert code == 2, out
    assert "Bundle.entry[1].resource.code.coding[0].system" in err or "code.coding[0].system" in err


def test_nan_is_refused_naming_its_field(tmp_path: Path) -> None:
    """The invariant: a value that is not a value is refused naming that field."""
    path = tmp_path / "nan.json"
    obs = json.dumps(_observation("a", "49683-6", valueQuantity={"value": 0}))
    path.write_text(obs.replace('"value": 0', '"value": NaN'))
    result = interpret([str(path)])
    assert result.returncode == 2
    assert "valueQuantity.value" in result.stderr, result.stderr


def test_tied_values_that_agree_on_the_ish_group_keep_it(tmp_path: Path) -> None:
    """Contract 1.3: the ISH group is given where every choice agrees on it; a failed IHC
    tied with IHC 1+ changes the status (Pending), not the group (4 in both)."""
    code, out, err = _fhir(
        tmp_path,
        SPECIMEN,
        _observation("a", "85319-2", valueString="unscorable"),
        _observation("b", "85319-2", valueString="1+"),
        _observation("c", "49683-6", valueQuantity={"value": 1.5}),
        _observation("d", "74860-8", valueQuantity={"value": 5.0}),
    )
    assert code == 0, err
    assert "adjudication" in out, out
    assert "group 4" in out, out
