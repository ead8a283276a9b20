"""The sender policy (adapter/mllp/senders.py): who may send, judged on MSH-4.1 and the subject
of the connection's client certificate."""

from __future__ import annotations

import pytest
from cryptography import x509

from adapter.hl7v2.header import MessageHeader, read_msh_only
from adapter.mllp.senders import (
    NOT_ALLOWED,
    WRONG_CERTIFICATE,
    CertificateSubject,
    SenderPolicy,
)
from adapter.settings import Settings
from tests.unit.hl7v2.messages import MSH

LIS_A = x509.Name.from_rfc4514_string("CN=lis-a.example.org")
LIS_B = x509.Name.from_rfc4514_string("CN=lis-b,O=Hospital B,C=GB")


def sent_by(facility: str) -> MessageHeader:
    return read_msh_only(MSH.replace("|SYNTH_LAB|", f"|{facility}|").encode())


def policy(bindings: str) -> SenderPolicy:
    return SenderPolicy.from_settings(
        Settings(mllp_tls_client_ca="ca.pem", mllp_sender_certificates=bindings)
    )


def test_a_common_name_matches_the_subjects_one_cn_whatever_else_it_holds() -> None:
    bound = CertificateSubject.parse("lis-b")
    assert bound.matches(LIS_B)
    assert not bound.matches(LIS_A)
    assert not bound.matches(None)
    two_cns = x509.Name.from_rfc4514_string("CN=lis-b,CN=lis-a.example.org")
    assert not bound.matches(two_cns)


def test_a_whole_subject_matches_attribute_by_attribute_in_order() -> None:
    bound = CertificateSubject.parse("CN=lis-b,O=Hospital B,C=GB")
    assert bound.matches(LIS_B)
    assert not bound.matches(x509.Name.from_rfc4514_string("CN=lis-b,O=Hospital C,C=GB"))
    assert not bound.matches(x509.Name.from_rfc4514_string("CN=lis-b"))
    assert not bound.matches(x509.Name.from_rfc4514_string("C=GB,O=Hospital B,CN=lis-b"))


def test_each_bound_facility_is_allowed_over_its_own_certificate_only() -> None:
    bound = policy('{"LAB_A": "lis-a.example.org", "LAB_B": "CN=lis-b,O=Hospital B,C=GB"}')
    assert bound.allowed == frozenset({"LAB_A", "LAB_B"})
    assert bound.refusal(sent_by("LAB_A"), LIS_A) is None
    assert bound.refusal(sent_by("LAB_B"), LIS_B) is None
    assert bound.refusal(sent_by("LAB_B"), LIS_A) == WRONG_CERTIFICATE
    assert bound.refusal(sent_by("LAB_A"), None) == WRONG_CERTIFICATE
    assert bound.refusal(sent_by("LAB_C"), LIS_A) == NOT_ALLOWED


def test_an_interface_engine_may_carry_several_facilities_on_one_certificate() -> None:
    engine = policy('{"LAB_A": "engine", "LAB_B": "engine"}')
    certificate = x509.Name.from_rfc4514_string("CN=engine,O=Hospital")
    assert engine.refusal(sent_by("LAB_A"), certificate) is None
    assert engine.refusal(sent_by("LAB_B"), certificate) is None


def test_a_plain_allow_list_reads_msh_4_1_only() -> None:
    listed = SenderPolicy.from_settings(Settings(mllp_allowed_senders="SYNTH_LAB, LAB_A"))
    assert listed.refusal(sent_by("LAB_A"), None) is None
    assert listed.refusal(sent_by(""), None) == NOT_ALLOWED  # MSH-3 "LIS" is not a facility
    assert not SenderPolicy.from_settings(Settings()).restricted


def test_a_subject_that_is_not_rfc_4514_is_refused_naming_its_facility() -> None:
    with pytest.raises(ValueError, match="'LAB_B'"):
        policy('{"LAB_A": "lis-a", "LAB_B": "CN=lis-b,=broken"}')
