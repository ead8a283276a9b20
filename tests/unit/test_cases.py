"""Merge rules of the case store (adapter/cases.py): pure functions, no Redis."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapter.cases import CaseMeta, StoredCase, dumps, identity, loads, merge
from tests.builders import ihc_observation, ish_observation, specimen


def empty() -> StoredCase:
    return StoredCase(CaseMeta(key="specimen|Specimen/s"))


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
    case, _ = merge(empty(), [(ihc_observation("2+"), None)])
    case, amending = merge(case, [(ish_observation("2.5", her2="6.0"), None)])
    assert sorted(case.inputs) == ["Observation/ihc", "Observation/ish"]
    assert not amending
    assert len(case.as_message()["entry"]) == 2


def test_duplicate_arrival_changes_nothing() -> None:
    case, _ = merge(empty(), [(ihc_observation("2+"), None)])
    again, amending = merge(case, [(ihc_observation("2+"), None)])
    assert again.inputs == case.inputs
    assert not amending


def test_amended_version_replaces_the_earlier_one_and_amends() -> None:
    case, _ = merge(empty(), [(ihc_observation("2+"), None)])
    amended = ihc_observation("3+", status="amended")
    case, amending = merge(case, [(amended, None)])
    assert case.inputs["Observation/ihc"]["resource"] == amended
    assert amending


def test_replay_of_a_superseded_version_is_ignored() -> None:
    case, _ = merge(empty(), [(ihc_observation("3+", status="corrected"), None)])
    case2, amending = merge(case, [(ihc_observation("2+"), None)])
    assert case2.inputs == case.inputs
    assert not amending


def test_higher_version_id_wins_whatever_the_status() -> None:
    newer = versioned(ihc_observation("1+"), "3")
    case, _ = merge(empty(), [(newer, None)])
    older = versioned(ihc_observation("3+", status="amended"), "2")
    case, _ = merge(case, [(older, None)])
    assert case.inputs["Observation/ihc"]["resource"] == newer


def test_entered_in_error_withdraws_and_stays_a_tombstone() -> None:
    case, _ = merge(empty(), [(ihc_observation("2+"), None), (ish_observation("2.5"), None)])
    case, amending = merge(case, [(ihc_observation("2+", status="entered-in-error"), None)])
    assert amending
    assert [e["resource"]["id"] for e in case.active] == ["ish"]
    revived, _ = merge(case, [(ihc_observation("2+"), None)])  # a late replay of the withdrawn one
    assert [e["resource"]["id"] for e in revived.active] == ["ish"]


def test_supporting_resources_are_kept_by_name() -> None:
    spec = specimen("s")
    case, _ = merge(empty(), [(ihc_observation("2+"), None)], [(spec, "urn:uuid:spec")])
    assert case.support == {"urn:uuid:spec": {"fullUrl": "urn:uuid:spec", "resource": spec}}
    assert case.all_entries()[1:] == [{"fullUrl": "urn:uuid:spec", "resource": spec}]


def test_site_override_is_remembered() -> None:
    case, _ = merge(empty(), [(ihc_observation("2+"), None)], site="gastric")
    case, _ = merge(case, [(ihc_observation("2+"), None)])
    assert case.meta.site == "gastric"


def test_stored_json_keeps_numbers_exact() -> None:
    resource = ish_observation("1.9999999999999999999", her2="4.00")
    back = loads(dumps(resource))
    assert back == resource
    assert back["valueQuantity"]["value"] == Decimal("1.9999999999999999999")
    assert str(back["component"][0]["valueQuantity"]["value"]) == "4.00"
