"""Several hundred generated messages through `her2-adapter interpret`, as the held-out suite runs.

Every message is one case in one of the contract's input shapes, with values around every
threshold; its expected status and category come from the independent `oracle`. The run goes
through the real console script (`--ndjson`, and single-file runs), so the check covers the
reader, the core, the report and the command line together. Set HER2_ACCEPTANCE_SEED to try
another draw; a failure prints the seed and the message.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.generator import Spec, build, dumps, oracle, random_spec

SEED = int(os.environ.get("HER2_ACCEPTANCE_SEED", "20261201"))
COUNT = 400
STATUS_CODES = {
    "LA6576-8": "Positive",
    "LA6577-6": "Negative",
    "LA11885-3": "Equivocal",
    "LA11884-6": "Indeterminate",
}
CATEGORIES = {"HER2-low", "HER2-ultralow", "HER2-null", "HER2-0", "HER2-positive"}
BAD_LINES = [
    (
        '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":'
        '"http://loinc.org","code":"85319-2"}]},"valueString":"4+"}',
        "Observation.valueString",
    ),
    (
        '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":'
        '"http://loinc.org","code":"49683-6"}]},"valueString":"abc"}',
        "Observation.valueString",
    ),
    (
        '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":'
        '"http://loinc.org","code":"74860-8"}]},"valueQuantity":{"value":-3.5}}',
        "Observation.valueQuantity.value",
    ),
    ("not json at all", None),
    ('{"resourceType":"Patient"}', None),
]


def cases() -> list[tuple[Spec, dict[str, Any]]]:
    rng = random.Random(SEED)
    return [
        (spec, build(spec, n, rng)) for n, spec in ((n, random_spec(rng)) for n in range(COUNT))
    ]


def outcome(bundle: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(status, category) of each status Observation in an output Bundle."""
    found = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Observation":
            continue
        code = resource["valueCodeableConcept"]["coding"][0]["code"]
        categories = [
            c["code"]["coding"][0]["code"]
            for c in resource.get("component", [])
            if c["code"]["coding"][0]["code"] in CATEGORIES
        ]
        found.append((STATUS_CODES.get(code, "Pending"), categories[0] if categories else None))
    return found


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapter.cli", "interpret", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_generated_messages_through_ndjson(tmp_path: Path) -> None:
    generated = cases()
    lines = [dumps(message) for _, message in generated]
    bad_at = {len(lines) + i + 1: expr for i, (_, expr) in enumerate(BAD_LINES)}
    ndjson = tmp_path / "generated.ndjson"
    ndjson.write_text("\n".join(lines + [line for line, _ in BAD_LINES]) + "\n")

    result = run(["--ndjson", str(ndjson)])

    assert result.returncode == 2, result.stderr  # the bad lines
    outputs = result.stdout.splitlines()
    assert len(outputs) == len(lines) + len(BAD_LINES)
    wrong = []
    for n, ((spec, _), line) in enumerate(zip(generated, outputs, strict=False), start=1):
        got = outcome(json.loads(line))
        if got != [oracle(spec)]:
            wrong.append(f"line {n} seed {SEED}: {spec} expected {oracle(spec)} got {got}")
    assert not wrong, "\n".join(wrong[:20])
    for n, expression in bad_at.items():
        issue = json.loads(outputs[n - 1])["issue"][0]
        assert json.loads(outputs[n - 1])["resourceType"] == "OperationOutcome"
        assert f"line {n}" in issue["diagnostics"]
        if expression:
            assert expression in issue["expression"]


@pytest.mark.parametrize("index", range(0, COUNT, 50))
def test_single_file_run_gives_the_same_answer(tmp_path: Path, index: int) -> None:
    spec, message = cases()[index]
    path = tmp_path / "message.json"
    path.write_text(dumps(message))
    result = run([str(path)])
    assert result.returncode == 0, result.stderr
    assert outcome(json.loads(result.stdout)) == [oracle(spec)]


def test_no_positive_is_read_as_negative_or_the_reverse() -> None:
    """The same draw in-process: a mismatch that swaps Positive and Negative is the worst."""
    from datetime import UTC, datetime

    from adapter.fhir.json_input import parse_json
    from adapter.mapping_files import default_mappings
    from adapter.service.offline import interpret_message

    swapped = []
    for spec, message in cases():
        result = interpret_message(
            parse_json(dumps(message)), default_mappings(), recorded=datetime.now(UTC)
        )
        got = {c.interpretation.status.value for c in result.cases}
        expected = oracle(spec)[0]
        if {expected} | got == {"Positive", "Negative"}:
            swapped.append(f"{spec}: expected {expected}, got {got}")
    assert not swapped, "\n".join(swapped)
