"""Which version of a case's report a write-back may replace (adapter/service/write_fence.py).

The server's answer is the one input from outside: `ServerHolding` is a FhirServer whose GET of
the report answers a report built here by the real settle (no HTTP); the rules themselves are
pure. Real-server behaviour: tests/integration/test_stale_write.py and the failover soak."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from adapter.errors import DependencyUnavailable
from adapter.fhir.server_references import for_server
from adapter.fhir_server import FhirServer
from adapter.service.case_state import StoredCase
from adapter.service.settle import Settlement
from adapter.service.write_fence import fenced, if_match
from tests.builders import ihc_observation, ish_observation
from tests.unit.service.test_settle import KEY, arrive


class ServerHolding(FhirServer):
    """The FHIR server as far as the fence asks it: the report it holds now (or none)."""

    def __init__(self, report: dict[str, Any] | None) -> None:
        super().__init__(httpx.Client(), "http://fhir.test")
        self.report = report

    def current(self, reference: str) -> dict[str, Any] | None:
        assert reference.startswith("DiagnosticReport/")
        return self.report


def as_stored(settled: Settlement, version: str) -> dict[str, Any]:
    """The settlement's report as a server keeps it: its own urn:uuid references resolved."""
    resources = for_server(list(settled.write), settled.state.all_entries())
    report = next(r for r in resources if r["resourceType"] == "DiagnosticReport")
    text = json.dumps(report, default=str).replace("urn:uuid:", "Observation/")
    return {**json.loads(text), "meta": {"versionId": version}}


def resettle(*resources: dict[str, Any]) -> Any:
    return lambda stored: arrive(stored, *resources)


def test_known_versions_are_matched_without_a_read() -> None:
    first = arrive(StoredCase.new(KEY), ihc_observation("2+"))
    stored = first.state.written({"DiagnosticReport/x": "3"})
    report_id = next(r["id"] for r in first.write if r["resourceType"] == "DiagnosticReport")
    stored = stored.written({f"DiagnosticReport/{report_id}": "3"})
    settled = arrive(stored, ish_observation("2.5", her2="6.0"))
    _, resources, versions = fenced(stored, settled, None, ServerHolding(None), resettle())
    assert versions[f"DiagnosticReport/{report_id}"] == "3"
    assert resources


def test_a_refusal_upon_the_same_known_versions_drops_them() -> None:
    stored = StoredCase.new(KEY).written({"DiagnosticReport/r": "2"})
    assert if_match(stored, {"DiagnosticReport/r": "2"}) == {}
    assert if_match(stored, {"DiagnosticReport/r": "1"}) == {"DiagnosticReport/r": "2"}


def test_a_report_the_server_already_holds_is_not_written_again() -> None:
    ihc = ihc_observation("3+")
    settled = arrive(StoredCase.new(KEY), ihc)
    server = ServerHolding(as_stored(settled, "1"))
    _, resources, versions = fenced(StoredCase.new(KEY), settled, None, server, resettle(ihc))
    assert resources == []  # a redelivered job whose write had landed
    assert list(versions.values()) == ["1"]


def test_a_final_report_the_case_lost_is_followed_by_an_amended_one() -> None:
    final = arrive(StoredCase.new(KEY), ihc_observation("1+"))  # final, its save lost
    ish = ish_observation("2.5", her2="6.0")
    lost = StoredCase.new(KEY)
    later = arrive(lost, ihc_observation("1+"), ish)
    server = ServerHolding(as_stored(final, "1"))
    settled, resources, versions = fenced(
        lost, later, None, server, resettle(ihc_observation("1+"), ish)
    )
    report = next(r for r in resources if r["resourceType"] == "DiagnosticReport")
    assert report["status"] == "amended"  # never back to preliminary or final (contract 3)
    assert settled.state.meta.final_reported
    assert list(versions.values()) == ["1"]


def test_a_report_naming_inputs_the_case_lacks_is_not_overwritten() -> None:
    ish = ish_observation("2.5", her2="6.0", id="ish-1")
    theirs = arrive(StoredCase.new(KEY), ish)  # written, not saved yet
    ours = arrive(StoredCase.new(KEY), ihc_observation("2+", id="ihc-1"))
    server = ServerHolding(as_stored(theirs, "1"))
    with pytest.raises(DependencyUnavailable, match="lacks"):
        fenced(StoredCase.new(KEY), ours, None, server, resettle())


def test_without_a_report_on_the_server_the_first_write_has_no_precondition() -> None:
    settled = arrive(StoredCase.new(KEY), ihc_observation("2+"))
    _, resources, versions = fenced(
        StoredCase.new(KEY), settled, None, ServerHolding(None), resettle()
    )
    assert resources
    assert versions == {}


def test_stored_versions_survive_a_settlement() -> None:
    stored = replace(StoredCase.new(KEY)).written({"DiagnosticReport/r": "4"})
    assert arrive(stored, ihc_observation("2+")).state.meta.versions == {"DiagnosticReport/r": "4"}
