"""[7] Write-back: the EHR's FHIR server over an injected `httpx.Client`, or a directory sink.

Every HTTP outcome becomes a typed error through ONE table (`adapter.http_status`): a fault
that may pass is `DependencyUnavailable`, which the worker retries; a refusal (4xx) is
`WriteRejected` (`AuthorizationRefused` for 401/403), permanent, with the server's
OperationOutcome; a 412/409 (a write built on a version the server no longer holds) is
`StaleWrite`. Requests carry the bearer token of `adapter.fhir_auth`; `GET metadata` (the
health check) goes without one: the CapabilityStatement is public, and the API need not hold
the worker's key.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from adapter.errors import DependencyUnavailable, WriteRejected
from adapter.fhir.json_input import parse_json
from adapter.fhir.json_output import dumps
from adapter.fhir_auth import outbound_auth
from adapter.http_status import raise_for_status
from adapter.settings import Settings

FHIR_JSON: Final = "application/fhir+json"
# A version as an ETag (`W/"3"`) or at the end of a location (`.../_history/3`).
_ETAG: Final = re.compile(r'^(?:W/)?"([^"]+)"$')
_HISTORY: Final = re.compile(r"/_history/([^/]+)$")


@dataclass(frozen=True, slots=True)
class Written:
    """What a transaction wrote: each entry's reference as the server answered it, and the
    version (`meta.versionId`) it now holds of each resource, by `Type/id`, where it said."""

    references: list[str]
    versions: dict[str, str] = field(default_factory=dict)


class FhirServer:
    """The EHR's FHIR R4 server: transaction, read, search (paged), metadata check."""

    def __init__(self, http: httpx.Client, base_url: str, auth: httpx.Auth | None = None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._auth = auth

    def transaction(self, bundle: dict[str, Any]) -> Written:
        """POST a transaction Bundle; returns each entry's `response.location` (or Type/id)
        and the version written (its `response.etag`, else the location's `_history`).
        Raises StaleWrite when an entry's `ifMatch` names a version the server no longer holds
        (the whole transaction is refused), else as `_send`."""
        response = self._send("POST", self._base, "transaction", content=_json_bytes(bundle))
        body = response.json()
        written = Written([])
        for sent, got in zip(bundle.get("entry", []), body.get("entry", []), strict=False):
            answer = got.get("response", {}) if isinstance(got, dict) else {}
            resource = sent["resource"]
            name = f"{resource['resourceType']}/{resource['id']}"
            location = answer.get("location") or name
            written.references.append(_relative(location, self._base))
            version = _ETAG.match(str(answer.get("etag", ""))) or _HISTORY.search(location)
            if version:
                written.versions[name] = version.group(1)
        return written

    def read(self, reference: str) -> dict[str, Any]:
        """GET `Type/id`; numbers parsed exactly (Decimal). 404/410 raise WriteRejected."""
        response = self._send("GET", f"{self._base}/{reference}", f"read {reference}")
        return parse_json(response.content)

    def current(self, reference: str) -> dict[str, Any] | None:
        """GET `Type/id`: the version the server holds now, or None when it holds none
        (404/410); raises as `read` otherwise."""
        try:
            return self.read(reference)
        except WriteRejected as error:
            if error.status in (404, 410):
                return None
            raise

    def check(self) -> None:
        """GET metadata, without a token (public); raises DependencyUnavailable or WriteRejected."""
        self._send("GET", f"{self._base}/metadata", "metadata", authenticated=False)

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
        *,
        authenticated: bool = True,
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
                auth=(self._auth or httpx.USE_CLIENT_DEFAULT) if authenticated else None,
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
        self._writes = itertools.count()

    def transaction(self, bundle: dict[str, Any]) -> Written:
        """Write the Bundle atomically (temp file + rename); returns its resources' Type/id
        (a directory keeps no versions: nothing to match on the next write)."""
        resources = [e["resource"] for e in bundle.get("entry", [])]
        report = next((r for r in resources if r["resourceType"] == "DiagnosticReport"), None)
        stem = report["id"] if report else "bundle"
        data = _json_bytes(bundle)  # compact, as a FHIR server would be sent it
        # The temporary name is unique to this process and write (no random names to try):
        # a sink file costs one create, write, fsync and rename (measured: 0.15 ms of CPU
        # against 0.25 ms through tempfile.mkstemp and a file object).
        tmp = f"{self.directory}/{_WRITING}{os.getpid()}-{next(self._writes)}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.directory / f"{stem}-{time.time_ns()}.json")  # write order
        except OSError as error:
            raise DependencyUnavailable(f"sink {self.directory}: {error.strerror}") from error
        return Written([f"{r['resourceType']}/{r['id']}" for r in resources])

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
    return dumps(resource).encode()
