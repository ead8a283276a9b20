"""Value shapes of contract 1.2, read end to end through read_message."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapter.errors import UnreadableValue
from adapter.fhir.case import Case
from adapter.fhir.findings import read_message
from adapter.interpretation.model import (
    FAILED,
    Comparator,
    IhcScore,
    IhcSubclass,
    IhcValue,
    IshCall,
    Number,
    ReportedStatus,
    ResultStatus,
)
from adapter.mapping_files import default_mappings
from adapter.service.offline import interpret_message
from tests.builders import (
    LOINC,
    SCT,
    component,
    her2_bundle,
    ihc_observation,
    ish_observation,
    observation,
    quantity,
)


def one_case(resource: dict[str, Any]) -> Case:
    reading = read_message(resource, default_mappings())
    assert len(reading.cases) == 1
    return reading.cases[0]


def ihc_of(resource: dict[str, Any]) -> Any:
    return one_case(resource).findings.ihc[0].value


@pytest.mark.parametrize(
    ("score", "expected"),
    [("0", IhcScore.ZERO), ("1+", IhcScore.ONE), ("2+", IhcScore.TWO), ("3+", IhcScore.THREE)],
)
def test_ihc_loinc_answer_codes_read_as_scores(score: str, expected: IhcScore) -> None:
    assert ihc_of(ihc_observation(score)) == IhcValue(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2+", IhcValue(IhcScore.TWO)),
        ("Score 2+", IhcValue(IhcScore.TWO)),
        ("3+ (positive)", IhcValue(IhcScore.THREE)),
        ("0", IhcValue(IhcScore.ZERO)),
        ("1+", IhcValue(IhcScore.ONE)),
        ("0 (ultralow)", IhcValue(IhcScore.ZERO, IhcSubclass.ULTRALOW)),
        ("0 null", IhcValue(IhcScore.ZERO, IhcSubclass.NULL)),
        # issue 18, class 2: a prefix and a sub-class together (contract 1.2 allows both)
        ("Score 0 (ultralow)", IhcValue(IhcScore.ZERO, IhcSubclass.ULTRALOW)),
        ("Score 0 null", IhcValue(IhcScore.ZERO, IhcSubclass.NULL)),
        ("IHC 0 null", IhcValue(IhcScore.ZERO, IhcSubclass.NULL)),
        ("IHC 0 (ultra-low)", IhcValue(IhcScore.ZERO, IhcSubclass.ULTRALOW)),
        ("0-null", IhcValue(IhcScore.ZERO, IhcSubclass.NULL)),
        # the v2 contract's score texts, read alike in both doors (hl7v2-contract.md 3)
        ("Negative (Score 1+)", IhcValue(IhcScore.ONE)),
        ("HER2 Positive (3+)", IhcValue(IhcScore.THREE)),
        ("2+ (equivocal)", IhcValue(IhcScore.TWO)),
    ],
)
def test_ihc_text_forms_read_in_concept_text_and_value_string(
    text: str, expected: IhcValue
) -> None:
    assert ihc_of(ihc_observation(valueCodeableConcept={"text": text})) == expected
    assert ihc_of(ihc_observation(valueString=text)) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1+ to 2+", "more than one IHC score"),
        ("0/1+", "not an IHC score"),
        ("4+", "not an IHC score"),
        ("Positive (Score 1+)", "contradict"),
        ("not 3+", "negation"),
        ("1+ (ultralow)", "sub-class"),
        ("0 null ultralow", "sub-class"),
    ],
)
def test_ihc_text_that_says_more_than_one_thing_is_refused(text: str, why: str) -> None:
    for resource, field in (
        (ihc_observation(valueString=text), "valueString"),
        (ihc_observation(valueCodeableConcept={"text": text}), "valueCodeableConcept"),
    ):
        with pytest.raises(UnreadableValue, match=why) as caught:
            read_message(resource, default_mappings())
        assert caught.value.expression == f"Observation.{field}"


def test_a_coded_ihc_0_takes_its_sub_class_from_its_text_and_refuses_another_score() -> None:
    coded_zero = {"coding": [{"system": LOINC, "code": "LA6111-4"}]}
    assert ihc_of(
        ihc_observation(valueCodeableConcept={**coded_zero, "text": "0 (ultralow)"})
    ) == IhcValue(IhcScore.ZERO, IhcSubclass.ULTRALOW)
    with pytest.raises(UnreadableValue, match="its code says IHC 0 but its text '2\\+'"):
        read_message(
            ihc_observation(valueCodeableConcept={**coded_zero, "text": "2+"}), default_mappings()
        )


@pytest.mark.parametrize(
    ("value", "shown"), [(True, "true"), (False, "false"), ("2", '"2"'), (Decimal("2.0"), "2.0")]
)
def test_a_boolean_string_or_fraction_is_never_an_integer_score(value: Any, shown: str) -> None:
    # issue 18, class 6: Python's bool is an int, and `true` was read as IHC 1+.
    for resource, where in (
        (ihc_observation(valueInteger=value), "Observation.valueInteger"),
        (ish_observation(valueInteger=value), "Observation.valueInteger"),
    ):
        with pytest.raises(UnreadableValue, match=f"{shown} is not an integer") as caught:
            read_message(resource, default_mappings())
        assert caught.value.expression == where


def test_a_boolean_is_never_a_unitless_ihc_quantity_or_an_ish_number() -> None:
    with pytest.raises(UnreadableValue):
        read_message(ihc_observation(valueQuantity={"value": True}), default_mappings())
    with pytest.raises(UnreadableValue) as caught:  # refused by the R4B model already
        read_message(ish_observation(valueQuantity={"value": True}), default_mappings())
    assert caught.value.expression == "Observation.valueQuantity.value"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (Decimal("1e-400"), "not a plausible"),
        (Decimal("1E+31"), "not a plausible"),
        (10**400, "not a finite number"),
        (Decimal("-0.5"), "negative"),
    ],
)
def test_numbers_no_count_or_ratio_can_be_are_refused(value: Any, why: str) -> None:
    with pytest.raises(UnreadableValue, match=why):
        read_message(ish_observation(valueQuantity={"value": value}), default_mappings())


def test_minus_zero_is_zero() -> None:
    count = one_case(ish_observation(valueQuantity={"value": Decimal("-0.0")})).findings
    assert str(count.first_count.ratio[0].value) == "0.0"


def test_a_her2_result_without_value_or_absent_reason_is_refused() -> None:
    # Reading it as "not done" would decide the case without a result that was sent.
    with pytest.raises(UnreadableValue, match="no value and no dataAbsentReason") as caught:
        read_message(
            her2_bundle(ihc_observation("2+"), ish_observation(id="ratio")), default_mappings()
        )
    assert (caught.value.within, caught.value.expression) == (
        "Bundle.entry[1].resource",
        "Observation.value[x]",
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_ihc_value_integer_0_to_3(n: int) -> None:
    assert (
        ihc_of(ihc_observation(valueInteger=n)).score
        == [IhcScore.ZERO, IhcScore.ONE, IhcScore.TWO, IhcScore.THREE][n]
    )


@pytest.mark.parametrize("value", ["positive", "null", "ultralow"])
def test_ihc_zero_sub_class_from_a_component_of_any_code(value: str) -> None:
    if value == "positive":  # a component that does not read null/ultralow leaves plain 0
        assert ihc_of(
            ihc_observation("0", component=[{"code": {"text": "x"}, "valueString": value}])
        ) == IhcValue(IhcScore.ZERO)
        return
    by_text = ihc_observation(
        "0", component=[{"code": {"text": "sub-class"}, "valueString": value}]
    )
    by_code = ihc_observation(
        "0",
        component=[
            {
                "code": {"text": "x"},
                "valueCodeableConcept": {"coding": [{"system": "urn:x", "code": value}]},
            }
        ],
    )
    assert ihc_of(by_text) == ihc_of(by_code) == IhcValue(IhcScore.ZERO, IhcSubclass(value))


@pytest.mark.parametrize(
    ("system", "code_", "expected"),
    [
        (LOINC, "LA6576-8", IhcValue(IhcScore.THREE, score_reported=False)),
        (SCT, "10828004", IhcValue(IhcScore.THREE, score_reported=False)),
        (LOINC, "LA6577-6", IhcValue(IhcScore.ZERO_OR_ONE, score_reported=False)),
        (SCT, "260385009", IhcValue(IhcScore.ZERO_OR_ONE, score_reported=False)),
        (LOINC, "LA11885-3", IhcValue(IhcScore.TWO, score_reported=False)),
        (SCT, "42425007", IhcValue(IhcScore.TWO, score_reported=False)),
        (LOINC, "LA11884-6", FAILED),
        (SCT, "82334004", FAILED),
    ],
)
def test_unscored_and_failed_ihc_answers(system: str, code_: str, expected: Any) -> None:
    assert (
        ihc_of(
            ihc_observation(valueCodeableConcept={"coding": [{"system": system, "code": code_}]})
        )
        == expected
    )


@pytest.mark.parametrize(
    "text", ["indeterminate", "unscorable", "technical failure", "insufficient", "not assessable"]
)
def test_failed_text_forms(text: str) -> None:
    assert ihc_of(ihc_observation(valueString=text)) is FAILED


def test_data_absent_reason_is_failed_but_not_performed_is_absent() -> None:
    assert ihc_of(ihc_observation(dataAbsentReason={"coding": [{"code": "error"}]})) is FAILED
    absent = [
        ihc_observation(dataAbsentReason={"coding": [{"code": "not-performed"}]}),
        ish_observation("2.5", id="i2"),
    ]
    case = read_message(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in absent],
        },
        default_mappings(),
    ).cases[0]
    assert case.findings.ihc == ()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("valueQuantity", quantity("2.20", "{ratio}"), Number(Decimal("2.20"))),
        ("valueQuantity", quantity("1.99"), Number(Decimal("1.99"))),
        ("valueQuantity", quantity("2.2", "ratio", ">"), Number(Decimal("2.2"), Comparator.GT)),
        (
            "valueRatio",
            {"numerator": quantity("2.4"), "denominator": quantity(1)},
            Number(Decimal("2.4")),
        ),
        (
            "valueRatio",
            {"numerator": quantity("9"), "denominator": quantity("4")},
            Number(Decimal("2.25")),
        ),
        (
            "valueRatio",
            {"numerator": quantity("2.2", comparator=">="), "denominator": quantity(1)},
            Number(Decimal("2.2"), Comparator.GE),
        ),
        ("valueInteger", 3, Number(Decimal(3))),
        ("valueString", "2.5", Number(Decimal("2.5"))),
        ("valueString", "> 2.2", Number(Decimal("2.2"), Comparator.GT)),
        ("valueString", "greater than 2.2", Number(Decimal("2.2"), Comparator.GT)),
        ("valueString", "less than 1.8", Number(Decimal("1.8"), Comparator.LT)),
        ("valueString", ">=2.0", Number(Decimal("2.0"), Comparator.GE)),
        ("valueString", "<= 2.0", Number(Decimal("2.0"), Comparator.LE)),
    ],
)
def test_ish_ratio_shapes(field: str, value: Any, expected: Number) -> None:
    case = one_case(observation("85318-4", **{field: value}))
    assert case.findings.first_count.ratio[0].value == expected


def test_panel_components_and_has_member_read_into_one_count() -> None:
    panel = observation(
        "74885-5",
        id="panel",
        specimen=None,
        hasMember=[{"reference": "Observation/avg"}],
        component=[component("49683-6", valueQuantity=quantity("1.5"))],
    )
    member = observation(
        "74860-8",
        id="avg",
        specimen=None,
        subject=None,
        valueQuantity=quantity("4.5", "/{nucleus}"),
    )
    case = one_case(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": panel}, {"resource": member}],
        }
    )
    assert case.findings.first_count.ratio[0].value == Number(Decimal("1.5"))
    assert case.findings.first_count.her2_per_cell[0].value == Number(Decimal("4.5"))
    assert case.inputs == ("Observation/panel", "Observation/avg")


@pytest.mark.parametrize(
    ("system", "code_", "expected"),
    [
        (LOINC, "LA6576-8", IshCall.POSITIVE),
        (SCT, "52101004", IshCall.POSITIVE),
        (SCT, "2667000", IshCall.NEGATIVE),
        (LOINC, "LA6577-6", IshCall.NEGATIVE),
        (SCT, "42425007", IshCall.EQUIVOCAL),
        (LOINC, "LA11884-6", FAILED),
    ],
)
def test_qualitative_ish_answers(system: str, code_: str, expected: Any) -> None:
    case = one_case(
        observation("85318-4", valueCodeableConcept={"coding": [{"system": system, "code": code_}]})
    )
    assert case.findings.first_count.call[0].value == expected


def test_ish_text_amplified_and_failed_numeric_measure() -> None:
    assert (
        one_case(observation("85318-4", valueString="not amplified"))
        .findings.first_count.call[0]
        .value
        is IshCall.NEGATIVE
    )
    assert (
        one_case(observation("49683-6", valueString="unscorable"))
        .findings.first_count.ratio[0]
        .value
        is FAILED
    )


def test_blinded_recount_goes_to_recount() -> None:
    first = ish_observation("2.1", her2="3.5", id="a")
    again = ish_observation(
        "2.2", her2="3.6", id="b", method={"text": "Blinded RECOUNT by second observer"}
    )
    case = one_case(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": first}, {"resource": again}],
        }
    )
    assert [r.value for r in case.findings.first_count.ratio] == [Number(Decimal("2.1"))]
    assert [r.value for r in case.findings.recount.ratio] == [Number(Decimal("2.2"))]


def test_ihc_code_beats_reported_status_code_and_status_is_read() -> None:
    both = observation(
        "48676-1", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA11842-4"}]}
    )
    both["code"]["coding"].append({"system": LOINC, "code": "85319-2"})
    assert ihc_of(both) == IhcValue(IhcScore.TWO)
    status = observation(
        "48676-1", id="st", valueCodeableConcept={"coding": [{"system": SCT, "code": "2667000"}]}
    )
    case = one_case(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": ihc_observation("1+")}, {"resource": status}],
        }
    )
    assert case.findings.reported_status[0].value is ReportedStatus.NEGATIVE


def test_unknown_reported_status_is_skipped_with_a_warning() -> None:
    status = observation(
        "48676-1", id="st", valueCodeableConcept={"coding": [{"system": "urn:local", "code": "N"}]}
    )
    reading = read_message(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": ihc_observation("1+")}, {"resource": status}],
        },
        default_mappings(),
    )
    assert reading.cases[0].findings.reported_status == ()
    assert any("not understood" in w for w in reading.warnings)


def test_status_precedence_and_time_and_ignored_statuses() -> None:
    amended = ihc_observation("1+", id="a", status="corrected", effectiveDateTime="2024-03-01")
    cancelled = ihc_observation("3+", id="c", status="cancelled")
    case = one_case(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": amended}, {"resource": cancelled}],
        }
    )
    (only,) = case.findings.ihc
    assert only.source.status is ResultStatus.AMENDED
    assert only.source.issued is not None
    assert only.source.issued.isoformat() == "2024-03-01T00:00:00+00:00"
    assert case.inputs == ("Observation/a",)


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (ihc_observation(valueString="4+"), "Observation.valueString"),
        (ihc_observation(valueInteger=4), "Observation.valueInteger"),
        (
            ish_observation(
                component=[
                    component("74860-8", valueString="x"),
                    component("49683-6", valueQuantity={"value": "abc"}),
                ]
            ),
            "Observation.component[1].valueQuantity.value",
        ),
        (
            ish_observation(
                component=[
                    component("74860-8", valueString="x"),
                    component("49683-6", valueQuantity=quantity("-1.5")),
                ]
            ),
            "Observation.component[0].valueString",
        ),
        (observation("49683-6", valueQuantity=quantity("-1.5")), "Observation.valueQuantity.value"),
        (
            observation("49683-6", valueQuantity=quantity(Decimal("Infinity"))),
            "Observation.valueQuantity.value",
        ),
        (  # past the range of a double: what other parsers read as Infinity
            observation("49683-6", valueQuantity=quantity(Decimal("1e999"))),
            "Observation.valueQuantity.value",
        ),
        (observation("49683-6", valueString="Infinity"), "Observation.valueString"),
        (observation("49683-6", valueString="abc"), "Observation.valueString"),
        (
            observation("74860-8", valueQuantity=quantity("4.0", "mg")),
            "Observation.valueQuantity.unit",
        ),
        (
            observation(
                "49683-6",
                valueRatio={
                    "numerator": quantity(1, comparator=">="),
                    "denominator": quantity(100, comparator=">="),
                },
            ),
            "Observation.valueRatio.denominator",
        ),
    ],
)
def test_unreadable_values_name_the_field(resource: dict[str, Any], expression: str) -> None:
    with pytest.raises(UnreadableValue) as caught:
        read_message(resource, default_mappings())
    assert caught.value.expression == expression


def test_cep17_zero_when_the_ratio_must_be_computed_is_unreadable() -> None:
    with pytest.raises(UnreadableValue) as caught:
        read_message(ish_observation(her2="4.0", cep17="0"), default_mappings())
    assert caught.value.expression == "Observation.component[1].valueQuantity.value"
    # with a reported ratio, nothing needs computing: accepted
    assert read_message(ish_observation("2.0", her2="4.0", cep17="0"), default_mappings()).cases


def test_a_test_not_done_is_listed_in_the_conclusion_and_not_decided_with() -> None:
    message = her2_bundle(
        ihc_observation("1+"),
        ish_observation(id="fish", dataAbsentReason={"coding": [{"code": "not-performed"}]}),
    )
    (case,) = interpret_message(
        message, default_mappings(), recorded=datetime(2025, 1, 1, tzinfo=UTC)
    ).cases
    assert case.interpretation.status.value == "Negative"
    assert (
        "ISH HER2/CEP17 ratio: not performed [Observation/fish]"
        in (case.diagnostic_report["conclusion"])
    )
