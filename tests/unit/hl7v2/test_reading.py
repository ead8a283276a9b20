"""HER2 OBX by every coding pattern, statuses, structure and errors (hl7v2-contract.md 3).

Every ISH message here is SYNTHETIC (no public v2 message carries HER2 ISH numbers).
"""

from __future__ import annotations

import pytest

from adapter.hl7v2.errors import V2BadMessage, V2BadValue
from adapter.hl7v2.message import read_v2_message
from adapter.mappings import Mappings
from tests.unit.hl7v2.messages import (
    MSH,
    SPM_BREAST,
    ihc_loinc,
    interpret_v2,
    ish_loinc,
    oru,
    statuses,
)

CAP_ISH_ORDER = "OBR|1||ACC-7|HER2^HER2 FISH^L"


# --- LOINC pattern -------------------------------------------------------------------------


def test_loinc_ihc_alone(mappings: Mappings) -> None:
    assert statuses(interpret_v2(oru(ihc_loinc("1+")), mappings)) == ["Negative HER2-low"]


def test_loinc_ish_alone_group_1_is_positive(mappings: Mappings) -> None:
    result = interpret_v2(oru(*ish_loinc("2.5", "6.2", "2.5", first=1)), mappings)
    assert statuses(result) == ["Positive HER2-positive"]
    assert result.cases[0].interpretation.ish_group is not None


def test_loinc_ihc_and_ish_in_one_message_are_one_case(mappings: Mappings) -> None:
    # IHC 2+, ratio 1.5, HER2 4.5: group 4 with IHC 2+ and no recount -> Pending.
    result = interpret_v2(oru(ihc_loinc("2+"), *ish_loinc("1.5", "4.5", "3.0")), mappings)
    assert statuses(result) == ["Pending (blinded-recount)"]


def test_loinc_as_alternate_coding_and_written_loinc(mappings: Mappings) -> None:
    text = oru("OBX|1|CWE|LOC1^Her2 score^L^85319-2^HER2^LOINC||LA11843-2^3+^LN||||||F")
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive"]


def test_sn_comparator_ratio_below_threshold(mappings: Mappings) -> None:
    # SN "<^1.8": below 2.0 whatever it is; with HER2 3.0 -> group 5 Negative; IHC 1+ low.
    text = oru(
        ihc_loinc("1+"),
        "OBX|2|SN|49683-6^ratio^LN||<^1.8||||||F",
        "OBX|3|SN|74860-8^HER2^LN||^3.0||||||F",
    )
    assert statuses(interpret_v2(text, mappings)) == ["Negative HER2-low"]


def test_nm_two_plus_is_read_as_text(mappings: Mappings) -> None:
    assert statuses(interpret_v2(oru(ihc_loinc("2+", kind="NM")), mappings)) == [
        "Equivocal (reflex-ish)"
    ]


# --- CAP checklist pattern ------------------------------------------------------------------


def test_cap_ihc_answer_key(mappings: Mappings) -> None:
    text = oru(
        "OBX|1|CWE|52399.100004300^HER2 (by immunohistochemistry)^CAPECC||"
        "56335.100004300^Equivocal (Score 2+)^CAPECC||||||F"
    )
    assert statuses(interpret_v2(text, mappings)) == ["Equivocal (reflex-ish)"]


def test_cap_biomarker_ish_numbers_in_linked_st_obx(mappings: Mappings) -> None:
    # SYNTHETIC biomarker-template ISH: each number key has a coded placeholder answer and a
    # second OBX with the same OBX-3, linked by OBX-4, holding the number as ST.
    text = oru(
        "OBX|1|CWE|31012.1000043^HER2 by IHC^CAPECC||31017.1000043^Equivocal (2+)^CAPECC||||||F",
        "OBX|2|CWE|25912.1000043^Ratio^CAPECC|2131|2131.1000043^{No text}^CAPECC||||||F",
        "OBX|3|ST|25912.1000043^Ratio^CAPECC|+2131.1000043|1.5||||||F",
        "OBX|4|CWE|25910.1000043^HER2 avg^CAPECC|2132|2132.1000043^{No text}^CAPECC||||||F",
        "OBX|5|ST|25910.1000043^HER2 avg^CAPECC|2132|6.5||||||F",
        "OBX|6|CWE|25911.1000043^CEP17 avg^CAPECC|2133|2133.1000043^{No text}^CAPECC||||||F",
        "OBX|7|ST|25911.1000043^CEP17 avg^CAPECC|2133|4.3||||||F",
    )
    # Ratio 1.5 < 2.0 with HER2 6.5 >= 6.0: group 3; IHC 2+ without recount -> Pending.
    assert statuses(interpret_v2(text, mappings)) == ["Pending (blinded-recount)"]


