"""[7] Write-back: the EHR's FHIR server over an injected `httpx.Client`, or a directory sink.

Every HTTP outcome becomes a typed error through ONE table, `STATUS_ERRORS`: a fault that may
pass (network, timeout, 5xx, 408, 429) is `DependencyUnavailable`, which the worker retries; any
other 4xx is `WriteRejected`, permanent, carrying the server's OperationOutcome.

Outbound auth is a bearer token: static (`FHIR_SERVER_TOKEN`) or fetched with OAuth2 client
credentials (`FHIR_OAUTH_*`, SMART Backend Services style), cached until shortly before it
expires and refreshed once when the server answers 401.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx

from adapter.errors import AdapterError, DependencyUnavailable, WriteRejected
from adapter.fhir.json_input import parse_json
from adapter.settings import Settings

FHIR_JSON: Final = "application/fhir+json"
TOKEN_EARLY_REFRESH_SECONDS: Final = 30  # renew a token this long before it expires

# The one table: HTTP status -> the error it becomes (first matching row wins).
STATUS_ERRORS: Final[tuple[tuple[range, type[AdapterError]], ...]] = (
    (range(408, 409), DependencyUnavailable),  # request timeout
    (range(429, 430), DependencyUnavailable),  # too many requests: back off and retry
    (range(500, 600), DependencyUnavailable),  # server fault, gateway down
    (range(400, 500), WriteRejected),  # the request itself is refused: retrying cannot help
)


def raise_for_status(response: httpx.Response, action: str) -> None:
    """Return for a 2xx; raise the error `STATUS_ERRORS` names for any other status."""
    status = response.status_code
    if 200 <= status < 300:
        return
    for statuses, error in STATUS_ERRORS:
        if status in statuses:
            outcome = _outcome(response)
            message = f"{action}: HTTP {status}"
            if error is WriteRejected:
                raise WriteRejected(message, status=status, outcome=outcome)
            raise error(message)
    raise DependencyUnavailable(f"{action}: unexpected HTTP {status}")


def _outcome(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return (
        body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    )


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


class FhirServer:
    """The EHR's FHIR R4 server: transaction, read, search (paged), metadata check."""

    def __init__(self, http: httpx.Client, base_url: str, auth: httpx.Auth | None = None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._auth = auth

    def transaction(self, bundle: dict[str, Any]) -> list[str]:
        """POST a transaction Bundle; returns each entry's `response.location` (or Type/id)."""
        response = self._send("POST", self._base, "transaction", content=_json_bytes(bundle))
        body = response.json()
        locations = []
        for sent, got in zip(bundle.get("entry", []), body.get("entry", []), strict=False):
            answer = got.get("response", {}) if isinstance(got, dict) else {}
            location = answer.get("location")
            if not location:
                resource = sent["resource"]
                location = f"{resource['resourceType']}/{resource['id']}"
            locations.append(_relative(location, self._base))
        return locations

    def read(self, reference: str) -> dict[str, Any]:
        """GET `Type/id`; numbers parsed exactly (Decimal). 404/410 raise WriteRejected."""
        response = self._send("GET", f"{self._base}/{reference}", f"read {reference}")
        return parse_json(response.content)

    def check(self) -> None:
        """GET metadata; raises DependencyUnavailable (or WriteRejected: auth refused)."""
        self._send("GET", f"{self._base}/metadata", "metadata")

    def search(self, resource_type: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every page (a `searchset` Bundle) of `GET <type>?<params>`, one at a time.

        Follows the `next` links; a server that gives none but a `total` beyond the entries
        read so far is asked for the following page by `_offset`. Raises as `read` does.
        """
        action = f"search {resource_type}"
        url: str = f"{self._base}/{resource_type}"
        query: Mapping[str, str] | None = params
        read = 0
        while True:
            page = parse_json(self._send("GET", url, action, params=query).content)
            yield page
            entries = [e for e in page.get("entry") or () if isinstance(e, dict)]
            read += len(entries)
            following = next(
                (
                    link.get("url")
                    for link in page.get("link") or ()
                    if link.get("relation") == "next"
                ),
                None,
            )
            total = page.get("total")
            if isinstance(following, str) and following:
                url, query = following, None
            elif entries and isinstance(total, int) and read < total and query is not None:
                query = {**params, "_offset": str(read)}
            else:
                return

    def _send(
        self,
        method: str,
        url: str,
        action: str,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": FHIR_JSON}
        if content is not None:
            headers["Content-Type"] = FHIR_JSON
        try:
            response = self._http.request(
                method,
                url,
                content=content,
                params=params,
                headers=headers,
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as error:  # connect refused, timeouts, protocol errors
            raise DependencyUnavailable(f"{action}: {type(error).__name__}") from error
        raise_for_status(response, action)
        return response


_WRITING: Final = ".tmp-"  # name prefix of a sink file until its rename makes it whole


class DirectorySink:
    """The write-back with no FHIR server: one JSON file per written Bundle in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def transaction(self, bundle: dict[str, Any]) -> list[str]:
        """Write the Bundle atomically (temp file + rename); returns its resources' Type/id."""
        resources = [e["resource"] for e in bundle.get("entry", [])]
        report = next((r for r in resources if r["resourceType"] == "DiagnosticReport"), None)
        stem = report["id"] if report else "bundle"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{stem}-{time.time_ns()}.json"  # per case, in write order
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=_WRITING, suffix=".json")
            with os.fdopen(fd, "wb") as file:
                file.write(_json_bytes(bundle))  # compact, as a FHIR server would be sent it
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self.directory / name)
        except OSError as error:
            raise DependencyUnavailable(f"sink {self.directory}: {error.strerror}") from error
        return [f"{r['resourceType']}/{r['id']}" for r in resources]

    def written(self) -> list[Path]:
        """The Bundle files written so far, oldest first; a file still being written (its
        temporary name) is not one of them."""
        files = [p for p in self.directory.glob("*.json") if not p.name.startswith(_WRITING)]
        # `<report id>-<time_ns>.json`: the name's clock, finer than a file system's mtime
        return sorted(files, key=lambda p: int(p.stem.rsplit("-", 1)[1]))

    def read(self, reference: str) -> dict[str, Any]:
        raise WriteRejected(f"no FHIR server configured to read {reference.split('/')[0]} from")

    def check(self) -> None:
        """Raises DependencyUnavailable unless the directory exists (or can be made), writable."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DependencyUnavailable(f"sink {self.directory}: {error.strerror}") from error
        if not os.access(self.directory, os.W_OK):
            raise DependencyUnavailable(f"sink {self.directory}: not writable")


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


def write_back_target(
    settings: Settings, http: httpx.Client | None = None
) -> FhirServer | DirectorySink:
    """The FHIR server of `settings`, or the directory sink when FHIR_SERVER_URL is unset."""
    if not settings.fhir_server_url:
        return DirectorySink(settings.sink_dir)
    client = http or httpx.Client(timeout=settings.fhir_timeout_seconds)
    return FhirServer(client, settings.fhir_server_url, outbound_auth(settings))


def _relative(location: str, base: str) -> str:
    return location[len(base) + 1 :] if location.startswith(base + "/") else location


def _json_bytes(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, default=_decimal, ensure_ascii=False).encode()


def _decimal(value: object) -> float:
    # Output resources carry reported numbers as the input wrote them (<= 15 significant
    # digits), which a float's shortest repr prints unchanged (as the command line does).
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
