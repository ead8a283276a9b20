"""`her2-adapter interpret --hl7v2` through the console script (hl7v2-contract.md 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from adapter.hl7v2.message import read_v2_message
from adapter.hl7v2.to_fhir import message_entity
from adapter.mappings import Mappings
from adapter.service.offline import interpret_message
from tests.unit.hl7v2.messages import RECORDED, SAMPLES, ihc_loinc, interpret_v2, ish_loinc, oru

SCRIPT = shutil.which("her2-adapter")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None
    return subprocess.run(
        [SCRIPT, "interpret", "--hl7v2", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_good_file_prints_one_bundle_with_report_inputs_and_specimen(tmp_path: Path) -> None:
    path = tmp_path / "ihc.hl7"
    path.write_text(oru(ihc_loinc("3+")).replace("\r", "\n"))
    done = run(path)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Observation", "DiagnosticReport", "Provenance", "Specimen", "Observation"]
    provenance = bundle["entry"][2]["resource"]
    assert provenance["entity"][-1]["what"]["identifier"]["value"] == "MSG0001"


def test_several_messages_per_file_with_one_bad_one(tmp_path: Path) -> None:
    good = oru(ihc_loinc("3+"))
    bad = oru("OBX|1|ST|85319-2^HER2^LN||4+||||||F").replace("MSG0001", "MSG0002")
    none = oru("OBX|1|NM|2345-7^Glucose^LN||5.5").replace("MSG0001", "MSG0003")
    path = tmp_path / "batch.hl7"
    path.write_bytes(
        b"\x0b" + good.encode() + b"\x1c\r\x0b" + bad.encode() + b"\x1c\r" + none.encode()
    )
    done = run(path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert f"her2-adapter: {path}: message 2: OBX[1]-5: " in lines[0]
    assert lines[1] == f"warning: {path}: message 3: no HER2 result; nothing interpreted"
    assert len(json.loads(done.stdout)["entry"]) == 5  # message 1 still printed


def test_text_before_the_first_msh_is_bad_message_1(tmp_path: Path) -> None:
    path = tmp_path / "junk.hl7"
    path.write_text("hello\n" + oru(ihc_loinc("1+")))
    done = run(path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"her2-adapter: {path}: message 1: text before the first MSH")
    assert json.loads(done.stdout)["entry"]  # message 2 is good


def test_a_file_with_no_case_prints_an_empty_bundle() -> None:
    done = run(SAMPLES / "fhir-converter-ORU-R01-RMGEAD.hl7")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"resourceType": "Bundle", "type": "collection", "entry": []}


def test_several_files_and_text_format() -> None:
    done = subprocess.run(
        [
            SCRIPT or "",
            "interpret",
            "--hl7v2",
            "--format",
            "text",
            str(SAMPLES / "synthetic-kisim-ch-breast-her2-2.hl7"),
            str(SAMPLES / "synthetic-dxcare-be-breast-her2-1.hl7"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Equivocal" in done.stdout
    assert "synthetic-dxcare-be-breast-her2-1.hl7: message 1: OBX[2]-5:" in done.stderr


@pytest.mark.parametrize(
    "segments",
    [
        [ihc_loinc("2+"), *ish_loinc("1.9", "4.5", "2.4")],
        ["OBX|1|CWE|52399.100004300^HER2^CAPECC||40042.100004300^Positive (3+)^CAPECC"],
        ["OBX|1|TX|&GDT||HER2: 0 (ultralow)||||||F"],
    ],
)
def test_offline_result_equals_interpreting_the_generated_bundle(
    segments: list[str], mappings: Mappings
) -> None:
    text = oru(*segments)
    reading = read_v2_message(text, mappings)
    direct = interpret_message(reading.bundle, mappings, recorded=RECORDED)
    offline = interpret_v2(text, mappings)
    assert [c.interpretation for c in offline.cases] == [c.interpretation for c in direct.cases]
    for v2, fhir in zip(offline.cases, direct.cases, strict=True):
        assert (v2.observation, v2.diagnostic_report) == (fhir.observation, fhir.diagnostic_report)
        # the v2 door's Provenance also names the message by MSH-10
        assert v2.provenance["entity"] == [
            *fhir.provenance["entity"],
            message_entity(reading.header),
        ]


def test_a_bug_in_one_message_costs_that_message_only(
    mappings: Mappings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug cannot be written into a message: the interpretation is made to fail (a test
    # double of our own code) for the first of two good messages.
    from adapter.service import offline

    real = offline.interpret_reading
    calls: list[int] = []

    def first_fails(*args: object, **kwargs: object) -> offline.V2MessageResult:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(offline, "interpret_reading", first_fails)
    second = oru(ihc_loinc("3+")).replace("MSG0001", "MSG0002")
    data = (oru(ihc_loinc("3+")) + second).encode()
    first, after = offline.interpret_v2_file(data, mappings, site=None, recorded=RECORDED)
    assert (first.number, first.internal_error, first.resources) == (1, "KeyError", ())
    assert (after.number, after.internal_error, after.error) == (2, None, None)
    assert [r["resourceType"] for r in after.resources][:2] == ["Observation", "DiagnosticReport"]
