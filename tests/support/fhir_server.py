"""Start and drive the local FHIR R4 test server (tests/fhir_server/server.mjs) from tests.

The server is Medplum's open-source FHIR router over an in-memory repository, run with Node.js
(process handling: `tests.support.node_server`). Typical use::

    server = FhirTestServer(free_port())
    server.start()
    try:
        httpx.put(f"{server.base_url}/Patient/p1", json={...})
        assert server.search("Patient", identifier="urn:mrn|123")
    finally:
        server.stop()

The FHIR base URL is ``http://127.0.0.1:<port>/fhir/R4``.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.node_server import NodeServer, NodeServerError, free_port

__all__ = ["FhirTestServer", "FhirTestServerError", "Introspection", "free_port"]

BASE_PATH = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
FhirTestServerError = NodeServerError


@dataclass(frozen=True, slots=True)
class Introspection:
    """Where the FHIR server asks whether a bearer token is active (RFC 7662), as which client."""

    url: str
    client_id: str
    client_secret: str


def _search_param_name(name: str) -> str:
    # Python keywords cannot hold "-": based_on -> based-on; leading "_" (_id, _count) is kept.
    stripped = name.lstrip("_")
    return "_" * (len(name) - len(stripped)) + stripped.replace("_", "-")


class FhirTestServer(NodeServer):
    """One ``node server.mjs`` process on 127.0.0.1:<port>.

    data_file: when given, the server keeps its data there (JSON lines, appended on every
        committed write, replayed on start), so stop()/kill() then start() keeps the data.
        Without it, every start begins empty.
    token: the bearer token this helper's own requests (search, reset, client()) send; without
        `introspection`, the server requires exactly that token.
    introspection: the server requires a bearer token the authorization server says is active
        and whose SMART system scopes cover the request (401 / 403 otherwise).
    allow_reset: enables ``DELETE /$reset`` on the server (needed by reset()).
    strict: refuses (400 OperationOutcome naming each one) a write whose references name
        nothing the server holds, as HAPI FHIR does by default.
    log_path: where the server's stdout/stderr go (one line per request); default: a temp file.
    """

    script = "server.mjs"
    name = "FHIR test server"

    def __init__(
        self,
        port: int,
        data_file: Path | None = None,
        token: str | None = None,
        *,
        introspection: Introspection | None = None,
        allow_reset: bool = True,
        validate: bool = True,
        strict: bool = False,
        quiet: bool = False,
        log_path: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(port, log_path=log_path, startup_timeout=startup_timeout)
        self.data_file = data_file
        self.token = token
        self.introspection = introspection
        self.allow_reset = allow_reset
        self.validate = validate
        self.strict = strict
        self.quiet = quiet
        self._client: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    @property
    def ready_url(self) -> str:
        return f"{self.base_url}/metadata"

    def environment(self) -> dict[str, str]:
        introspection = self.introspection
        return {
            "FHIR_TEST_PORT": str(self.port),
            "FHIR_TEST_HOST": "127.0.0.1",
            "FHIR_TEST_VALIDATE": "1" if self.validate else "0",
            "FHIR_TEST_QUIET": "1" if self.quiet else "0",
            "FHIR_TEST_STRICT_REFERENCES": "1" if self.strict else "0",
            "FHIR_TEST_TOKEN": self.token if self.token and not introspection else "",
            "FHIR_TEST_DATA_FILE": str(self.data_file) if self.data_file else "",
            "FHIR_TEST_ALLOW_RESET": "1" if self.allow_reset else "",
            "FHIR_TEST_INTROSPECTION_URL": introspection.url if introspection else "",
            "FHIR_TEST_INTROSPECTION_CLIENT": (
                f"{introspection.client_id}:{introspection.client_secret}" if introspection else ""
            ),
        }

    def _terminate(self, sig: signal.Signals, timeout: float) -> int | None:
        self._close_client()
        return super()._terminate(sig, timeout)

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- HTTP ---------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def client(self) -> httpx.Client:
        """A keep-alive httpx client on base_url, with the token; closed by stop()/kill()."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, headers=self.headers(), timeout=30)
        return self._client

    def search(self, resource_type: str, /, **params: Any) -> list[dict[str, Any]]:
        """GET <base>/<resource_type>?params and return the matched resources.

        Keyword names map to FHIR names with "_" -> "-" except leading underscores
        (based_on -> based-on, _id -> _id); a list value repeats the parameter.
        """
        query = {_search_param_name(k): v for k, v in params.items()}
        response = self.client().get(f"/{resource_type}", params=query)
        if response.status_code != 200:
            raise FhirTestServerError(
                f"search {resource_type} -> {response.status_code}: {response.text}"
            )
        bundle = response.json()
        return [e["resource"] for e in bundle.get("entry", []) if "resource" in e]

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current version, or None when absent (404/410)."""
        response = self.client().get(f"/{resource_type}/{resource_id}")
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise FhirTestServerError(f"read -> {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def history(self, resource_type: str, resource_id: str) -> list[dict[str, Any]]:
        """All versions of one resource, newest first."""
        response = self.client().get(f"/{resource_type}/{resource_id}/_history")
        if response.status_code != 200:
            raise FhirTestServerError(f"history -> {response.status_code}: {response.text}")
        return [e["resource"] for e in response.json().get("entry", [])]

    def hold(self, match: str) -> None:
        """Hold the next write whose body contains `match` until `release()`: its sender waits
        as for a stalled server, and the write lands only then. Needs allow_reset=True."""
        self._admin("POST", f"/$hold?match={match}")

    def held(self) -> int:
        """How many writes the hold keeps waiting."""
        return int(self._admin("GET", "/$hold")["held"])

    def release(self) -> None:
        """Let every held write in, in the order they arrived."""
        self._admin("POST", "/$release")

    def _admin(self, method: str, path: str) -> dict[str, Any]:
        response = self.client().request(method, f"http://127.0.0.1:{self.port}{path}")
        if response.status_code != 200:
            raise FhirTestServerError(f"{path} -> {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def reset(self) -> None:
        """Empty the server (and its data file). Needs allow_reset=True."""
        response = self.client().delete(f"http://127.0.0.1:{self.port}/$reset")
        if response.status_code != 200:
            raise FhirTestServerError(f"reset -> {response.status_code}: {response.text}")
