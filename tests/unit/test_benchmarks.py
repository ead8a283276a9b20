"""mappings/qa-benchmarks.json: the contract's bands, each with a source; a broken copy fails
naming the file and the entry (qa-report-contract.md 5)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapter.benchmarks import load_benchmarks
from adapter.errors import MappingError
from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import load_mappings
from tests.unit.test_mappings import broken

SOURCE = Path(__file__).resolve().parents[2] / "mappings"
FILE = "qa-benchmarks.json"


def test_the_bands_are_the_contracts_and_cite_their_sources() -> None:
    benchmarks = load_benchmarks(SOURCE)
    breast = benchmarks.band("positive_pct", SiteGroup.BREAST)
    gastric = benchmarks.band("positive_pct", SiteGroup.GASTRIC)
    groups = benchmarks.band("ish_group_2_4_pct", SiteGroup.BREAST)
    assert breast is not None
    assert (breast.low, breast.high) == (Decimal("10.3"), Decimal("23.1"))
    assert "Choritz" in breast.source
    assert gastric is not None
    assert (gastric.low, gastric.high) == (Decimal("11.8"), Decimal("34.6"))
    assert groups is not None
    assert (groups.low, groups.high, groups.min_denominator) == (None, Decimal(10), 20)
    assert "J Clin Oncol 2018" in groups.source
    assert benchmarks.band("positive_pct", SiteGroup.OTHER) is None
    assert benchmarks.small_sample.decided_below == 30


def test_the_mappings_folder_holding_the_bands_still_loads() -> None:
    assert load_mappings(SOURCE).concept("HER2-low").code == "HER2-low"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda j: j["bands"][1].pop("source"), r"bands\[1\]\.source: Field required"),
        (lambda j: j["bands"][0].update(low=30), r"bands\[0\]: Value error, centre must lie"),
        (lambda j: j["bands"][2].update(site="lung"), r"bands\[2\]\.site: Input should be"),
        (lambda j: j["bands"].append(j["bands"][0]), r"Benchmarks: Value error, two bands"),
        (lambda j: j["bands"][0].update(high=123), r"bands\[0\]\.high: Input should be less"),
        (lambda j: j["small_sample"].update(source=""), r"small_sample\.source: String should"),
    ],
)
def test_a_broken_band_names_file_and_entry(tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(MappingError, match=rf"^mappings/qa-benchmarks\.json: {message}"):
        load_benchmarks(broken(tmp_path, FILE, edit))


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    shutil.copytree(SOURCE, tmp_path / "m")
    (tmp_path / "m" / FILE).write_text("{")
    with pytest.raises(MappingError, match=r"^mappings/qa-benchmarks\.json: cannot read"):
        load_benchmarks(tmp_path / "m")
