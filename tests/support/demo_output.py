"""What `her2-adapter demo` must print for the bundled examples: one row per case, by file."""

from __future__ import annotations

import re
from pathlib import Path

OUTPUT_DIRECTORY = re.compile(r"^Output directory \(logs, Bundles; kept\): (.+)$", re.MULTILINE)


def case_rows(stdout: str) -> dict[str, list[str]]:
    """file name -> the row's cells (file, job, case, status, next step, category)."""
    return {
        line.split()[0]: line.split()
        for line in stdout.splitlines()
        if (".json" in line or ".hl7" in line) and not line.startswith("MLLP")
    }


def assert_every_example_interpreted(stdout: str) -> None:
    """The statuses the bundled examples give, over HTTP and over MLLP."""
    rows = case_rows(stdout)
    assert rows["breast-ihc2plus-no-ish.json"][3:5] == ["Equivocal", "reflex-ish"]
    assert rows["1-breast-ihc2plus-first.json"][3] == "Equivocal"
    assert rows["2-breast-ish-same-specimen-later.json"][3:6] == ["Positive", "-", "HER2-positive"]
    # HL7 v2 over MLLP: CAP checklist IHC 2+, then labelled-text ISH of the same accession
    assert "MLLP 1-cap-checklist-ihc2plus.hl7: ACK AA" in stdout
    assert rows["1-cap-checklist-ihc2plus.hl7"][3:5] == ["Equivocal", "reflex-ish"]
    assert rows["2-labelled-text-ish-same-accession.hl7"][3:6] == ["Positive", "-", "HER2-positive"]
    assert rows["3-loinc-ihc1plus.hl7"][3] == "Negative"
    case_lines = [line for line in stdout.splitlines() if line.startswith("2-labelled")]
    assert len(case_lines) == 1  # one case: its input Observations are not listed as cases


def output_directory(stdout: str) -> Path:
    """The directory the demo said it writes its logs and Bundles to."""
    found = OUTPUT_DIRECTORY.search(stdout)
    assert found, stdout
    return Path(found.group(1))
