"""Who may send over the MLLP door (hl7v2-contract.md 1), decided on MSH-4 and the connection's
client certificate before anything else of a message is parsed.

Two settings, one or the other:

- `MLLP_ALLOWED_SENDERS`: comma-separated MSH-4.1 values; any other sending facility (or none)
  gets AR. MSH-4 is written by the sender itself, so without client certificates this keeps
  out mistakes, not impostors.
- `MLLP_SENDER_CERTIFICATES` (needs `MLLP_TLS_CLIENT_CA`): a JSON object binding each allowed
  sending facility to the subject of the client certificate its messages must arrive with; the
  facilities it names are the allow-list. A subject without `=` is a common name, compared with
  the certificate subject's one CN (`"lis-a.example.org"`); one with `=` is a whole RFC 4514
  subject (`"CN=lis-b,O=Hospital B,C=GB"`, as `openssl x509 -noout -subject -nameopt RFC2253`
  prints it), compared attribute by attribute, in order. Several facilities may share one
  certificate (an interface engine relaying for them). A facility sent over another
  facility's certificate gets AR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.x509.oid import NameOID

from adapter.hl7v2.header import MessageHeader
from adapter.settings import Settings

NOT_ALLOWED = "sender-not-allowed"
WRONG_CERTIFICATE = "sender-certificate-mismatch"


@dataclass(frozen=True, slots=True)
class CertificateSubject:
    """The subject a facility's client certificate must have: a CN alone, or a whole subject."""

    common_name: str | None = None
    name: x509.Name | None = None

    @classmethod
    def parse(cls, text: str) -> CertificateSubject:
        """Raises ValueError for a whole subject that is not RFC 4514."""
        if "=" not in text:
            return cls(common_name=text)
        return cls(name=x509.Name.from_rfc4514_string(text))

    def matches(self, subject: x509.Name | None) -> bool:
        if subject is None:
            return False
        if self.name is not None:
            return subject == self.name
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [attribute.value for attribute in names] == [self.common_name]


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    """The allow-list (None: every sender) and the certificate each listed facility is bound
    to (empty: none is bound)."""

    allowed: frozenset[str] | None = None
    certificates: Mapping[str, CertificateSubject] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderPolicy:
        """Raises ValueError naming the facility whose certificate subject is not RFC 4514."""
        bindings = settings.sender_certificates
        if bindings is None:
            return cls(allowed=settings.allowed_senders)
        certificates = {}
        for facility, subject in bindings.items():
            try:
                certificates[facility] = CertificateSubject.parse(subject)
            except ValueError as error:
                raise ValueError(
                    f"MLLP_SENDER_CERTIFICATES: the subject of {facility!r} is not RFC 4514 "
                    f"({error})"
                ) from error
        return cls(allowed=frozenset(certificates), certificates=MappingProxyType(certificates))

    @property
    def restricted(self) -> bool:
        return self.allowed is not None

    def refusal(self, header: MessageHeader, certificate: x509.Name | None) -> str | None:
        """None when this sender may send over this connection, else the reason (a label for
        metrics and logs). `certificate` is the subject of the connection's client certificate."""
        if self.allowed is None:
            return None
        facility = header.facility if header.sending_facility else ""  # MSH-4.1, never MSH-3
        if facility not in self.allowed:
            return NOT_ALLOWED
        bound = self.certificates.get(facility)
        if bound is not None and not bound.matches(certificate):
            return WRONG_CERTIFICATE
        return None


def certificate_subject(der: bytes | None) -> x509.Name | None:
    """The subject of a peer certificate (DER, as `SSLObject.getpeercert(True)` gives it), or
    None without one. A certificate TLS accepted but this parser cannot read counts as none:
    the facilities bound to a certificate are then refused, never let through."""
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der).subject
    except ValueError:
        return None