def test_cap_ish_answer_not_amplified(mappings: Mappings) -> None:
    text = oru(
        "OBX|1|CWE|52399.100004300^HER2 IHC^CAPECC||57817.100004300^Negative (Score 1+)^CAPECC",
        "OBX|2|CWE|48698.100004300^HER2 ISH^CAPECC||51325.100004300^Negative^CAPECC||||||F",
    )
    assert statuses(interpret_v2(text, mappings)) == ["Negative HER2-low"]


def test_cap_ish_not_done_counts_as_absent(mappings: Mappings) -> None:
    text = oru(
        ihc_loinc("3+"),
        "OBX|2|CWE|48698.100004300^HER2 ISH^CAPECC||51471.100004300^Not performed^CAPECC||||||F",
    )
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive"]


# --- labelled text pattern ------------------------------------------------------------------


def test_labelled_obx3_lines_in_an_ish_order(mappings: Mappings) -> None:
    # SYNTHETIC, the newer Yellowstone-style label-keyed text.
    text = oru(
        "OBX|1|TX|HER2 to Chr17 Ratio||2.3||||||F",
        "OBX|2|TX|Average HER2 Copy Number||5.1||||||F",
        "OBX|3|TX|Chr17 average copy number||2.2||||||F",
        obr=CAP_ISH_ORDER,
    )
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive"]


def test_epic_gdt_label_value_lines(mappings: Mappings) -> None:
    # SYNTHETIC Epic-style report lines: every OBX-3 is &GDT, the label sits in OBX-5.
    text = oru(
        "OBX|1|TX|&GDT||HER2: Score 1+||||||F",
        "OBX|2|TX|&GDT||Ratio of average HER2/Chr17 signals: 1.4||||||F",
        "OBX|3|TX|&GDT||HER2 average copy number: 3.1||||||F",
        "OBX|4|TX|&GDT||Number of observers: 2||||||F",
        obr=CAP_ISH_ORDER,
    )
    result = interpret_v2(text, mappings)
    assert statuses(result) == ["Negative HER2-low"]  # group 5 with IHC 1+
    assert len(result.cases[0].case.inputs) == 3  # "Number of observers" is no result


def test_ratio_label_only_in_an_ish_order(mappings: Mappings) -> None:
    text = oru(ihc_loinc("2+"), "OBX|2|TX|&GDT||Ratio: 2.5||||||F", obr="OBR|1||A1|88305^Path^C4")
    assert statuses(interpret_v2(text, mappings)) == ["Equivocal (reflex-ish)"]


def test_her2_label_by_value_amplified_is_ish(mappings: Mappings) -> None:
    text = oru("OBX|1|ST|HER2||Amplified||||||F", "OBX|2|ST|HER2 IHC||2+||||||F")
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive"]


def test_her2_label_with_bare_negative_is_a_reported_status_only(mappings: Mappings) -> None:
    reading = read_v2_message(oru("OBX|1|ST|HER2 Result||Negative||||||F"), mappings)
    assert not reading.has_her2  # a reported status alone is no HER2 result


# --- structure ------------------------------------------------------------------------------


def test_obx_inside_the_spm_group_belongs_to_the_order_and_its_specimen(
    mappings: Mappings,
) -> None:
    text = oru(SPM_BREAST, ihc_loinc("3+"))
    reading = read_v2_message(text, mappings)
    assert reading.case_keys == ("SYNTH_LAB|SPEC-1",)
    specimen = reading.bundle["entry"][0]["resource"]
    assert specimen["identifier"][0]["value"] == "SPEC-1"
    assert specimen["collection"]["bodySite"]["coding"][0]["code"] == "76752008"
    result = interpret_v2(text, mappings)
    assert "site-assumed" not in {f.value for f in result.cases[0].interpretation.flags}


