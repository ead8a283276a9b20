"""The generated population, interpreted by the adapter itself (the console script), once per
session: the QA report is then run on exactly what `interpret` printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.qa.population import (
    SENT_TWICE,
    V2_FACILITY,
    Case,
    fhir_message,
    ndjson,
    population,
    v2_message,
)

SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"


def her2_adapter(
    *args: str | Path, stdin: bytes = b"", env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script (`env`: variables to set, or with None to unset); a stack
    trace is never an acceptable output."""
    changed = {**os.environ, **(env or {})}
    ran = subprocess.run(
        [SCRIPT, *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=300,
        env={k: v for k, v in changed.items() if v is not None},
        check=False,
    )
    result = subprocess.CompletedProcess(
        ran.args, ran.returncode, ran.stdout.decode(), ran.stderr.decode()
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@dataclass(frozen=True)
class Population:
    cases: list[Case]
    sources: list[Path]  # interpret's outputs: first reports, later reports, the v2 Bundle
    messages: list[Path]  # what was interpreted


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Population:
    folder = tmp_path_factory.mktemp("qa-population")
    cases = population()
    fhir = [c for c in cases if c.lab != V2_FACILITY]
    early = [fhir_message(c, ihc_only=True) for c in fhir if c.name in SENT_TWICE]
    messages = {
        "early.ndjson": ndjson(early),
        "later.ndjson": ndjson([fhir_message(c) for c in fhir]),
        "small.hl7": "".join(v2_message(c) for c in cases if c.lab == V2_FACILITY),
    }
    sources = []
    for name, text in messages.items():
        (folder / name).write_text(text)
        mode = ("--hl7v2", folder / name) if name.endswith(".hl7") else ("--ndjson", folder / name)
        ran = her2_adapter("interpret", *mode)  # one after the other: later runs, later issued
        assert ran.returncode == 0, ran.stderr
        out = folder / f"{name}.out"
        out.write_text(ran.stdout)
        sources.append(out)
    return Population(cases, sources, [folder / name for name in messages])
