"""`her2-adapter qa` as a command: its sources (files, `-`, the directory sink), what it does
with a source it cannot read, and its exit statuses (qa-report-contract.md 3, 6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapter.fhir_server import DirectorySink
from adapter.mapping_files import mappings_directory
from tests.qa.conftest import Population, her2_adapter
from tests.qa.sinks import case_transactions, printed_bundles

pytestmark = pytest.mark.slow


def test_an_unreadable_source_is_named_and_the_others_still_counted(
    generated: Population, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.ndjson"
    ran = her2_adapter("qa", missing, *generated.sources)
    assert ran.returncode == 2
    assert ran.stderr == f"her2-adapter: {missing}: cannot be read: No such file or directory\n"
    assert ran.stdout == her2_adapter("qa", *generated.sources).stdout


def test_a_line_that_is_not_json_is_named_and_the_others_still_counted(
    generated: Population, tmp_path: Path
) -> None:
    lines = generated.sources[1].read_text().splitlines()
    broken = tmp_path / "broken.ndjson"
    broken.write_text("\n".join([lines[0], '{"resourceType": "Bund', *lines[1:]]) + "\n")
    ran = her2_adapter("qa", generated.sources[0], broken, generated.sources[2])
    assert ran.returncode == 2
    assert ran.stderr == f"her2-adapter: {broken}: line 2: not JSON\n"
    assert ran.stdout == her2_adapter("qa", *generated.sources).stdout


def test_standard_input(generated: Population) -> None:
    together = b"".join(
        json.dumps(b).encode() + b"\n" for s in generated.sources for b in printed_bundles(s)
    )
    ran = her2_adapter("qa", "-", stdin=together)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == her2_adapter("qa", *generated.sources).stdout


def test_the_directory_sinks_bundles(generated: Population, tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path / "sink")
    for source in generated.sources:
        for transaction in case_transactions(source):
            sink.transaction(transaction)
    (tmp_path / "sink" / ".tmp-half-written.json").write_text('{"resourceType": "Bun')
    ran = her2_adapter("qa", tmp_path / "sink")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == her2_adapter("qa", *generated.sources).stdout


def test_reports_not_counted_are_told_on_standard_error(
    generated: Population, tmp_path: Path
) -> None:
    withdrawn = next(printed_bundles(generated.sources[1]))
    for entry in withdrawn["entry"]:
        if entry["resource"]["resourceType"] == "DiagnosticReport":
            entry["resource"]["status"] = "entered-in-error"
            entry["resource"]["issued"] = "2099-01-01T00:00:00Z"  # later than every other
    later = tmp_path / "withdrawn.json"
    later.write_text(json.dumps(withdrawn, indent=2))  # an indented document, read whole
    ran = her2_adapter("qa", *generated.sources, later)
    assert ran.returncode == 0
    assert ran.stderr == "warning: 1 case(s) not counted: entered-in-error\n"
    before = her2_adapter("qa", *generated.sources).stdout.splitlines()
    after = ran.stdout.splitlines()
    assert len(before) == len(after)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert len(changed) == 2  # the case's laboratory row and its `all` row
    assert all(int(b.split(",")[3]) - int(a.split(",")[3]) == 1 for b, a in changed)


def test_give_sources_or_a_server_not_both() -> None:
    for args in ((), ("--fhir-server", "http://127.0.0.1:9", "x.json")):
        ran = her2_adapter("qa", *args)
        assert ran.returncode == 2
        assert "give either SOURCE... or --fhir-server URL" in ran.stderr


def test_broken_bands_stop_it_before_reading(tmp_path: Path, generated: Population) -> None:
    shutil.copytree(mappings_directory(), tmp_path / "m")
    bands = tmp_path / "m" / "qa-benchmarks.json"
    data = json.loads(bands.read_text())
    data["bands"][0]["low"] = 40
    bands.write_text(json.dumps(data))
    ran = her2_adapter("qa", *generated.sources, env={"ADAPTER_MAPPINGS_DIR": str(tmp_path / "m")})
    assert ran.returncode == 1
    assert ran.stdout == ""
    assert ran.stderr.startswith("her2-adapter: mappings: mappings/qa-benchmarks.json: bands[0]")
    assert ran.stderr.count("\n") == 1
