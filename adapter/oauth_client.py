"""How the adapter proves who it is to the EHR's token server (SMART Backend Services).

SMART Backend Services (hl7.org/fhir/smart-app-launch/backend-services.html), as Epic, Oracle
Health and Medplum run it, authenticates a client by a JWT the client signs with its own
private key (`private_key_jwt`, RFC 7523): header `alg` RS384 or ES384 and the `kid` the EHR
knows the key by; claims `iss` = `sub` = the client id, `aud` = the token URL, a fresh `jti`
and an `exp` at most five minutes ahead. The EHR checks the signature with the public key the
operator registered as a JWKS (`her2-adapter jwks` prints it). A client secret stays the
alternative for servers that issue one. authlib signs the assertion over joserfc keys: nothing
here does JOSE by hand.

Each token request gets a new assertion: one per request, never reused (the server refuses a
`jti` it has seen). The key file is read when the first assertion is signed, not when the client
is built: the API builds the FHIR client for its health check, which needs no token, so the
private key need only be where the worker runs (the worker command checks it at start-up).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, RSAKey
from pydantic import SecretStr

from adapter.errors import ClientKeyError
from adapter.settings import Settings

Algorithm = Literal["RS384", "ES384"]
# SMART: `exp` no more than five minutes after the assertion is made. A minute less, so that a
# token server whose clock runs behind ours still finds it within its limit.
ASSERTION_LIFETIME_SECONDS: Final = 240
MIN_RSA_BITS: Final = 2048  # SMART and NIST SP 800-131A: shorter RSA keys are refused


class ClientAuthentication(Protocol):
    """The form fields that authenticate the client in one token request."""

    def fields(self, token_url: str) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """`client_secret_post`: the client id and its secret in the token request's form."""

    client_id: str
    secret: SecretStr

    def fields(self, token_url: str) -> dict[str, str]:  # noqa: ARG002 - the same for every URL
        return {"client_id": self.client_id, "client_secret": self.secret.get_secret_value()}


class PrivateKeyJwt:
    """`private_key_jwt`: a client assertion signed with the client's private key."""

    def __init__(self, client_id: str, key_path: Path, key_id: str, algorithm: Algorithm) -> None:
        self.client_id = client_id
        self.key_path = key_path
        self.key_id = key_id
        self.algorithm = algorithm
        self._key: RSAKey | ECKey | None = None

    def fields(self, token_url: str) -> dict[str, str]:
        """A new assertion for `token_url`: its own `jti`, `exp` a few minutes ahead."""
        if self._key is None:
            self._key = load_private_key(self.key_path, self.algorithm)
        assertion = private_key_jwt_sign(
            self._key,
            self.client_id,
            token_url,
            alg=self.algorithm,
            header={"kid": self.key_id},
            expires_in=ASSERTION_LIFETIME_SECONDS,
        )
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


def client_authentication(settings: Settings) -> ClientAuthentication | None:
    """The client authentication `settings` configure (Settings refuses inconsistent ones)."""
    client_id = settings.fhir_oauth_client_id
    if not settings.fhir_oauth_token_url or not client_id:
        return None
    key, key_id = settings.fhir_oauth_private_key, settings.fhir_oauth_key_id
    if key is not None and key_id is not None:
        return PrivateKeyJwt(client_id, key, key_id, settings.fhir_oauth_algorithm)
    if settings.fhir_oauth_client_secret is not None:
        return ClientSecret(client_id, settings.fhir_oauth_client_secret)
    return None


def load_private_key(path: Path, algorithm: Algorithm) -> RSAKey | ECKey:
    """The private key in PEM file `path`, checked to suit `algorithm`.

    Raises ClientKeyError naming the file and what is wrong, never its content.
    """
    where = f"FHIR_OAUTH_PRIVATE_KEY {path}"
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ClientKeyError(f"{where}: {error.strerror}") from None
    key_type, kind = (RSAKey, "RSA") if algorithm == "RS384" else (ECKey, "EC P-384")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # a short key is refused below
            key = key_type.import_key(pem)
    except (ValueError, TypeError, JoseError):  # not PEM, another key type, encrypted
        raise ClientKeyError(
            f"{where}: not an unencrypted PEM {kind} private key (FHIR_OAUTH_ALGORITHM {algorithm})"
        ) from None
    if not key.is_private:
        raise ClientKeyError(f"{where}: a public key; the private key is needed")
    if isinstance(key, ECKey) and key.curve_name != "P-384":
        raise ClientKeyError(f"{where}: curve {key.curve_name}; ES384 needs P-384")
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        raise ClientKeyError(f"{where}: {key.raw_value.key_size} bits; at least {MIN_RSA_BITS}")
    return key


def public_jwks(settings: Settings) -> dict[str, Any]:
    """The JWKS to register with the EHR: the public half of FHIR_OAUTH_PRIVATE_KEY, with its
    `kid`, `alg` and `use`. Raises ClientKeyError when no usable key is configured."""
    path, key_id = settings.fhir_oauth_private_key, settings.fhir_oauth_key_id
    if path is None or key_id is None:
        raise ClientKeyError("FHIR_OAUTH_PRIVATE_KEY and FHIR_OAUTH_KEY_ID are not set")
    key = load_private_key(path, settings.fhir_oauth_algorithm)
    public = key.as_dict(private=False, kid=key_id, alg=settings.fhir_oauth_algorithm, use="sig")
    return {"keys": [public]}
