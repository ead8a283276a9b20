"""The client authentication of SMART Backend Services (adapter/oauth_client.py): the signed
assertion, the key checks and the public JWKS. The token server's side is
tests/integration/test_smart_backend.py, against a real authorization server."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from adapter.errors import ClientKeyError
from adapter.oauth_client import PrivateKeyJwt, load_private_key, public_jwks
from adapter.settings import Settings

TOKEN_URL = "https://ehr.example/oauth2/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def pem_file(tmp_path: Path, key: RSAKey | ECKey, *, private: bool = True) -> Path:
    path = tmp_path / f"key-{len(list(tmp_path.iterdir()))}.pem"
    path.write_bytes(key.as_pem(private=private))
    return path


def short_rsa_pem(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "short.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [("RS384", RSAKey.generate_key(2048)), ("ES384", ECKey.generate_key("P-384"))],
)
def test_each_assertion_is_signed_short_lived_and_unique(
    tmp_path: Path, algorithm: Literal["RS384", "ES384"], key: RSAKey | ECKey
) -> None:
    client = PrivateKeyJwt("her2-adapter", pem_file(tmp_path, key), "k1", algorithm)
    first, second = client.fields(TOKEN_URL), client.fields(TOKEN_URL)
    assert first["client_assertion_type"] == second["client_assertion_type"] == ASSERTION_TYPE
    settings = Settings(
        fhir_oauth_token_url=TOKEN_URL,
        fhir_oauth_client_id="her2-adapter",
        fhir_oauth_private_key=client.key_path,
        fhir_oauth_key_id="k1",
        fhir_oauth_algorithm=algorithm,
    )
    published = KeySet.import_key_set(public_jwks(settings))  # what the EHR verifies with
    tokens = [
        jwt.decode(f["client_assertion"], published, algorithms=[algorithm])
        for f in (first, second)
    ]
    for token in tokens:
        assert token.header == {"alg": algorithm, "kid": "k1", "typ": "JWT"}
        claims = token.claims
        assert claims["iss"] == claims["sub"] == "her2-adapter"
        assert claims["aud"] == TOKEN_URL
        assert 0 < claims["exp"] - claims["iat"] <= 300  # SMART: at most five minutes
    assert tokens[0].claims["jti"] != tokens[1].claims["jti"]


def test_the_published_jwks_holds_the_public_key_only(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048)
    settings = Settings(
        fhir_oauth_token_url=TOKEN_URL,
        fhir_oauth_client_id="her2-adapter",
        fhir_oauth_private_key=pem_file(tmp_path, key),
        fhir_oauth_key_id="2026-01",
    )
    [published] = public_jwks(settings)["keys"]
    assert set(published) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (published["kid"], published["alg"], published["use"]) == ("2026-01", "RS384", "sig")


def test_a_key_that_cannot_be_used_is_refused_naming_the_file_only(tmp_path: Path) -> None:
    rsa_key, ec = RSAKey.generate_key(2048), ECKey.generate_key("P-384")
    cases: list[tuple[Path, Literal["RS384", "ES384"], str]] = [
        (tmp_path / "missing.pem", "RS384", "No such file"),
        (pem_file(tmp_path, rsa_key, private=False), "RS384", "a public key"),
        (pem_file(tmp_path, ec), "RS384", "not an unencrypted PEM RSA private key"),
        (pem_file(tmp_path, rsa_key), "ES384", "not an unencrypted PEM EC P-384 private key"),
        (pem_file(tmp_path, ECKey.generate_key("P-256")), "ES384", "curve P-256; ES384 needs"),
        (short_rsa_pem(tmp_path), "RS384", "1024 bits; at least 2048"),
    ]
    for path, algorithm, why in cases:
        with pytest.raises(ClientKeyError) as caught:
            load_private_key(path, algorithm)
        assert str(caught.value).startswith(f"FHIR_OAUTH_PRIVATE_KEY {path}: ")
        assert why in str(caught.value)
        assert "BEGIN" not in str(caught.value)
