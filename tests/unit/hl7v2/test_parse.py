"""Bytes -> messages: framing, BOM, separators, charsets, escapes (hl7v2-contract.md 2)."""

from __future__ import annotations

import pytest

from adapter.hl7v2.errors import V2BadMessage, V2BadValue
from adapter.hl7v2.header import read_msh_only
from adapter.hl7v2.message import read_v2_message
from adapter.hl7v2.parse import check_decoded, decode_message, split_messages
from adapter.mappings import Mappings
from tests.unit.hl7v2.messages import interpret_v2, oru, statuses

ONE = oru("OBX|1|ST|85319-2^HER2 IHC^LN||3+||||||F")


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_cr_lf_and_crlf_separators_read_the_same(separator: str, mappings: Mappings) -> None:
    text = ONE.replace("\r", separator)
    assert statuses(interpret_v2(text, mappings)) == ["Positive HER2-positive"]


def test_bom_and_mllp_framing_are_dropped(mappings: Mappings) -> None:
    framed = b"\x0b\xef\xbb\xbf" + ONE.encode() + b"\x1c\r"
    assert statuses(interpret_v2(framed, mappings)) == ["Positive HER2-positive"]


def test_a_file_splits_at_each_msh_and_text_before_the_first_is_message_1() -> None:
    data = b"garbage\n" + ONE.encode() + ONE.replace("MSG0001", "MSG0002").encode()
    raws = split_messages(data)
    assert [(r.number, r.before_first_msh) for r in raws] == [(1, True), (2, False), (3, False)]
    with pytest.raises(V2BadMessage, match="before the first MSH"):
        decode_message(raws[0])


def test_escapes_are_unescaped_in_every_value_read(mappings: Mappings) -> None:
    # SYNTHETIC: the label "HER2/CEP17 Ratio" written with \T\-free escapes; \.br\ in FT text.
    text = oru("OBX|1|ST|HER\\X32\\ IHC||Score 2\\X2B\\||||||F")
    assert statuses(interpret_v2(text, mappings)) == ["Equivocal (reflex-ish)"]


def test_latin1_by_msh_18(mappings: Mappings) -> None:
    msh = "MSH|^~\\&|LIS|SYNTH_LAB|EHR|HOSP|20250301||ORU^R01|M1|P|2.5||||||8859/1"
    data = oru("OBX|1|ST|85319-2^HER2 IHC^LN||2+||||||F", "NTE|1||Befund gepr\u00fcft", msh=msh)
    reading = read_v2_message(data.encode("latin-1"), mappings)
    assert reading.has_her2


def test_undecodable_bytes_are_bad_input_at_their_field(mappings: Mappings) -> None:
    # UTF-8 declared (MSH-18 empty), Latin-1 "ü" (0xFC) in OBX[2]-5.
    data = oru("OBX|1|ST|85319-2^HER2 IHC^LN||2+||||||F", "OBX|2|ST|1234-5^Note^L||gepr\u00fcft")
    with pytest.raises(V2BadValue) as caught:
        read_v2_message(data.encode("latin-1"), mappings)
    assert str(caught.value.location) == "OBX[2]-5"
    assert read_msh_only(data.encode("latin-1")).control_id  # the ACK can still be addressed


def test_unknown_charset_is_rejected() -> None:
    msh = "MSH|^~\\&|A|B|C|D|2025||ORU^R01|M1|P|2.5||||||ISO IR87"
    (raw,) = split_messages(oru(msh=msh).encode())
    with pytest.raises(V2BadMessage, match="MSH-18"):
        check_decoded(decode_message(raw))


def test_msh_run_together_with_pid_is_a_bad_message() -> None:
    msh = "MSH|^~\\&|A|B|C|D|2025||ORU^R01|M1|P|2.5.1|||||||||PROFILE " + "PID|1||X" + "|" * 20
    (raw,) = split_messages(msh.encode() + b"\r")
    with pytest.raises(V2BadMessage, match="segment separator is missing"):
        decode_message(raw)
