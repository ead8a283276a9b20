"""The case's clinically relevant time (adapter-contract.md 3): latest effective, else issued."""

from __future__ import annotations

from typing import Any

from adapter.fhir.findings import read_message
from adapter.mapping_files import default_mappings
from tests.builders import her2_bundle, ihc_observation, ish_observation


def effective_of(*resources: dict[str, Any]) -> str | None:
    message = her2_bundle(*resources) if len(resources) > 1 else resources[0]
    (case,) = read_message(message, default_mappings()).cases
    return case.effective


def test_the_latest_effective_time_of_the_inputs() -> None:
    ihc = ihc_observation("2+", effectiveDateTime="2026-03-01", issued="2026-04-09T00:00:00Z")
    ish = ish_observation("2.5", her2="6.1", effectivePeriod={"start": "2026-03-05T08:00:00Z"})
    assert effective_of(ihc, ish) == "2026-03-05T08:00:00Z"


def test_times_are_compared_in_utc_and_kept_as_written() -> None:
    ihc = ihc_observation("2+", effectiveDateTime="2026-03-31T23:30:00-02:00")  # 04-01 UTC
    ish = ish_observation("2.5", her2="6.1", effectiveDateTime="2026-04-01T00:30:00Z")
    assert effective_of(ihc, ish) == "2026-03-31T23:30:00-02:00"


def test_a_year_only_time_stays_a_year() -> None:
    assert effective_of(ihc_observation("0", effectiveDateTime="2010")) == "2010"


def test_without_effective_the_latest_issued() -> None:
    ihc = ihc_observation("2+", issued="2026-02-01T10:00:00Z")
    ish = ish_observation("2.5", her2="6.1", id="ish", issued="2026-02-03T10:00:00Z")
    assert effective_of(ihc, ish) == "2026-02-03T10:00:00Z"


def test_no_time_at_all() -> None:
    assert effective_of(ihc_observation("2+")) is None
