"""The ACK for every row of hl7v2-contract.md 4, original and enhanced mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapter.hl7v2.ack import (
    accepted,
    build_ack,
    rejected,
    resend_later,
    sender_not_allowed,
)
from adapter.hl7v2.errors import V2BadMessage, V2BadValue, V2Location
from adapter.hl7v2.header import MessageHeader, read_header, read_msh_only
from adapter.hl7v2.message import read_v2_message
from adapter.hl7v2.parse import decode_message, split_messages
from adapter.mappings import Mappings
from tests.unit.hl7v2.messages import MSH, ihc_loinc, oru

NOW = datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)


def header_of(msh: str = MSH) -> MessageHeader:
    (raw,) = split_messages(oru(msh=msh).encode())
    return read_header(decode_message(raw))


def segments(ack: str | None) -> list[list[str]]:
    assert ack is not None
    return [s.split("|") for s in ack.rstrip("\r").split("\r")]


def test_good_message_with_her2_is_aa_with_swapped_sender_and_receiver() -> None:
    msh, msa = segments(build_ack(header_of(), accepted(has_her2=True), control_id="A1", now=NOW))
    assert msh[2:6] == ["EHR", "HOSP", "LIS", "SYNTH_LAB"]
    assert msh[8] == "ACK^R01^ACK"
    assert msh[9] == "A1"
    assert msh[10] == "P"
    assert msh[11] == "2.5.1"
    assert msa == ["MSA", "AA", "MSG0001", "accepted for HER2 interpretation"]


def test_good_message_without_her2_is_aa_saying_nothing_was_interpreted() -> None:
    _, msa = segments(build_ack(header_of(), accepted(has_her2=False), control_id="A", now=NOW))
    assert msa[1] == "AA"
    assert "nothing interpreted" in msa[3]


def test_unreadable_value_is_ae_with_err_location_and_code(mappings: Mappings) -> None:
    text = oru(ihc_loinc("2+"), "OBX|2|CWE|85319-2^ER^LN||POS^Positief 90%^LOCAL||||||F")
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(text, mappings)
    ack = build_ack(read_msh_only(text.encode()), rejected(caught.value), control_id="A", now=NOW)
    _, msa, err = segments(ack)
    assert msa[1] == "AE"
    assert "Positief" not in msa[3]
    assert err == ["ERR", "", "OBX^2^5", "103^Table value not found^HL70357", "E"]


def test_repeated_obx5_is_ae_102(mappings: Mappings) -> None:
    text = oru("OBX|1|NM|49683-6^r^LN||2.1~2.2")
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(text, mappings)
    _, _, err = segments(
        build_ack(read_msh_only(text.encode()), rejected(caught.value), control_id="A", now=NOW)
    )
    assert err[2:5] == ["OBX^1^5", "102^Data type error^HL70357", "E"]


def test_unsupported_type_is_ar_200(mappings: Mappings) -> None:
    text = oru(msh=MSH.replace("ORU^R01^ORU_R01", "ADT^A01"))
    with pytest.raises(V2BadMessage) as caught:
        read_v2_message(text, mappings)
    _, msa, err = segments(
        build_ack(read_msh_only(text.encode()), rejected(caught.value), control_id="A", now=NOW)
    )
    assert msa[1] == "AR"
    assert err[3] == "200^Unsupported message type^HL70357"
    assert "ADT\\S\\A01" in msa[3]  # delimiters in the text are escaped


def test_no_msh_is_ar_100_with_default_header() -> None:
    error = V2BadMessage("text before the first MSH segment", code="100")
    msh, msa, err = segments(build_ack(None, rejected(error), control_id="A", now=NOW))
    assert msh[1] == "^~\\&"
    assert msa[1] == "AR"
    assert msa[2] == ""
    assert err[3].startswith("100^")


def test_broker_unavailable_is_ar_207_saying_to_resend() -> None:
    _, msa, err = segments(build_ack(header_of(), resend_later(), control_id="A", now=NOW))
    assert msa[1] == "AR"
    assert "send again" in msa[3]
    assert err[3].startswith("207^")


def test_sender_not_allowed_is_ar_200() -> None:
    _, msa, err = segments(build_ack(header_of(), sender_not_allowed(), control_id="A", now=NOW))
    assert msa[1] == "AR"
    assert err[3].startswith("200^")


def test_version_2_3_uses_ack_alone_and_err_1() -> None:
    header = header_of(MSH.replace("|2.5.1", "|2.3").replace("ORU^R01^ORU_R01", "ORU^R01"))
    error = V2BadValue("x", location=V2Location("OBX", 4, 5))
    msh, _, err = segments(build_ack(header, rejected(error), control_id="A", now=NOW))
    assert msh[8] == "ACK"
    assert msh[11] == "2.3"
    assert err == ["ERR", "OBX^4^5^102&Data type error&HL70357"]


@pytest.mark.parametrize(
    ("msh15", "outcome", "code"),
    [
        ("AL", accepted(has_her2=True), "CA"),
        ("AL", resend_later(), "CR"),
        ("ER", accepted(has_her2=True), None),
        ("ER", sender_not_allowed(), "CR"),
        ("NE", accepted(has_her2=True), None),
        ("NE", resend_later(), None),
        ("SU", accepted(has_her2=False), "CA"),
        ("SU", resend_later(), None),
    ],
)
def test_enhanced_mode(msh15: str, outcome: object, code: str | None) -> None:
    header = header_of(MSH + f"|||{msh15}|NE")
    ack = build_ack(header, outcome, control_id="A", now=NOW)  # type: ignore[arg-type]
    assert (segments(ack)[1][1] if ack else None) == code


def test_enhanced_commit_error_for_a_bad_value(mappings: Mappings) -> None:
    text = oru("OBX|1|ST|HER2 IHC||7+", msh=MSH + "|||AL|NE")
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(text, mappings)
    _, msa, _ = segments(
        build_ack(read_msh_only(text.encode()), rejected(caught.value), control_id="A", now=NOW)
    )
    assert msa[1] == "CE"


def test_a_custom_delimiter_set_is_echoed() -> None:
    header = header_of(MSH.replace("|", "#").replace("#^~\\&#", "#^~\\&#"))
    msh, msa = segments_with(
        build_ack(header, accepted(has_her2=True), control_id="A", now=NOW), "#"
    )
    assert msh[0] == "MSH"
    assert msa[1] == "AA"


def segments_with(ack: str | None, sep: str) -> list[list[str]]:
    assert ack is not None
    return [s.split(sep) for s in ack.rstrip("\r").split("\r")]
