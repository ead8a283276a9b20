"""Bad input (contract 5), grouping (1.3) and site (1.4)."""

from __future__ import annotations

from typing import Any

import pytest

from adapter.errors import InvalidResource, NoHer2Result, UnreadableMessage
from adapter.fhir.findings import read_message
from adapter.fhir.json_input import parse_json
from adapter.interpretation.model import SiteGroup, TumourSite
from adapter.mapping_files import default_mappings
from tests.builders import SCT, her2_bundle, ihc_observation, ish_observation, observation, specimen


def read(resource: dict[str, Any], site: SiteGroup | None = None) -> Any:
    return read_message(resource, default_mappings(), site=site)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}\xff', "not UTF-8: byte 0xff at position 8"),
        (b'{"a": ', "not JSON: Expecting value"),
        (b'{"a": NaN}', r"\$\.a: NaN is not a JSON number"),
        (b'{"a": [1, -Infinity]}', r"\$\.a\[1\]: -Infinity is not a JSON number"),
        (b"[1]", "not a FHIR resource"),
    ],
)
def test_unreadable_messages(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableMessage, match=message):
        parse_json(data)


@pytest.mark.parametrize(
    ("data", "expression", "within"),
    [
        (
            b'{"resourceType": "Observation", "valueQuantity": null}',
            "Observation.valueQuantity",
            None,
        ),
        (
            b'{"resourceType": "Observation", "valueCodeableConcept": {"coding": [null]}}',
            "Observation.valueCodeableConcept.coding[0]",
            None,
        ),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": null}]}',
            "Bundle.entry[0].resource",
            None,
        ),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
            b'{"resourceType": "Observation", "status": "final", "valueString": null}}]}',
            "Observation.valueString",
            "Bundle.entry[0].resource",
        ),
    ],
)
def test_json_null_is_refused_naming_the_field(
    data: bytes, expression: str, within: str | None
) -> None:
    # issue 18, class 5: FHIR JSON has no null; `"valueQuantity": null` answered HTTP 500.
    with pytest.raises(InvalidResource, match="null is not a FHIR JSON value") as caught:
        parse_json(data)
    assert (caught.value.expression, caught.value.within) == (expression, within)


@pytest.mark.parametrize(
    ("data", "expression"),
    [
        (b'{"resourceType": "Observation", "status": ""}', "Observation.status"),
        (
            b'{"resourceType": "Observation", "code": {"coding": [{"system": "", "code": "x"}]}}',
            "Observation.code.coding[0].system",
        ),
    ],
)
def test_an_empty_string_is_refused_naming_the_field(data: bytes, expression: str) -> None:
    # An empty coding system made a coded IHC score unrecognisable: the case was decided
    # without it (found by the contract tests).
    with pytest.raises(InvalidResource, match="an empty string is not a FHIR JSON value") as caught:
        parse_json(data)
    assert caught.value.expression == expression


def test_null_beside_a_primitive_extension_array_is_fhir_json() -> None:
    patient = parse_json(
        b'{"resourceType": "Patient", "name": [{"given": [null, "Ann"], '
        b'"_given": [{"extension": [{"url": "urn:x", "valueString": "x"}]}, null]}]}'
    )
    assert patient["name"][0]["given"] == [None, "Ann"]


def test_numbers_stay_exact_decimals() -> None:
    assert str(parse_json('{"v": 1.990}')["v"]) == "1.990"


