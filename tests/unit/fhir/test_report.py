"""Output resources (contract 3): valid R4B, deterministic, codes as the contract fixes them."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle

from adapter.fhir.case import Case
from adapter.fhir.report import case_resources, collection_bundle, transaction_bundle
from adapter.interpretation.decision import (
    Category,
    Flag,
    Interpretation,
    IshGroup,
    NextStep,
    Status,
)
from adapter.interpretation.model import Her2Findings, SiteGroup, TumourSite
from adapter.mapping_files import default_mappings

SITE = TumourSite(SiteGroup.BREAST, assumed=True)
CASE = Case(
    "specimen|Specimen/s",
    Her2Findings(SITE),
    {"reference": "Patient/p"},
    {"reference": "Specimen/s"},
    ("Observation/a", "urn:uuid:b"),
)


def interpretation(
    status: Status, next_step: NextStep | None = None, preliminary: bool = False
) -> Interpretation:
    return Interpretation(
        status,
        next_step,
        IshGroup.G4 if status is Status.NEGATIVE else None,
        Category.HER2_LOW if status is Status.NEGATIVE else None,
        (Flag.SITE_ASSUMED,),
        (),
        (),
        (),
        SITE,
        preliminary,
    )


def test_negative_case_resources() -> None:
    obs, report, prov = case_resources(
        CASE,
        interpretation(Status.NEGATIVE),
        default_mappings(),
        recorded=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert obs["status"] == report["status"] == "final"
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "LA6577-6"
    assert report["conclusionCode"] == [obs["valueCodeableConcept"]]
    codes = [c["code"]["coding"][0]["code"] for c in obs["component"]]
    assert codes == ["HER2-low", "ish-group", "site-assumed"]
    assert obs["component"][1]["valueInteger"] == 4
    assert [d["reference"] for d in obs["derivedFrom"]] == ["Observation/a", "urn:uuid:b"]
    assert report["result"][0]["reference"] == f"urn:uuid:{obs['id']}"
    assert len(report["result"]) == 3
    assert {c["coding"][0]["code"] for c in report["category"]} == {"LP7839-6", "SP"}
    assert report["code"]["coding"][0]["code"] == "60568-3"
    assert report["conclusion"]
    assert [e["role"] for e in prov["entity"]] == ["source", "source"]
    assert prov["agent"][0]["who"]["display"].startswith("her2-fhir-adapter ")
    assert obs["identifier"] == report["identifier"]


def test_pending_value_is_the_next_step_code_and_preliminary() -> None:
    obs, report, _ = case_resources(
        CASE,
        interpretation(Status.PENDING, NextStep.BLINDED_RECOUNT),
        default_mappings(),
        recorded=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert obs["status"] == report["status"] == "preliminary"
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "blinded-recount"
    assert (
        obs["valueCodeableConcept"]["coding"][0]["system"]
        == "https://her2-fhir-adapter.org/fhir/CodeSystem/her2-adapter"
    )


def test_same_input_same_output_except_run_time() -> None:
    m = default_mappings()
    first = case_resources(
        CASE, interpretation(Status.POSITIVE), m, recorded=datetime(2025, 1, 1, tzinfo=UTC)
    )
    again = case_resources(
        CASE, interpretation(Status.POSITIVE), m, recorded=datetime(2026, 1, 1, tzinfo=UTC)
    )
    for a, b in zip(first, again, strict=True):
        for r in (a, b):
            r.pop("meta"), r.pop("issued", None), r.pop("recorded", None)
        assert a == b
    other = case_resources(
        Case("specimen|Specimen/t", CASE.findings, None, None, ("Observation/a",)),
        interpretation(Status.POSITIVE),
        m,
        recorded=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert {r["id"] for r in other}.isdisjoint({r["id"] for r in first})


def test_bundles_validate_and_use_put() -> None:
    resources = case_resources(
        CASE,
        interpretation(Status.EQUIVOCAL, NextStep.REFLEX_ISH),
        default_mappings(),
        recorded=datetime(2025, 1, 1, tzinfo=UTC),
    )
    collection = collection_bundle(resources)
    Bundle.model_validate(collection)
    assert collection["entry"][0]["fullUrl"] == f"urn:uuid:{resources[0]['id']}"
    transaction = transaction_bundle(resources)
    assert transaction["entry"][1]["request"] == {
        "method": "PUT",
        "url": f"DiagnosticReport/{resources[1]['id']}",
    }


def test_an_input_without_id_or_full_url_is_described_not_referenced() -> None:
    nameless = Case("message|x", Her2Findings(SITE), None, None, ("Observation",))
    obs, report, prov = case_resources(
        nameless,
        interpretation(Status.NEGATIVE),
        default_mappings(),
        recorded=datetime(2025, 1, 1, tzinfo=UTC),
    )
    described = {"display": "input Observation without id or fullUrl"}
    assert obs["derivedFrom"] == [described]
    assert report["result"][1:] == [described]
    assert prov["entity"][0]["what"] == described
