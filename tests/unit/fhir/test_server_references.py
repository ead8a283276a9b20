"""References written back are ones the EHR's FHIR server can resolve (server_references.py)."""

from __future__ import annotations

import copy
from typing import Any

from adapter.fhir.server_references import for_server
from tests.builders import ihc_observation, specimen

OWN = {"reference": "urn:uuid:6f1c2a9e-0000-5000-8000-000000000001", "type": "Observation"}


def report(*inputs: str, specimen_ref: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "result": [OWN, *({"reference": name} for name in inputs)],
    }
    if specimen_ref:
        resource["specimen"] = [{"reference": specimen_ref}]
    return resource


def entry(resource: dict[str, Any], full_url: str | None) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}


def test_an_input_named_by_fullurl_with_an_id_is_named_type_slash_id() -> None:
    spec = specimen("s1")
    entries = [entry(ihc_observation("2+", id="ihc-1"), "urn:uuid:a"), entry(spec, "urn:uuid:b")]
    [written] = for_server([report("urn:uuid:a", specimen_ref="urn:uuid:b")], entries)
    assert written["result"] == [OWN, {"reference": "Observation/ihc-1"}]
    assert written["specimen"] == [{"reference": "Specimen/s1"}]


def test_an_input_without_id_is_named_by_its_identifier_without_its_assigner() -> None:
    ihc = ihc_observation("2+")
    del ihc["id"]
    ihc["identifier"] = [
        {"use": "official"},  # no value: names nothing
        {
            "system": "urn:lab:result",
            "value": "R-1",
            "assigner": {"reference": "Organization/lab"},
        },
    ]
    [written] = for_server([report("urn:uuid:a")], [entry(ihc, "urn:uuid:a")])
    assert written["result"][1] == {
        "type": "Observation",
        "identifier": {"system": "urn:lab:result", "value": "R-1"},
    }


def test_an_input_with_neither_id_nor_identifier_is_only_described() -> None:
    ihc = ihc_observation("2+")
    del ihc["id"]
    [written] = for_server([report("urn:uuid:a")], [entry(ihc, "urn:uuid:a")])
    assert written["result"][1] == {
        "type": "Observation",
        "display": "Observation urn:uuid:a of the message: no id or identifier",
    }
    assert "reference" not in written["result"][1]


def test_own_urns_references_by_id_and_absolute_urls_without_id_stay_as_written() -> None:
    absolute = ihc_observation("1+")
    del absolute["id"]
    url = "https://ehr.example/fhir/Observation/x"
    resources = [report("Observation/ihc-9", url)]
    before = copy.deepcopy(resources)
    written = for_server(resources, [entry(absolute, url), entry(ihc_observation("3+"), None)])
    assert written == before
    assert resources == before  # the arguments are not changed