def test_two_orders_are_two_cases_with_their_own_specimens(mappings: Mappings) -> None:
    text = oru(
        ihc_loinc("3+"),
        "OBR|2||ACC-2|HER2^HER2 IHC",
        "SPM|1|^SPEC-2||TISS^Tissue^HL70487||||69695003^Stomach structure^SCT",
        ihc_loinc("1+", n=2),
    )
    reading = read_v2_message(text, mappings)
    assert reading.case_keys == ("SYNTH_LAB|ACC-1", "SYNTH_LAB|SPEC-2")
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive", "Negative"]


def test_ids_are_deterministic_and_subject_is_the_mr_identifier(mappings: Mappings) -> None:
    first = read_v2_message(oru(ihc_loinc("3+")), mappings)
    again = read_v2_message(oru(ihc_loinc("3+")).replace("MSG0001", "MSG0002"), mappings)
    assert first.bundle == again.bundle
    observation = first.bundle["entry"][1]["resource"]
    assert observation["subject"]["identifier"] == {"system": "urn:oid:1.2.3.4", "value": "MRN42"}
    assert observation["code"]["coding"][0] == {"system": "http://loinc.org", "code": "85319-2"}


# --- OBX-11 ---------------------------------------------------------------------------------


def test_corrected_result_replaces_the_earlier_one(mappings: Mappings) -> None:
    text = oru(ihc_loinc("1+", n=1), ihc_loinc("3+", n=2, status="C"))
    result = interpret_v2(text, mappings)
    assert statuses(result) == ["Positive HER2-positive"]
    assert "conflicting-results" not in {f.value for f in result.cases[0].interpretation.flags}


def test_amended_result_replaces_the_earlier_one(mappings: Mappings) -> None:
    text = oru(ihc_loinc("3+", n=1), ihc_loinc("0", n=2, status="A"))
    assert statuses(interpret_v2(text, mappings)) == ["Negative HER2-0"]


def test_withdrawn_result_is_ignored_and_written_as_entered_in_error(mappings: Mappings) -> None:
    text = oru(ihc_loinc("2+"), *ish_loinc("2.5", "6.0", "2.4"), ihc_loinc("", n=5, status="X"))
    result = interpret_v2(text, mappings)
    assert statuses(result) == ["Positive HER2-positive"]  # ISH group 1 decides alone
    withdrawn = [r for r in result.resources if r.get("status") == "entered-in-error"]
    assert len(withdrawn) == 1


def test_preliminary_result_makes_a_preliminary_output(mappings: Mappings) -> None:
    result = interpret_v2(oru(ihc_loinc("3+", status="P")), mappings)
    assert result.cases[0].observation["status"] == "preliminary"


def test_pending_and_empty_results_are_ignored(mappings: Mappings) -> None:
    text = oru(ihc_loinc("", n=1, status="I"), ihc_loinc("3+", n=2, status="I"))
    assert not read_v2_message(text, mappings).has_her2


# --- bad input ------------------------------------------------------------------------------


def test_repeated_obx5_of_a_her2_result_is_bad_input_at_its_field(mappings: Mappings) -> None:
    text = oru(ihc_loinc("3+"), "OBX|2|NM|49683-6^ratio^LN||2.1~2.3||||||F")
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(text, mappings)
    assert str(caught.value.location) == "OBX[2]-5"


def test_repeated_obx5_of_another_result_is_tolerated(mappings: Mappings) -> None:
    assert read_v2_message(oru(ihc_loinc("3+"), "OBX|2|NM|1-8^x^LN||27~25"), mappings).has_her2


