"""The write-back client's status table and auth (fhir_server.py, http_status.py, fhir_auth.py).

The unit under test is the mapping of HTTP statuses and transport faults to typed errors, and
the token handling, so the HTTP layer here is `httpx.MockTransport`: a scripted server, not a
mocked client. Real-server behaviour is covered by tests/integration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adapter.errors import AuthorizationRefused, DependencyUnavailable, StaleWrite, WriteRejected
from adapter.fhir_auth import ClientCredentials, StaticToken
from adapter.fhir_server import DirectorySink, FhirServer, write_back_target
from adapter.oauth_client import ClientSecret
from adapter.settings import Settings

BASE = "http://fhir.test/R4"
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:1",
            "resource": {"resourceType": "Observation", "id": "o1"},
            "request": {"method": "PUT", "url": "Observation/o1"},
        }
    ],
}


def server(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> FhirServer:
    return FhirServer(httpx.Client(transport=httpx.MockTransport(handler)), BASE, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_dependency_unavailable(status: int) -> None:
    with pytest.raises(DependencyUnavailable):
        server(lambda _: httpx.Response(status)).transaction(BUNDLE)


@pytest.mark.parametrize("status", [409, 412])
def test_a_refused_precondition_is_a_stale_write_retried_not_rejected(status: int) -> None:
    with pytest.raises(StaleWrite):
        server(lambda _: httpx.Response(status, json=OUTCOME)).transaction(BUNDLE)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_are_write_rejected_with_the_servers_outcome(status: int) -> None:
    with pytest.raises(WriteRejected) as caught:
        server(lambda _: httpx.Response(status, json=OUTCOME)).transaction(BUNDLE)
    assert caught.value.status == status
    assert caught.value.outcome == OUTCOME


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authorization_refused(status: int) -> None:
    with pytest.raises(AuthorizationRefused) as caught:
        server(lambda _: httpx.Response(status, json=OUTCOME)).transaction(BUNDLE)
    assert caught.value.outcome == OUTCOME


def test_connect_and_timeout_faults_are_dependency_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler in (refuse, slow):
        with pytest.raises(DependencyUnavailable):
            server(handler).check()


def test_transaction_returns_the_locations_relative_to_the_base() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert str(request.url) == BASE
        assert request.headers["Content-Type"] == "application/fhir+json"
        location = f"{BASE}/Observation/o1/_history/2"
        body = {"resourceType": "Bundle", "type": "transaction-response"}
        body["entry"] = [{"response": {"status": "200 OK", "location": location}}]
        return httpx.Response(200, json=body)

    written = server(answer).transaction(BUNDLE)
    assert written.references == ["Observation/o1/_history/2"]
    assert written.versions == {"Observation/o1": "2"}  # from the location: no etag sent


def test_transaction_takes_each_version_from_its_etag() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        entry = {"response": {"status": "200 OK", "location": "Observation/o1", "etag": 'W/"7"'}}
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": [entry]})

    assert server(answer).transaction(BUNDLE).versions == {"Observation/o1": "7"}


def test_static_token_is_sent_as_bearer() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json={"resourceType": "CapabilityStatement"})

    fhir = server(answer, auth=StaticToken("t0k"))
    fhir.read("Observation/o1")
    fhir.check()  # metadata is public: no token sent
    assert seen == ["Bearer t0k", ""]


def test_client_credentials_token_is_cached_and_refreshed_once_on_401() -> None:
    tokens = iter(["first", "second"])
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials"
            calls.append("token")
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 3600})
        auth = request.headers["Authorization"]
        calls.append(auth)
        if auth == "Bearer first" and calls.count("Bearer first") > 1:
            return httpx.Response(401, json=OUTCOME)  # revoked
        return httpx.Response(200, json={"resourceType": "Observation"})

    secret = ClientSecret("id", SecretStr("secret"))
    auth = ClientCredentials("http://fhir.test/token", "system/*.write", secret)
    fhir = server(answer, auth=auth)
    fhir.read("Observation/o1")
    fhir.read("Observation/o1")
    fhir.read("Observation/o1")
    assert calls == [
        "token",
        "Bearer first",
        "Bearer first",
        "token",
        "Bearer second",
        "Bearer second",
    ]


def test_a_refused_token_request_names_the_oauth_error_but_no_secret() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/token"
        refusal = {"error": "invalid_client", "error_description": "client\nauthentication failed"}
        return httpx.Response(401, json=refusal)

    secret = ClientSecret("id", SecretStr("s3cr3t-value"))
    fhir = server(
        answer, auth=ClientCredentials("http://fhir.test/token", "system/*.write", secret)
    )
    with pytest.raises(AuthorizationRefused) as caught:
        fhir.read("Observation/o1")
    assert str(caught.value) == (
        "token request to http://fhir.test/token refused: HTTP 401: "
        "invalid_client (client authentication failed)"
    )
    assert caught.value.status == 401
    assert "s3cr3t" not in str(caught.value)


def test_an_unavailable_token_server_is_a_transient_fault() -> None:
    secret = ClientSecret("id", SecretStr("secret"))
    auth = ClientCredentials("http://fhir.test/token", "system/*.write", secret)
    with pytest.raises(DependencyUnavailable):
        server(lambda _: httpx.Response(503), auth=auth).read("Observation/o1")


def test_directory_sink_writes_one_named_file_per_bundle(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path / "out")
    sink.check()
    bundle = json.loads(json.dumps(BUNDLE))
    bundle["entry"][0]["resource"] = {"resourceType": "DiagnosticReport", "id": "dr-1"}
    assert sink.transaction(bundle).references == ["DiagnosticReport/dr-1"]
    assert sink.transaction(bundle).references == ["DiagnosticReport/dr-1"]
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 2
    assert all(f.name.startswith("dr-1-") and f.suffix == ".json" for f in files)
    assert json.loads(files[0].read_text()) == bundle


def test_directory_sink_lists_whole_files_only_oldest_first(tmp_path: Path) -> None:
    # A reader (the demo) polling the sink while a worker writes must never open the file the
    # worker is still writing: it is empty or partial until its rename.
    sink = DirectorySink(tmp_path)
    first, second = (json.loads(json.dumps(BUNDLE)) for _ in range(2))
    first["entry"][0]["resource"] = {"resourceType": "DiagnosticReport", "id": "dr-b"}
    second["entry"][0]["resource"] = {"resourceType": "DiagnosticReport", "id": "dr-a"}
    sink.transaction(first)
    sink.transaction(second)
    (tmp_path / ".tmp-in-progress.json").write_bytes(b'{"resourceType": "Bun')
    written = sink.written()
    assert [json.loads(p.read_bytes()) for p in written] == [first, second]


def test_without_a_server_url_the_target_is_the_directory_sink(tmp_path: Path) -> None:
    target = write_back_target(Settings(sink_dir=tmp_path))
    assert isinstance(target, DirectorySink)
    assert isinstance(write_back_target(Settings(fhir_server_url=BASE)), FhirServer)


def test_search_follows_next_links() -> None:
    # A server that pages by `next` links (HAPI does; the local test server does not).
    pages = {
        "": {
            "entry": [{"resource": {"id": "a"}}],
            "link": [{"relation": "next", "url": f"{BASE}/p2"}],
        },
        "/p2": {"entry": [{"resource": {"id": "b"}}], "link": [{"relation": "self", "url": "x"}]},
    }
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        path = request.url.path.removeprefix("/R4/DiagnosticReport").removeprefix("/R4")
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", **pages[path]}
        )

    got = list(server(handler).search("DiagnosticReport", {"identifier": "sys|", "_count": "1"}))
    assert [p["entry"][0]["resource"]["id"] for p in got] == ["a", "b"]
    assert seen == [f"{BASE}/DiagnosticReport?identifier=sys%7C&_count=1", f"{BASE}/p2"]


def test_search_pages_by_offset_where_the_server_gives_a_total_but_no_links() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("_offset", "0"))
        entries = [{"resource": {"id": str(i)}} for i in range(offset, min(offset + 2, 5))]
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "total": 5, "entry": entries}
        )

    got = list(server(handler).search("Observation", {"_count": "2"}))
    ids = [e["resource"]["id"] for page in got for e in page["entry"]]
    assert ids == ["0", "1", "2", "3", "4"]


def test_a_refused_search_is_write_rejected_with_the_status() -> None:
    with pytest.raises(WriteRejected, match="search Observation: HTTP 401"):
        list(server(lambda _: httpx.Response(401)).search("Observation", {}))
