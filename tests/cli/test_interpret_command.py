"""`her2-adapter interpret`, run as the installed console script (contract 4 and 5).

Every run is also checked for the one thing a user must never see: a stack trace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FHIR_EXAMPLES = sorted((EXAMPLES / "fhir").glob("*.json"))
SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"

LOINC = "http://loinc.org"
POSITIVE, NEGATIVE, EQUIVOCAL = "LA6576-8", "LA6577-6", "LA11885-3"


def run(
    *args: str | Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(
        [SCRIPT, *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    result = subprocess.CompletedProcess(
        ran.args, ran.returncode, ran.stdout.decode("utf-8"), ran.stderr.decode("utf-8")
    )
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


def ihc_observation(value: dict[str, Any], *, id_: str = "bad-ihc") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85319-2"}]},
        "subject": {"reference": "Patient/t1"},
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "76752008"}]},
        **value,
    }


def write(path: Path, resource: dict[str, Any] | str | bytes) -> Path:
    if isinstance(resource, dict):
        resource = json.dumps(resource)
    path.write_bytes(resource if isinstance(resource, bytes) else resource.encode())
    return path


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    return write(tmp_path / "ihc-4plus.json", ihc_observation({"valueString": "4+"}))


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == resource_type
    ]


def status_codes(bundle: dict[str, Any]) -> list[str]:
    """The value code of each 48676-1 status Observation in the bundle."""
    return [
        coding["code"]
        for observation in resources(bundle, "Observation")
        if any(c.get("code") == "48676-1" for c in observation["code"]["coding"])
        for coding in observation["valueCodeableConcept"]["coding"]
    ]


# --- one message per file -------------------------------------------------------------------


def test_one_file_prints_one_collection_bundle_of_three_resources_and_exits_0() -> None:
    result = run("interpret", EXAMPLES / "fhir" / "breast-ihc3plus.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    bundle = json.loads(result.stdout)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Observation",
        "DiagnosticReport",
        "Provenance",
    ]
    assert status_codes(bundle) == [POSITIVE]


def test_several_files_give_one_bundle_with_every_case() -> None:
    result = run("interpret", *FHIR_EXAMPLES)
    assert result.returncode == 0, result.stderr
    bundle = json.loads(result.stdout)
    assert len(resources(bundle, "DiagnosticReport")) == len(FHIR_EXAMPLES)
    assert len(resources(bundle, "Provenance")) == len(FHIR_EXAMPLES)


@pytest.mark.parametrize(
    ("example", "status"),
    [
        ("breast-ihc2plus-ish-group1.json", POSITIVE),
        ("breast-ihc3plus.json", POSITIVE),
        ("breast-ihc2plus-no-ish.json", EQUIVOCAL),
        ("breast-ihc1plus-ish-group4.json", NEGATIVE),
        ("gastric-ihc2plus-ish-ratio.json", POSITIVE),
    ],
)
def test_each_example_gets_its_guideline_status(example: str, status: str) -> None:
    result = run("interpret", EXAMPLES / "fhir" / example)
    assert result.returncode == 0, result.stderr
    assert status_codes(json.loads(result.stdout)) == [status]


def test_bad_file_is_one_stderr_line_naming_file_and_field_and_exit_2(bad_file: Path) -> None:
    result = run("interpret", bad_file)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"her2-adapter: {bad_file}: ")
    assert "Observation.valueString" in line
    assert "4+" in line


def test_good_files_are_still_printed_beside_a_bad_one(bad_file: Path) -> None:
    good = EXAMPLES / "fhir" / "breast-ihc3plus.json"
    result = run("interpret", good, bad_file, EXAMPLES / "fhir" / "breast-ihc2plus-no-ish.json")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert status_codes(json.loads(result.stdout)) == [POSITIVE, EQUIVOCAL]


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b'{"resourceType": "Observation", ', "truncated.json"),
        (b"\xff\xfe not utf-8", "latin.json"),
        (b'{"resourceType": "Patient", "id": "p"}', "patient.json"),
        (b'{"hello": "world"}', "not-fhir.json"),
        (b"[]", "array.json"),
    ],
)
def test_unreadable_message_is_one_line_never_a_trace(
    tmp_path: Path, content: bytes, name: str
) -> None:
    path = write(tmp_path / name, content)
    result = run("interpret", path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"her2-adapter: {path}: ")


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run("interpret", tmp_path / "nowhere.json")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"her2-adapter: {tmp_path / 'nowhere.json'}: ")


def test_dash_reads_standard_input() -> None:
    message = (EXAMPLES / "fhir" / "breast-ihc2plus-no-ish.json").read_bytes()
    result = run("interpret", "-", stdin=message)
    assert result.returncode == 0, result.stderr
    assert status_codes(json.loads(result.stdout)) == [EQUIVOCAL]


def test_site_override_applies_the_gastric_rules(tmp_path: Path) -> None:
    # IHC 2+, ratio 1.8 with 6.5 HER2 signals per cell: breast group 3 needs a blinded recount
    # (Pending); gastric rules decide on the ratio alone (Negative).
    panel = {
        "resourceType": "Observation",
        "id": "t-ish",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "74885-5"}]},
        "subject": {"reference": "Patient/t1"},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "49683-6"}]},
                "valueQuantity": {"value": 1.8},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "74860-8"}]},
                "valueQuantity": {"value": 6.5},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "74861-6"}]},
                "valueQuantity": {"value": 3.6},
            },
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:7d1f0c1e-0000-4000-8000-000000000001",
                "resource": ihc_observation({"valueString": "2+"}, id_="t-ihc"),
            },
            {"fullUrl": "urn:uuid:7d1f0c1e-0000-4000-8000-000000000002", "resource": panel},
        ],
    }
    path = write(tmp_path / "group3.json", bundle)
    breast = run("interpret", "--format", "text", path)
    gastric = run("interpret", "--format", "text", "--site", "gastric", path)
    assert breast.returncode == gastric.returncode == 0, breast.stderr + gastric.stderr
    assert "Pending" in breast.stdout
    assert "blinded-recount" in breast.stdout
    assert "Negative" in gastric.stdout
    assert "site gastric" in gastric.stdout
    assert status_codes(json.loads(run("interpret", "--site", "gastric", path).stdout)) == [
        NEGATIVE
    ]


def test_text_format_prints_one_line_per_case() -> None:
    result = run("interpret", "--format", "text", *FHIR_EXAMPLES)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(FHIR_EXAMPLES)
    (group4,) = [line for line in lines if "breast-ihc1plus-ish-group4" in line]
    for part in ("Negative", "IHC 1+", "ratio 1.6", "HER2 4.8", "CEP17 3.0", "group 4", "HER2-low"):
        assert part in group4, group4


# --- one message per line -------------------------------------------------------------------


def test_ndjson_prints_one_line_per_non_blank_line_in_order() -> None:
    result = run("interpret", "--ndjson", EXAMPLES / "cases.ndjson")
    # lines 1, 3, 5 are good, line 2 is blank, line 4 holds IHC "4+"
    assert result.returncode == 2
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["resourceType"] for o in outputs] == [
        "Bundle",
        "Bundle",
        "OperationOutcome",
        "Bundle",
    ]
    (issue,) = outputs[2]["issue"]
    assert issue["diagnostics"].startswith("line 4: ")
    assert "Observation.valueString" in issue["expression"]
    assert [status_codes(o) for o in outputs if o["resourceType"] == "Bundle"] == [
        [POSITIVE],
        [NEGATIVE],
        [POSITIVE],
    ]


def test_ndjson_exits_0_when_every_line_is_good(tmp_path: Path) -> None:
    lines = [json.dumps(json.loads(path.read_text())) for path in FHIR_EXAMPLES]
    path = write(tmp_path / "good.ndjson", "\n".join(lines) + "\n\n")
    result = run("interpret", "--ndjson", path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(FHIR_EXAMPLES)


def test_ndjson_bad_lines_of_every_kind_never_stop_the_others(tmp_path: Path) -> None:
    good = json.dumps(json.loads((EXAMPLES / "fhir" / "breast-ihc3plus.json").read_text()))
    bad_ihc = ihc_observation({"valueInteger": 7})
    content = b"\n".join(
        [
            b"not json at all",
            good.encode(),
            b"\xff\xfe",
            b"",
            json.dumps(bad_ihc).encode(),
            good.encode(),
        ]
    )
    result = run("interpret", "--ndjson", write(tmp_path / "mixed.ndjson", content))
    assert result.returncode == 2
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [o["resourceType"] for o in outputs]
    assert kinds == ["OperationOutcome", "Bundle", "OperationOutcome", "OperationOutcome", "Bundle"]
    lines = [o["issue"][0]["diagnostics"].split(":")[0] for o in outputs if "issue" in o]
    assert lines == ["line 1", "line 3", "line 5"]
    assert outputs[3]["issue"][0]["expression"][0].startswith("Observation.value")


def test_ndjson_reads_standard_input() -> None:
    result = run("interpret", "--ndjson", "-", stdin=(EXAMPLES / "cases.ndjson").read_bytes())
    assert result.returncode == 2
    assert len(result.stdout.splitlines()) == 4


# --- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["interpret"],
        ["interpret", "--ndjson", "examples/cases.ndjson", "examples/fhir/breast-ihc3plus.json"],
        ["interpret", "--site", "lung", "examples/fhir/breast-ihc3plus.json"],
        [],
    ],
)
def test_usage_errors_exit_2_with_a_usage_message(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage: her2-adapter" in result.stderr


def test_broken_mappings_stop_the_run_with_one_line_and_exit_1(tmp_path: Path) -> None:
    for mapping in (ROOT / "mappings").glob("*.json"):
        (tmp_path / mapping.name).write_bytes(mapping.read_bytes())
    broken = next(tmp_path.glob("inbound-*.conceptmap.json"))
    broken.write_text("{", encoding="utf-8")
    result = run(
        "interpret",
        EXAMPLES / "fhir" / "breast-ihc3plus.json",
        env={"ADAPTER_MAPPINGS_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("her2-adapter interpret: mappings: ")
    assert broken.name in line