@pytest.mark.parametrize(
    ("obx", "code"),
    [
        ("OBX|3|CWE|85319-2^ER^LN||POS^Positief 90%^LOCAL||||||F", "103"),
        ("OBX|3|NM|49683-6^ratio^LN||abc||||||F", "102"),
        ("OBX|3|NM|74860-8^HER2^LN||5.0|%|||||F", "102"),
        ("OBX|3|ST|HER2 IHC||4+||||||F", "102"),
    ],
)
def test_unreadable_values_are_located_at_their_obx(
    obx: str, code: str, mappings: Mappings
) -> None:
    text = oru(ihc_loinc("2+", n=1), "OBX|2|ST|22637-3^Dx^LN||carcinoma||||||F", obx)
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(text, mappings)
    assert (str(caught.value.location), caught.value.code) == ("OBX[3]-5", code)


def test_the_first_bad_field_is_named(mappings: Mappings) -> None:
    text = oru("OBX|1|ST|HER2 IHC||5+||||||F", "OBX|2|ST|HER2 IHC||6+||||||F")
    with pytest.raises(V2BadValue, match=r"OBX\[1\]-5"):
        read_v2_message(text, mappings)


@pytest.mark.parametrize(
    ("msh", "field"),
    [
        (MSH.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01"), "MSH[1]-9"),
        (MSH.replace("ORU^R01^ORU_R01", "ORU^R30"), "MSH[1]-9"),
        (MSH.replace("|2.5.1", "|2.2"), "MSH[1]-12"),
        (MSH.replace("|2.5.1", "|2.9"), "MSH[1]-12"),
        (MSH.replace("|P|", "|X|"), "MSH[1]-11"),
    ],
)
def test_other_types_versions_and_processing_ids_are_bad_messages(
    msh: str, field: str, mappings: Mappings
) -> None:
    with pytest.raises(V2BadMessage) as caught:
        read_v2_message(oru(ihc_loinc("3+"), msh=msh), mappings)
    assert str(caught.value.location) == field
    assert caught.value.code == "200"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.6", "2.7.1", "2.8"])
def test_versions_2_3_to_2_8_are_accepted(version: str, mappings: Mappings) -> None:
    msh = MSH.replace("|2.5.1", f"|{version}").replace("ORU^R01^ORU_R01", "ORU^R01")
    assert read_v2_message(oru(ihc_loinc("3+"), msh=msh), mappings).has_her2


def test_not_hl7_at_all_is_a_bad_message(mappings: Mappings) -> None:
    with pytest.raises(V2BadMessage):
        read_v2_message('{"resourceType": "Observation"}', mappings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HER2 Positive (3+)", "Positive HER2-positive"),
        ("Negative (Score 1+)", "Negative HER2-low"),
        ("Score 0, ultralow", "Negative HER2-ultralow"),
        ("IHC 0 (null)", "Negative HER2-null"),
    ],
)
def test_ihc_text_with_one_score_token(text: str, expected: str, mappings: Mappings) -> None:
    assert statuses(interpret_v2(oru(f"OBX|1|ST|HER2 IHC Score||{text}||||||F"), mappings)) == [
        expected
    ]


@pytest.mark.parametrize("text", ["1+ to 2+", "0,5"])
def test_ihc_text_without_exactly_one_score_token_is_unreadable(
    text: str, mappings: Mappings
) -> None:
    with pytest.raises(V2BadValue):
        read_v2_message(oru(f"OBX|1|ST|HER2 IHC||{text}||||||F"), mappings)


# --- issue 18: a structured number is never an empty OBX-5 --------------------------------


@pytest.mark.parametrize(
    "obx",
    [
        "OBX|2|SN|74860-8^HER2 signals per cell^LN||^6.01||||||F",  # SN, empty comparator
        "OBX|2|SN|74860-8^HER2 signals per cell^LN||=^6.01||||||F",  # SN, "="
        "OBX|2|NM|74860-8^HER2 signals per cell^LN||^6.01||||||F",  # an NM written as SN
    ],
)
def test_a_number_after_an_empty_or_equal_comparator_is_read_not_dropped(
    mappings: Mappings, obx: str
) -> None:
    # Single-probe average 6.01 >= 6.0 is Positive whatever the IHC (ASCO/CAP 2018, Figure 2);
    # dropping it left IHC 0 alone: Negative.
    result = interpret_v2(oru(ihc_loinc("0"), obx), mappings)
    assert statuses(result) == ["Positive HER2-positive"]
    assert "HER2 6.01 per cell" in result.cases[0].interpretation.readings[0]


