"""Merge rules of a case's state (adapter/service/case_state.py): pure functions, no Redis."""

from __future__ import annotations

from typing import Any

from adapter.service.case_state import StoredCase, identity, merge
from tests.builders import ihc_observation, ish_observation, specimen


def empty() -> StoredCase:
    return StoredCase.new("specimen|Specimen/s")


def versioned(resource: dict[str, Any], version: str) -> dict[str, Any]:
    return {**resource, "meta": {"versionId": version}}


def test_identity_prefers_type_and_id_then_full_url_then_identifier() -> None:
    obs = ihc_observation("2+", id="ihc-1")
    assert identity(obs, "urn:uuid:x") == "Observation/ihc-1"
    no_id = {k: v for k, v in obs.items() if k != "id"}
    assert identity(no_id, "urn:uuid:x") == "urn:uuid:x"
    with_identifier = {**no_id, "identifier": [{"system": "urn:lab", "value": "A1"}]}
    assert identity(with_identifier, None) == "identifier|urn:lab|A1"
    assert identity(no_id, None) == identity(dict(no_id), None)  # content digest, stable


def test_ihc_then_ish_in_two_arrivals_gives_a_case_of_both() -> None:
    case = merge(empty(), [(ihc_observation("2+"), None)])
    case = merge(case, [(ish_observation("2.5", her2="6.0"), None)])
    assert sorted(case.inputs) == ["Observation/ihc", "Observation/ish"]
    assert len(case.entries()) == 2


def test_duplicate_arrival_changes_nothing() -> None:
    case = merge(empty(), [(ihc_observation("2+"), None)])
    again = merge(case, [(ihc_observation("2+"), None)])
    assert again.inputs == case.inputs


def test_amended_version_replaces_the_earlier_one() -> None:
    case = merge(empty(), [(ihc_observation("2+"), None)])
    amended = ihc_observation("3+", status="amended")
    case = merge(case, [(amended, None)])
    assert case.inputs["Observation/ihc"]["resource"] == amended


def test_replay_of_a_superseded_version_is_ignored() -> None:
    case = merge(empty(), [(ihc_observation("3+", status="corrected"), None)])
    case2 = merge(case, [(ihc_observation("2+"), None)])
    assert case2.inputs == case.inputs


def test_higher_version_id_wins_whatever_the_status() -> None:
    newer = versioned(ihc_observation("1+"), "3")
    case = merge(empty(), [(newer, None)])
    older = versioned(ihc_observation("3+", status="amended"), "2")
    case = merge(case, [(older, None)])
    assert case.inputs["Observation/ihc"]["resource"] == newer


def test_entered_in_error_withdraws_and_stays_a_tombstone() -> None:
    case = merge(empty(), [(ihc_observation("2+"), None), (ish_observation("2.5"), None)])
    case = merge(case, [(ihc_observation("2+", status="entered-in-error"), None)])
    assert [e["resource"]["id"] for e in case.active] == ["ish"]
    revived = merge(case, [(ihc_observation("2+"), None)])  # a late replay of the withdrawn one
    assert [e["resource"]["id"] for e in revived.active] == ["ish"]


def test_supporting_resources_are_kept_by_name() -> None:
    spec = specimen("s")
    case = merge(empty(), [(ihc_observation("2+"), None)], [(spec, "urn:uuid:spec")])
    assert case.support == {"urn:uuid:spec": {"fullUrl": "urn:uuid:spec", "resource": spec}}
    assert case.all_entries()[1:] == [{"fullUrl": "urn:uuid:spec", "resource": spec}]


def test_site_override_is_remembered() -> None:
    case = merge(empty(), [(ihc_observation("2+"), None)], site="gastric")
    case = merge(case, [(ihc_observation("2+"), None)])
    assert case.meta.site == "gastric"
