"""Outbound auth to the EHR's FHIR server: the bearer token on every request.

Static (`FHIR_SERVER_TOKEN`), or fetched with OAuth2 client credentials (`FHIR_OAUTH_*`, SMART
Backend Services style), kept until shortly before it expires and refreshed once when the
server answers 401.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Final

import httpx

from adapter.errors import DependencyUnavailable
from adapter.http_status import raise_for_status
from adapter.settings import Settings

TOKEN_EARLY_REFRESH_SECONDS: Final = 30  # renew a token this long before it expires


class StaticToken(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth2 client credentials: POST grant_type=client_credentials to the token URL."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str) -> None:
        self._token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._token: str | None = None
        self._expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() >= self._expires_at:
            self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one retry
            self._store((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST", self._token_url, data=self._form, headers={"Accept": "application/json"}
        )

    def _store(self, response: httpx.Response) -> None:
        raise_for_status(response, "OAuth2 token request")
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise DependencyUnavailable("OAuth2 token response without access_token")
        lifetime = body.get("expires_in", 300)
        lifetime = lifetime if isinstance(lifetime, int | float) else 300
        self._token = token
        self._expires_at = time.monotonic() + max(0.0, lifetime - TOKEN_EARLY_REFRESH_SECONDS)


def outbound_auth(settings: Settings) -> httpx.Auth | None:
    if settings.fhir_oauth_token_url and settings.fhir_oauth_client_id:
        secret = settings.fhir_oauth_client_secret
        return ClientCredentials(
            settings.fhir_oauth_token_url,
            settings.fhir_oauth_client_id,
            secret.get_secret_value() if secret else "",
            settings.fhir_oauth_scope,
        )
    if settings.fhir_server_token is not None:
        return StaticToken(settings.fhir_server_token.get_secret_value())
    return None
