"""`her2-adapter demo`: embedded Redis, the API, a worker; the examples through HTTP and MLLP."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import ROOT
from tests.api.test_serve_process import SCRIPT


@pytest.mark.integration
def test_demo_feeds_every_example_and_prints_each_case(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FHIR_SERVER_URL")}
    ran = subprocess.run(
        [SCRIPT, "demo", "--examples", str(ROOT / "examples")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    rows = {
        line.split()[0]: line.split()
        for line in ran.stdout.splitlines()
        if (".json" in line or ".hl7" in line) and not line.startswith("MLLP")
    }
    assert rows["breast-ihc2plus-no-ish.json"][3:5] == ["Equivocal", "reflex-ish"]
    assert rows["1-breast-ihc2plus-first.json"][3] == "Equivocal"
    assert rows["2-breast-ish-same-specimen-later.json"][3:6] == ["Positive", "-", "HER2-positive"]
    # HL7 v2 over MLLP: CAP checklist IHC 2+, then labelled-text ISH of the same accession
    assert "MLLP 1-cap-checklist-ihc2plus.hl7: ACK AA" in ran.stdout
    assert rows["1-cap-checklist-ihc2plus.hl7"][3:5] == ["Equivocal", "reflex-ish"]
    assert rows["2-labelled-text-ish-same-accession.hl7"][3:6] == ["Positive", "-", "HER2-positive"]
    assert rows["3-loinc-ihc1plus.hl7"][3] == "Negative"
    case_lines = [line for line in ran.stdout.splitlines() if line.startswith("2-labelled")]
    assert len(case_lines) == 1  # one case: its input Observations are not listed as cases
    assert list((tmp_path / "out" / "demo" / "bundles").glob("*.json"))
