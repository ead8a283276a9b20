"""The four outputs (qa-report-contract.md 6): FHIR MeasureReports valid R4B with a group per
figure stratified by laboratory, a self-contained HTML page with a funnel plot per site, and
nothing that identifies a patient in any of them."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fhir.resources.R4B.bundle import Bundle

from adapter.qa.figures import COLUMNS
from tests.qa.conftest import Population, her2_adapter
from tests.qa.population import SITES, V2_FACILITY
from tests.support.phi import phi_found

pytestmark = pytest.mark.slow
FORMATS = ("csv", "json", "html", "fhir")


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


def test_html_is_self_contained_with_the_table_and_a_funnel_per_site(generated: Population) -> None:
    rows = her2_adapter("qa", *generated.sources).stdout.splitlines()
    page = her2_adapter("qa", "--format", "html", *generated.sources).stdout
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=|url\(|@import""", page, re.IGNORECASE)
    assert page.count("<tr class=") == len(rows) - 1
    sites = {row.split(",")[1] for row in rows[1:]}
    assert page.count("<svg ") == len(sites) == len({"breast", "gastric"} & set(SITES))
    assert "band 10.3-23.1%" in page
    assert "95% control limits" in page
    assert "99.8% control limits" in page


def test_no_output_holds_a_patient_name_birth_date_identifier_or_accession(
    generated: Population,
) -> None:
    # Every name, MRN and accession number carries one of these stems; birth dates are
    # looked for as dates, in the FHIR (1942-07-02) and the HL7 v2 (19420702) form.
    stems = ["Marlowbridge", "Quintessa", "MRN-ZX", "ACC-QQ"]
    births = {
        c.patient["birth"].replace("-", "") if c.lab == V2_FACILITY else c.patient["birth"]
        for c in generated.cases
    }
    messages = "".join(path.read_text() for path in generated.messages)
    for case in generated.cases:  # everything looked for was sent
        assert case.patient["mrn"] in messages
        assert case.patient["family"] in messages
    assert all(birth in messages for birth in births)
    interpreted = "".join(path.read_text() for path in generated.sources)
    assert all(stem in interpreted for stem in ("MRN-ZX", "ACC-QQ"))  # the reports' inputs
    for form in FORMATS:
        output = her2_adapter("qa", "--format", form, *generated.sources).stdout
        assert output
        assert [stem for stem in stems if stem.lower() in output.lower()] == [], form
        assert phi_found(output, sorted(births)) == [], form