@pytest.mark.parametrize(
    ("resource", "expression", "within"),
    [
        ({"resourceType": "Patient"}, "Patient", None),
        ({"foo": 1}, "resourceType", None),
        ({"resourceType": "Bundle", "type": "history", "entry": []}, "Bundle.type", None),
        (
            her2_bundle(ihc_observation("1+"), {"resourceType": "Nope"}),
            "Nope.resourceType",
            "Bundle.entry[1].resource",
        ),
        (
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 5}]},
            "Bundle.entry[0].resource",
            None,
        ),
        (
            her2_bundle({"resourceType": "Patient", "id": "p", "gender": 5}),
            "Patient.gender",
            "Bundle.entry[0].resource",
        ),
        (ihc_observation("1+", valueString="x"), "Observation.valueCodeableConcept", None),
    ],
)
def test_invalid_resources_name_field_and_entry(
    resource: dict[str, Any], expression: str, within: str | None
) -> None:
    with pytest.raises(InvalidResource) as caught:
        read(resource)
    assert (caught.value.expression, caught.value.within) == (expression, within)


def test_two_values_name_both_fields() -> None:
    with pytest.raises(InvalidResource, match="valueCodeableConcept and valueString"):
        read(ihc_observation("1+", valueString="x"))


def test_status_only_is_skipped_and_then_no_her2_result() -> None:
    status = observation("48676-1", valueCodeableConcept={"text": "positive"})
    with pytest.raises(NoHer2Result):
        read(status)
    with pytest.raises(NoHer2Result):
        read(her2_bundle({"resourceType": "Patient", "id": "p"}))


def test_same_specimen_one_case_relative_and_urn_references_both_resolve() -> None:
    bundle = her2_bundle(
        specimen("s1", body_site={"coding": [{"system": SCT, "code": "69695003"}]}),
        ihc_observation("2+", id="a", specimen="urn:uuid:s1"),
        ish_observation("2.5", id="b", specimen="Specimen/s1"),
        urn=True,
    )
    (case,) = read(bundle).cases
    assert case.key == "specimen|Specimen/s1"
    assert case.inputs == ("urn:uuid:a", "urn:uuid:b")
    assert case.findings.site == TumourSite(SiteGroup.GASTRIC, organ="stomach")


def test_specimen_less_observations_join_the_subjects_only_specimen_else_a_subject_case() -> None:
    one = her2_bundle(
        specimen("s1"),
        ihc_observation("2+", id="a", specimen=None),
        ish_observation("2.5", id="b", specimen="Specimen/s1"),
    )
    assert [c.key for c in read(one).cases] == ["specimen|Specimen/s1"]
    two = her2_bundle(
        specimen("s1"),
        specimen("s2"),
        ihc_observation("2+", id="a", specimen=None),
        ish_observation("2.5", id="b", specimen=None),
    )
    (case,) = read(two).cases
    assert case.key == "subject|Patient/p"
    assert case.specimen is None
    assert case.subject == {"reference": "Patient/p"}


def test_two_specimens_two_cases_and_no_subject_is_one_message_case() -> None:
    bundle = her2_bundle(
        ihc_observation("3+", id="a", specimen="Specimen/x"),
        ihc_observation("0", id="b", specimen="Specimen/y"),
    )
    assert [c.key for c in read(bundle).cases] == ["specimen|Specimen/x", "specimen|Specimen/y"]
    loose = her2_bundle(
        ihc_observation("3+", id="a", specimen=None, subject=None),
        ish_observation("2.5", id="b", specimen=None, subject=None),
    )
    (case,) = read(loose).cases
    assert case.key.startswith("message|")
    assert case.inputs == ("Observation/a", "Observation/b")
    assert read(loose).cases[0].key == case.key  # stable


def test_messages_that_name_neither_subject_nor_ids_never_share_a_case_key() -> None:
    def nameless(score: str) -> dict[str, Any]:
        observation = ihc_observation(score, specimen=None, subject=None)
        del observation["id"]
        return observation

    first, second = read(nameless("3+")).cases[0], read(nameless("0")).cases[0]
    assert first.key != second.key
    assert read(nameless("3+")).cases[0].key == first.key  # the same message, the same ids


