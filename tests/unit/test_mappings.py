"""mappings/: every contract code present; malformed files fail naming file and entry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapter.errors import MappingError
from adapter.interpretation.decision import Category, Flag, NextStep
from adapter.mapping_files import default_mappings, load_mappings

SOURCE = Path(__file__).resolve().parents[2] / "mappings"


def test_every_contract_code_is_mapped() -> None:
    m = default_mappings()
    for code in [
        "85319-2",
        "18474-7",
        "85318-4",
        "31150-6",
        "96893-3",
        "49683-6",
        "74860-8",
        "74861-6",
        "74885-5",
        "48676-1",
    ]:
        assert m.role("http://loinc.org", code) is not None, code
    for enum in (NextStep, Category, Flag):
        for member in enum:
            assert m.concept(member.value).code == member.value
    assert {
        m.outbound_status(s).code
        for s in ["status-positive", "status-negative", "status-equivocal", "status-indeterminate"]
    } == {"LA6576-8", "LA6577-6", "LA11885-3", "LA11884-6"}
    assert m.role("http://loinc.org", "34566") is None  # a non-LOINC string is no HER2 code


def broken(tmp_path: Path, name: str, edit: Any) -> Path:
    shutil.copytree(SOURCE, tmp_path / "m")
    path = tmp_path / "m" / name
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return tmp_path / "m"


def test_unknown_target_names_file_and_entry(tmp_path: Path) -> None:
    d = broken(
        tmp_path,
        "inbound-answers.conceptmap.json",
        lambda j: j["group"][0]["element"][3]["target"][0].update(code="bogus"),
    )
    with pytest.raises(
        MappingError,
        match=r"mappings/inbound-answers.conceptmap.json: group\[0\].element\[3\]: "
        r"target code 'bogus' is not a known concept",
    ):
        load_mappings(d)


def test_duplicate_source_with_other_target(tmp_path: Path) -> None:
    def dup(j: Any) -> None:
        j["group"][0]["element"].append(
            {"code": "85319-2", "target": [{"code": "ish-ratio", "equivalence": "equivalent"}]}
        )

    with pytest.raises(
        MappingError,
        match=r"inbound-roles.conceptmap.json: group\[0\].element\[10\]: source '85319-2'",
    ):
        load_mappings(broken(tmp_path, "inbound-roles.conceptmap.json", dup))


def test_target_of_a_wrong_kind(tmp_path: Path) -> None:
    d = broken(
        tmp_path,
        "inbound-roles.conceptmap.json",
        lambda j: j["group"][0]["element"][0]["target"][0].update(code="HER2-low"),
    )
    with pytest.raises(MappingError, match="is a category, not allowed here"):
        load_mappings(d)


def test_fhir_invalid_file_and_missing_contract_code(tmp_path: Path) -> None:
    d = broken(
        tmp_path,
        "inbound-sites.conceptmap.json",
        lambda j: j.update(status="nonsense-status", group="x"),
    )
    with pytest.raises(MappingError, match=r"mappings/inbound-sites\.conceptmap\.json: group"):
        load_mappings(d)
    d2 = broken(tmp_path / "b", "her2-adapter.codesystem.json", lambda j: j["concept"].pop(0))
    with pytest.raises(MappingError, match="reflex-ish"):
        load_mappings(d2)


def test_not_json_and_unregistered_files(tmp_path: Path) -> None:
    shutil.copytree(SOURCE, tmp_path / "m")
    (tmp_path / "m" / "extra.conceptmap.json").write_text("{}")
    with pytest.raises(MappingError, match=r"extra\.conceptmap\.json: not in"):
        load_mappings(tmp_path / "m")
    (tmp_path / "m" / "extra.conceptmap.json").unlink()
    (tmp_path / "m" / "inbound-text.conceptmap.json").write_text("{")
    with pytest.raises(MappingError, match=r"inbound-text\.conceptmap\.json: cannot read"):
        load_mappings(tmp_path / "m")


def test_a_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=rf"{tmp_path / 'absent'}: no such directory"):
        load_mappings(tmp_path / "absent")