def test_an_nm_with_a_bound_in_components_keeps_the_bound(mappings: Mappings) -> None:
    # ">^6" on an NM: a bounded average, as the SN it was meant to be.
    result = interpret_v2(
        oru(ihc_loinc("2+"), "OBX|2|NM|74860-8^HER2 signals per cell^LN||>^6||||||F"), mappings
    )
    assert "> 6" in " ".join(result.cases[0].interpretation.facts)


def test_an_obx_empty_in_every_component_is_ignored(mappings: Mappings) -> None:
    result = interpret_v2(
        oru(ihc_loinc("1+"), "OBX|2|SN|74860-8^HER2 signals per cell^LN||^||||||F"), mappings
    )
    assert statuses(result) == ["Negative HER2-low"]


def test_text_with_unescaped_component_separators_is_read_whole(mappings: Mappings) -> None:
    # Senders put unescaped "^" in TX; reading only "Score 1+" would drop the second score.
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(oru("OBX|1|TX|85319-2^HER2 IHC^LN||Score 1+^ to 2+||||||F"), mappings)
    assert str(caught.value.location) == "OBX[1]-5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score 0 (ultralow)", "Negative HER2-ultralow"),
        ("IHC 0 null", "Negative HER2-null"),
        ("HER2 Positive (3+)", "Positive HER2-positive"),
        ("Negative (Score 1+)", "Negative HER2-low"),
    ],
)
def test_score_text_reads_as_the_fhir_door_reads_it(
    mappings: Mappings, text: str, expected: str
) -> None:
    assert statuses(interpret_v2(oru(ihc_loinc(text)), mappings)) == [expected]


def test_a_specimen_type_naming_an_unlisted_organ_decides_by_the_other_site_rules(
    mappings: Mappings,
) -> None:
    # Issue 18's unsafe call: a bladder specimen, computed ratio 4.7 (3.76 / 0.8), IHC 1+.
    # Breast rules (wrongly assumed) read HER2 3.76 < 4.0 as group 2: Negative with IHC 1+;
    # the rules for other sites read the ratio alone: Positive (contract 2.2).
    spm = "SPM|1|^SPEC-9||89837001^Urinary bladder^SCT"
    result = interpret_v2(
        oru(
            spm,
            ihc_loinc("1+"),
            "OBX|2|NM|74860-8^HER2 signals per cell^LN||3.76||||||F",
            "OBX|3|NM|74861-6^CEP17 signals per cell^LN||0.8||||||F",
        ),
        mappings,
    )
    interpretation = result.cases[0].interpretation
    assert (interpretation.site.group.value, interpretation.status.value) == ("other", "Positive")


def test_a_label_written_with_extra_spaces_is_that_label(mappings: Mappings) -> None:
    result = interpret_v2(oru("OBX|1|TX|HER2  IHC||2+||||||F"), mappings)
    assert statuses(result) == ["Equivocal (reflex-ish)"]


def test_a_withdrawal_sent_without_its_value_withdraws_a_structured_number(
    mappings: Mappings,
) -> None:
    result = interpret_v2(
        oru(
            "OBX|1|NM|74860-8^HER2 average^LN|1|5.1||||||F",
            "OBX|2|SN|49683-6^Ratio^LN|2|^2.39||||||F",
            "OBX|3|SN|49683-6^Ratio^LN|2|||||||D",
        ),
        mappings,
    )
    assert statuses(result) == ["Pending (dual-probe-ish)"]  # single-probe 5.1, no IHC


def test_an_epic_line_is_withdrawn_by_its_obx3_and_obx4_without_its_label(
    mappings: Mappings,
) -> None:
    # Withdrawn as feeds send it (empty OBX-5): IHC 0 alone is Negative; keeping the 6.0 was
    # Positive (found by the contract tests).
    result = interpret_v2(
        oru(
            "OBX|1|TX|85319-2^HER2 IHC^LN|1|0||||||F",
            "OBX|2|ST|&GDT|2|Average HER2 signals per cell: 6.0||||||F",
            "OBX|3|ST|&GDT|2|||||||D",
        ),
        mappings,
    )
    assert statuses(result) == ["Negative HER2-0"]