@pytest.mark.parametrize(
    ("body_site", "expected"),
    [
        (
            {"coding": [{"system": SCT, "code": "76752008"}]},
            TumourSite(SiteGroup.BREAST, organ="breast"),
        ),
        (
            {"coding": [{"system": SCT, "code": "32849002"}]},
            TumourSite(SiteGroup.GASTRIC, organ="oesophagus"),
        ),
        (
            {"coding": [{"system": SCT, "code": "25271004"}]},
            TumourSite(SiteGroup.GASTRIC, organ="gastro-oesophageal junction"),
        ),
        (
            {"coding": [{"system": SCT, "code": "71854001"}]},
            TumourSite(SiteGroup.OTHER, organ="colon"),
        ),
        (
            {"coding": [{"system": SCT, "code": "39607008"}]},
            TumourSite(SiteGroup.OTHER, organ="lung"),
        ),
        ({"text": "Endometrium"}, TumourSite(SiteGroup.OTHER, organ="endometrium")),
        ({"text": "Left breast, core biopsy"}, TumourSite(SiteGroup.BREAST, organ="breast")),
        ({"text": "Bladder"}, TumourSite(SiteGroup.OTHER, organ="bladder")),
    ],
)
def test_body_site_names_the_site(body_site: dict[str, Any], expected: TumourSite) -> None:
    assert read(ihc_observation("1+", bodySite=body_site)).cases[0].findings.site == expected


@pytest.mark.parametrize(
    "type_",
    [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "TISS"}]},
        {"coding": [{"system": SCT, "code": "119376003"}]},
        {"text": "Tissue"},
        {"text": "Cytology smear"},
    ],
)
def test_generic_specimen_kinds_name_no_site(type_: dict[str, Any]) -> None:
    site = (
        read(her2_bundle(specimen("s", type_=type_), ihc_observation("1+", specimen="Specimen/s")))
        .cases[0]
        .findings.site
    )
    assert site == TumourSite(SiteGroup.BREAST, assumed=True)


@pytest.mark.parametrize(
    ("type_", "organ"),
    [
        # issue 18, class 3: an organ outside the listed codes is "other", never breast assumed
        (
            {"coding": [{"system": SCT, "code": "89837001"}], "text": "Urinary bladder"},
            "urinary bladder",
        ),
        ({"coding": [{"display": "Urinary bladder"}]}, "urinary bladder"),  # a display alone
        ({"coding": [{"system": SCT, "code": "89837001"}]}, "89837001"),  # a bare SNOMED code
        ({"text": "Specimen from kidney"}, "specimen from kidney"),
    ],
)
def test_a_specimen_type_naming_an_unlisted_organ_is_other(
    type_: dict[str, Any], organ: str
) -> None:
    bundle = her2_bundle(specimen("s", type_=type_), ihc_observation("1+", specimen="Specimen/s"))
    assert read(bundle).cases[0].findings.site == TumourSite(SiteGroup.OTHER, organ=organ)


@pytest.mark.parametrize(
    "type_",
    [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "BX"}]},
        {"text": "Core needle biopsy"},
        {"text": "FFPE tissue block, left"},
        {"coding": [{"system": "urn:local", "code": "CB7"}]},  # a local code names nothing
    ],
)
def test_specimen_kinds_and_local_codes_name_no_site(type_: dict[str, Any]) -> None:
    bundle = her2_bundle(specimen("s", type_=type_), ihc_observation("1+", specimen="Specimen/s"))
    assert read(bundle).cases[0].findings.site == TumourSite(SiteGroup.BREAST, assumed=True)


def test_specimen_collection_body_site_then_override() -> None:
    bundle = her2_bundle(
        specimen("s", body_site={"coding": [{"system": SCT, "code": "34402009"}]}),
        ihc_observation("1+"),
    )
    assert read(bundle).cases[0].findings.site == TumourSite(SiteGroup.OTHER, organ="rectum")
    assert read(bundle, SiteGroup.BREAST).cases[0].findings.site == TumourSite(
        SiteGroup.BREAST, overridden=True
    )
