"""Test certificates, made with `cryptography`: a CA, a server certificate for localhost and
127.0.0.1, client certificates the CA signs and self-signed ones it does not. Each is written
as `<name>.pem` and `<name>.key` (PEM) in one directory; the CA is `ca.pem`."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def client_context(directory: Path, name: str | None) -> ssl.SSLContext:
    """A client's TLS context trusting the CA, presenting certificate `name` (None: none)."""
    context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    if name:
        context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")
    return context


def subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(
    directory: Path,
    clients: Mapping[str, x509.Name],
    strangers: Mapping[str, x509.Name] | None = None,
) -> Path:
    """Write the CA, `server` and every client (signed by the CA) and stranger (self-signed)
    into `directory`; returns it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = subject("her2 test CA")
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, authority=True)
    _write(directory, "ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(
        subject("localhost"),
        server_key,
        ca_name,
        ca_key,
        names=[x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))],
    )
    _write(directory, "server", server, server_key)
    for name, client_subject in clients.items():
        key = ec.generate_private_key(ec.SECP256R1())
        _write(directory, name, _certificate(client_subject, key, ca_name, ca_key), key)
    for name, client_subject in (strangers or {}).items():
        key = ec.generate_private_key(ec.SECP256R1())
        _write(directory, name, _certificate(client_subject, key, client_subject, key), key)
    return directory


def _certificate(
    name: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    authority: bool = False,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
    if not authority:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    directory: Path, name: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    (directory / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
