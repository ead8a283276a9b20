"""`her2-adapter qa` over a generated population interpreted by the adapter: every count,
interval and flag as the generated composition and the contract say (qa-report-contract.md)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.qa.conftest import Population, her2_adapter
from tests.qa.expected import expected_rows
from tests.qa.population import PLANS, V2_FACILITY

pytestmark = pytest.mark.slow


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_row_count_interval_and_flag_is_the_expected_one(generated: Population) -> None:
    ran = her2_adapter("qa", *generated.sources)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    assert csv_rows(ran.stdout) == expected_rows(generated.cases)


def test_each_case_counts_once_by_its_latest_report_in_any_order(generated: Population) -> None:
    later_first = [*reversed(generated.sources)]
    assert her2_adapter("qa", *later_first).stdout == her2_adapter("qa", *generated.sources).stdout


def test_the_population_holds_what_the_flags_need(generated: Population) -> None:
    rows = {
        (r["lab"], r["site"], r["period"]): r
        for r in csv_rows(her2_adapter("qa", *generated.sources).stdout)
    }
    labs = {lab for lab, _, _ in rows}
    assert labs == {*PLANS, "all"}
    normal = rows[("LAB-NORMAL", "breast", "2026-01")]
    assert (normal["dual_probe_ish"], normal["ish_group_2_4_pct"]) == ("20", "10.0")  # not > 10
    assert rows[(V2_FACILITY, "breast", "2026-02")]["flags"] == "small-sample"


def test_json_holds_the_same_rows_and_the_bands(generated: Population) -> None:
    document = json.loads(her2_adapter("qa", "--format", "json", *generated.sources).stdout)
    expected = expected_rows(generated.cases)
    assert len(document["rows"]) == len(expected)
    for got, want in zip(document["rows"], expected, strict=True):
        as_text = {
            k: ";".join(v) if isinstance(v, list) else "" if v is None else str(v)
            for k, v in got.items()
        }
        assert as_text == want
    bands = {
        (b["figure"], b["site"]): (b["low"], b["high"]) for b in document["benchmarks"]["bands"]
    }
    assert bands[("positive_pct", "breast")] == (10.3, 23.1)
    assert "Choritz" in document["benchmarks"]["bands"][0]["source"]


@pytest.mark.parametrize(
    ("period", "names"),
    [("quarter", {"2026-Q1"}), ("year", {"2026"}), ("all", {"all"})],
)
def test_coarser_periods_add_the_months_up(
    generated: Population, period: str, names: set[str]
) -> None:
    rows = csv_rows(her2_adapter("qa", "--period", period, *generated.sources).stdout)
    assert {r["period"] for r in rows} == names
    by_month = csv_rows(her2_adapter("qa", *generated.sources).stdout)
    for row in rows:
        months = [m for m in by_month if (m["lab"], m["site"]) == (row["lab"], row["site"])]
        assert int(row["cases"]) == sum(int(m["cases"]) for m in months)
        assert int(row["positive"]) == sum(int(m["positive"]) for m in months)
