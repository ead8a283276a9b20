"""A case's next state and report (adapter/service/settle.py): contract 3's report versions,
a message that changes nothing, a case whose inputs are all withdrawn. Pure: no Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapter.mapping_files import default_mappings
from adapter.service.arrivals import CaseArrival
from adapter.service.case_state import StoredCase
from adapter.service.settle import Settlement, settle
from tests.builders import ihc_observation, ish_observation

KEY = "specimen|Specimen/s"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def arrive(state: StoredCase, *resources: dict[str, Any]) -> Settlement:
    return settle(
        state,
        CaseArrival(KEY, [(r, None) for r in resources]),
        default_mappings(),
        site=None,
        recorded=NOW,
    )


def statuses(settled: Settlement) -> tuple[str, str]:
    """(report status, HER2 status code or text) of what was written."""
    observation, report, _ = settled.write[:3]
    value = observation["valueCodeableConcept"]
    return report["status"], value.get("text") or value["coding"][0]["code"]


def test_a_report_is_preliminary_or_final_until_it_has_been_final() -> None:
    first = arrive(StoredCase.new(KEY), ihc_observation("2+"))  # Equivocal: preliminary
    assert statuses(first) == ("preliminary", "Equivocal")
    second = arrive(first.state, ish_observation("2.5", her2="6.0"))
    assert statuses(second) == ("final", "Positive")


def test_once_final_every_later_version_is_amended_whatever_its_value() -> None:
    final = arrive(StoredCase.new(KEY), ihc_observation("1+"))
    assert statuses(final) == ("final", "Negative")
    more = arrive(final.state, ish_observation("2.5", her2="6.0"))
    assert statuses(more) == ("amended", "Positive")
    # the IHC withdrawn, a preliminary ISH left: amended, never preliminary again (contract 3)
    prelim = ish_observation("1.5", her2="3.0", id="ish-2", status="preliminary")
    withdrawn = ihc_observation("1+", status="entered-in-error")
    later = arrive(more.state, withdrawn, prelim, ish_observation("2.5", status="entered-in-error"))
    assert later.write[1]["status"] == "amended"


def test_a_message_sent_again_changes_nothing_and_writes_nothing() -> None:
    first = arrive(StoredCase.new(KEY), ihc_observation("3+"))
    again = arrive(first.state, ihc_observation("3+"))
    assert again.write == ()
    assert again.state == first.state


def test_a_case_whose_every_input_is_withdrawn_is_entered_in_error() -> None:
    first = arrive(StoredCase.new(KEY), ihc_observation("3+"))
    gone = arrive(first.state, ihc_observation("3+", status="entered-in-error"))
    assert [r["status"] for r in gone.write[:2]] == ["entered-in-error", "entered-in-error"]
    assert arrive(gone.state, ihc_observation("3+", status="entered-in-error")).write == ()
