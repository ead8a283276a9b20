"""Outbound auth to the EHR's FHIR server: the bearer token on every request.

Static (`FHIR_SERVER_TOKEN`), or fetched with the OAuth2 client credentials grant of SMART
Backend Services (`FHIR_OAUTH_*`): the client authenticates by a signed JWT or its secret
(`adapter.oauth_client`), the token is kept until shortly before it expires, and replaced once
when the FHIR server answers 401. A token request the token server refuses is
`AuthorizationRefused`, with the OAuth2 error it gave (never a token, key or secret).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Final

import httpx

from adapter.errors import AuthorizationRefused, DependencyUnavailable, WriteRejected
from adapter.http_status import raise_for_status
from adapter.oauth_client import ClientAuthentication, client_authentication
from adapter.settings import Settings

TOKEN_EARLY_REFRESH_SECONDS: Final = 30  # renew a token this long before it expires


class StaticToken(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class ClientCredentials(httpx.Auth):
    """OAuth2 client credentials: POST grant_type=client_credentials to the token URL, the
    client authenticated by `client_auth`; the token is kept until shortly before it expires
    (`clock`: seconds, monotonic) and replaced once when the server answers 401."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        scope: str,
        client_auth: ClientAuthentication,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._scope = scope
        self._client_auth = client_auth
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or self._clock() >= self._expires_at:
            self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one retry
            self._store((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials", "scope": self._scope}
        form |= self._client_auth.fields(self._token_url)  # a new assertion every time
        return httpx.Request(
            "POST", self._token_url, data=form, headers={"Accept": "application/json"}
        )

    def _store(self, response: httpx.Response) -> None:
        try:
            raise_for_status(response, "OAuth2 token request")
        except WriteRejected as refused:  # RFC 6749 5.2: invalid_client, invalid_scope, ...
            raise AuthorizationRefused(
                f"token request to {self._token_url} refused: HTTP {refused.status}"
                f"{_oauth_error(response)}",
                status=refused.status,
            ) from None
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise DependencyUnavailable("OAuth2 token response without access_token")
        lifetime = body.get("expires_in", 300)
        lifetime = lifetime if isinstance(lifetime, int | float) else 300
        self._token = token
        self._expires_at = self._clock() + max(0.0, lifetime - TOKEN_EARLY_REFRESH_SECONDS)


def _oauth_error(response: httpx.Response) -> str:
    """`: error (description)` from an OAuth2 error response, shortened; "" without one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    description = body.get("error_description")
    said = f"{body['error']} ({description})" if isinstance(description, str) else body["error"]
    return ": " + " ".join(said.split())[:200]


def outbound_auth(settings: Settings) -> httpx.Auth | None:
    """The FHIR server's auth `settings` configure: OAuth2, a static token, or none."""
    client_auth = client_authentication(settings)
    if client_auth is not None and settings.fhir_oauth_token_url:
        return ClientCredentials(
            settings.fhir_oauth_token_url, settings.fhir_oauth_scope, client_auth
        )
    if settings.fhir_server_token is not None:
        return StaticToken(settings.fhir_server_token.get_secret_value())
    return None
