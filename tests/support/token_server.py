"""Start the EHR's authorization server for tests (tests/fhir_server/token_server.mjs).

A real OAuth2 server (node-oidc-provider): the client credentials grant with SMART Backend
Services' client authentication (private_key_jwt, RS384 / ES384) or a client secret, token
introspection for the FHIR test server, revocation. Typical use::

    with TokenTestServer(free_port(), [smart_client("her2-adapter", jwks)]) as tokens:
        fhir = FhirTestServer(free_port(), introspection=tokens.introspection(),
                              token=tokens.harness_token())
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from adapter.settings import DEFAULT_FHIR_SCOPE
from tests.support.fhir_server import Introspection
from tests.support.node_server import NodeServer

# SMART v1 scopes the token server knows; a client is granted those of its registration only.
SCOPES = [*DEFAULT_FHIR_SCOPE.split(), "system/*.read", "system/*.write"]
HARNESS = "test-harness"  # the tests' own client: reads and stores what the EHR would hold
RESOURCE_SERVER = "fhir-test-server"  # the FHIR server, introspecting tokens


def smart_client(client_id: str, jwks: dict[str, Any], scope: str) -> dict[str, Any]:
    """A backend-services client registered with its public JWKS (private_key_jwt)."""
    return {
        **_client(client_id, scope),
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks,
    }


def secret_client(client_id: str, secret: str, scope: str) -> dict[str, Any]:
    """A client that authenticates with its secret in the token request (client_secret_post)."""
    return {
        **_client(client_id, scope),
        "token_endpoint_auth_method": "client_secret_post",
        "client_secret": secret,
    }


def _client(client_id: str, scope: str) -> dict[str, Any]:
    no_browser: dict[str, list[str]] = {"response_types": [], "redirect_uris": []}
    return {
        "client_id": client_id,
        "grant_types": ["client_credentials"],
        "scope": scope,
    } | no_browser


class TokenTestServer(NodeServer):
    """One ``node token_server.mjs`` on 127.0.0.1:<port> with `clients` registered, plus the
    test harness's client and the FHIR server's introspection client.

    token_seconds: access token lifetime of the registered clients (the harness's is an hour).
    """

    script = "token_server.mjs"
    name = "token test server"

    def __init__(
        self,
        port: int,
        clients: list[dict[str, Any]],
        *,
        token_seconds: int = 300,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(port, log_path=log_path)
        self._harness_secret = secrets.token_urlsafe(16)
        self._resource_secret = secrets.token_urlsafe(16)
        resource_server = {
            "client_id": RESOURCE_SERVER,
            "client_secret": self._resource_secret,
            "grant_types": [],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        harness = secret_client(HARNESS, self._harness_secret, "system/*.read system/*.write")
        config = {
            "clients": [*clients, harness, resource_server],
            "scopes": SCOPES,
            "tokenSeconds": {c["client_id"]: token_seconds for c in clients} | {HARNESS: 3600},
        }
        self.config_path = self.log_path.with_name("token-server-config.json")
        self.config_path.write_text(json.dumps(config))

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def ready_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def environment(self) -> dict[str, str]:
        return {
            "TOKEN_TEST_PORT": str(self.port),
            "TOKEN_TEST_HOST": "127.0.0.1",
            "TOKEN_TEST_CONFIG": str(self.config_path),
        }

    def introspection(self) -> Introspection:
        """What the FHIR test server needs to check tokens here."""
        return Introspection(
            f"{self.token_url}/introspection", RESOURCE_SERVER, self._resource_secret
        )

    def harness_token(self) -> str:
        """An access token (an hour) for the tests' own reads and writes on the FHIR server."""
        form = {
            "grant_type": "client_credentials",
            "scope": "system/*.read system/*.write",
            "client_id": HARNESS,
            "client_secret": self._harness_secret,
        }
        response = httpx.post(self.token_url, data=form, timeout=10)
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def stats(self) -> dict[str, int]:
        """Token requests answered so far: {"issued": n, "refused": n}."""
        counts: dict[str, int] = httpx.get(f"{self.issuer}/test/stats", timeout=10).json()
        return counts
