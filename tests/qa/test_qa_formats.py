"""The outputs beside CSV and JSON (qa-report-contract.md 6): FHIR MeasureReports valid R4B
with a group per figure stratified by laboratory."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from adapter.qa.figures import COLUMNS
from tests.qa.conftest import Population, her2_adapter

pytestmark = pytest.mark.slow


def test_fhir_one_measure_report_per_site_and_period(generated: Population) -> None:
    rows = list(csv.DictReader(io.StringIO(her2_adapter("qa", *generated.sources).stdout)))
    bundle = json.loads(her2_adapter("qa", "--format", "fhir", *generated.sources).stdout)
    Bundle.model_validate(bundle)  # every MeasureReport valid R4B
    reports = [e["resource"] for e in bundle["entry"]]
    keys = list(dict.fromkeys((r["site"], r["period"]) for r in rows))
    assert len(reports) == len(keys)
    for report, (site, period) in zip(reports, keys, strict=True):
        assert (report["resourceType"], report["type"], report["status"]) == (
            "MeasureReport",
            "summary",
            "complete",
        )
        assert report["period"]["start"].startswith(period)
        figures = [g["code"]["coding"][0]["code"] for g in report["group"]]
        assert figures == list(COLUMNS[3:-1])
        mine = [r for r in rows if (r["site"], r["period"]) == (site, period)]
        labs = [r["lab"] for r in mine if r["lab"] != "all"]
        total = next(r for r in mine if r["lab"] == "all")
        for group, figure in zip(report["group"], figures, strict=True):
            strata = group["stratifier"][0]["stratum"]
            assert [s["value"]["text"] for s in strata] == labs
            for holder, row in (
                (group, total),
                *zip(strata, [r for r in mine if r["lab"] != "all"], strict=True),
            ):
                score = holder.get("measureScore", {}).get("value")
                assert ("" if score is None else str(score)) == row[figure], (figure, row["lab"])
                flags = [e["valueCoding"]["code"] for e in holder.get("extension", ())]
                judged = {
                    "positive_pct": ("positivity-high", "positivity-low", "small-sample"),
                    "ish_group_2_4_pct": ("ish-groups-high",),
                }.get(figure, ())
                assert flags == [f for f in row["flags"].split(";") if f in judged]
