"""SMART Backend Services against a real authorization server (node-oidc-provider, started by
the tests) and a FHIR server that accepts only the tokens it issued (introspection, SMART
scopes, strict references). Nothing is mocked: the assertions are verified by the token server,
the tokens by the FHIR server.

The key set registered with the token server is what `her2-adapter jwks` prints, as an
operator would register it with the EHR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
import pytest
import redis
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from adapter.dead_letters import LETTER_PREFIX, DeadLetterQueue
from adapter.errors import AuthorizationRefused
from adapter.fhir_auth import TOKEN_EARLY_REFRESH_SECONDS, ClientCredentials
from adapter.fhir_server import FhirServer
from adapter.job_store import JobState
from adapter.oauth_client import ClientAuthentication, ClientSecret, PrivateKeyJwt
from adapter.settings import DEFAULT_FHIR_SCOPE
from tests.builders import her2_bundle, ihc_observation, specimen
from tests.integration.conftest import WorkerProcess, ehr_holds
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.token_server import TokenTestServer, secret_client, smart_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENT, SECRET_CLIENT, SECRET = "her2-adapter", "her2-adapter-secret", "s3cret-of-the-test"


@dataclass(frozen=True)
class ClientKey:
    path: Path
    kid: str
    algorithm: Literal["RS384", "ES384"]

    def authentication(self) -> PrivateKeyJwt:
        return PrivateKeyJwt(CLIENT, self.path, self.kid, self.algorithm)

    def env(self, token_url: str) -> dict[str, str]:
        return {
            "FHIR_OAUTH_TOKEN_URL": token_url,
            "FHIR_OAUTH_CLIENT_ID": CLIENT,
            "FHIR_OAUTH_PRIVATE_KEY": str(self.path),
            "FHIR_OAUTH_KEY_ID": self.kid,
            "FHIR_OAUTH_ALGORITHM": self.algorithm,
        }


def write_key(directory: Path, name: str, key: RSAKey | ECKey) -> Path:
    path = directory / f"{name}.pem"
    path.write_bytes(key.as_pem(private=True))
    return path


def published_jwks(key: ClientKey, token_url: str) -> list[dict[str, Any]]:
    """`her2-adapter jwks` for `key`: the operator's step before registering the client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")} | key.env(token_url)
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "jwks"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    keys: list[dict[str, Any]] = json.loads(result.stdout)["keys"]
    return keys


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClientKey]:
    directory = tmp_path_factory.mktemp("keys")
    return {
        "RS384": ClientKey(
            write_key(directory, "rsa", RSAKey.generate_key(2048)), "rsa-1", "RS384"
        ),
        "ES384": ClientKey(
            write_key(directory, "ec", ECKey.generate_key("P-384")), "ec-1", "ES384"
        ),
        "unregistered": ClientKey(
            write_key(directory, "other", RSAKey.generate_key(2048)), "rsa-1", "RS384"
        ),
    }


@pytest.fixture(scope="module")
def tokens(keys: dict[str, ClientKey]) -> Iterator[TokenTestServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/token"
    jwks = {"keys": [*published_jwks(keys["RS384"], url), *published_jwks(keys["ES384"], url)]}
    clients = [
        smart_client(CLIENT, jwks, DEFAULT_FHIR_SCOPE),
        secret_client(SECRET_CLIENT, SECRET, DEFAULT_FHIR_SCOPE),
    ]
    with TokenTestServer(port, clients) as server:
        yield server


@pytest.fixture(scope="module")
def smart_ehr(tokens: TokenTestServer) -> Iterator[FhirTestServer]:
    introspected = FhirTestServer(
        free_port(),
        token=tokens.harness_token(),
        introspection=tokens.introspection(),
        strict=True,
        quiet=True,
    )
    with introspected as server:
        yield server


@pytest.fixture
def ehr(smart_ehr: FhirTestServer) -> FhirTestServer:
    """The (emptied) EHR server, holding the patient and specimen of the tests' results."""
    smart_ehr.reset()
    ehr_holds(smart_ehr, {"resourceType": "Patient", "id": "p"}, specimen("s1"))
    return smart_ehr


class Clock:
    """The token cache's clock, moved by the test instead of waiting for real expiry."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorded:
    """Every request the adapter's client sent, token requests included, and each answer."""

    requests: list[httpx.Request]
    statuses: list[int]

    def to(self, url: str) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) == url]


@pytest.fixture
def connect(
    ehr: FhirTestServer, tokens: TokenTestServer
) -> Iterator[Callable[..., tuple[FhirServer, Recorded]]]:
    """The adapter's FHIR client to `ehr` with OAuth2 (`client_auth`), over a client that
    records every request it sends, token requests included, and every status it gets."""
    opened: list[httpx.Client] = []

    def connect_(client_auth: ClientAuthentication, **kw: Any) -> tuple[FhirServer, Recorded]:
        recorded = Recorded([], [])
        http = httpx.Client(
            timeout=10,
            event_hooks={
                "request": [recorded.requests.append],
                "response": [lambda r: recorded.statuses.append(r.status_code)],
            },
        )
        opened.append(http)
        scope = kw.pop("scope", DEFAULT_FHIR_SCOPE)
        auth = ClientCredentials(tokens.token_url, scope, client_auth, **kw)
        return FhirServer(http, ehr.base_url, auth), recorded

    yield connect_
    for http in opened:
        http.close()


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def test_the_fhir_server_accepts_only_tokens_the_token_server_issued(
    ehr: FhirTestServer,
) -> None:
    url = f"{ehr.base_url}/Patient/p"
    missing = httpx.get(url)
    assert missing.status_code == 401
    forged = httpx.get(url, headers={"Authorization": "Bearer not-issued-by-anyone"})
    assert forged.status_code == 401
    assert forged.headers["WWW-Authenticate"] == 'Bearer realm="fhir", error="invalid_token"'
    assert httpx.get(f"{ehr.base_url}/metadata").status_code == 200  # public
    assert ehr.client().get("/Patient/p").status_code == 200  # the harness's issued token


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_a_token_got_by_signed_assertion_is_kept_until_it_expires(
    ehr: FhirTestServer,
    tokens: TokenTestServer,
    keys: dict[str, ClientKey],
    connect: Callable[..., tuple[FhirServer, Recorded]],
    algorithm: str,
) -> None:
    key = keys[algorithm]
    clock = Clock()
    fhir, recorded = connect(key.authentication(), clock=clock)
    issued = tokens.stats()["issued"]

    for _ in range(3):
        assert fhir.read("Patient/p")["id"] == "p"
    clock.now += 300 - TOKEN_EARLY_REFRESH_SECONDS - 1  # the server's expires_in is 300 s
    fhir.read("Patient/p")
    assert len(recorded.to(tokens.token_url)) == 1
    clock.now += 1
    fhir.read("Patient/p")

    token_requests = recorded.to(tokens.token_url)
    assert len(token_requests) == 2
    assert tokens.stats()["issued"] == issued + 2
    bearers = [r.headers["Authorization"] for r in recorded.to(f"{ehr.base_url}/Patient/p")]
    assert len(set(bearers[:4])) == 1
    assert bearers[4] != bearers[0]
    # What the token server accepted: SMART's assertion, verified with the published key set.
    published = KeySet.import_key_set({"keys": published_jwks(key, tokens.token_url)})
    claims = []
    for request in token_requests:
        sent = form(request)
        assert sent["grant_type"] == "client_credentials"
        assert sent["scope"] == DEFAULT_FHIR_SCOPE
        assert "client_secret" not in sent
        token = jwt.decode(sent["client_assertion"], published, algorithms=[algorithm])
        assert (token.header["alg"], token.header["kid"]) == (algorithm, key.kid)
        assert token.claims["aud"] == tokens.token_url
        assert token.claims["iss"] == token.claims["sub"] == CLIENT
        assert token.claims["exp"] - token.claims["iat"] <= 300
        claims.append(token.claims)
    assert claims[0]["jti"] != claims[1]["jti"]


def test_a_revoked_token_is_replaced_once_when_the_server_answers_401(
    tokens: TokenTestServer,
    keys: dict[str, ClientKey],
    connect: Callable[..., tuple[FhirServer, Recorded]],
) -> None:
    key = keys["RS384"]
    fhir, recorded = connect(key.authentication())
    fhir.read("Patient/p")
    bearer = recorded.requests[-1].headers["Authorization"].removeprefix("Bearer ")
    # The client revokes its own token (RFC 7009), authenticated as itself.
    revoked = httpx.post(
        tokens.revocation_url,
        data={"token": bearer, **key.authentication().fields(tokens.revocation_url)},
    )
    assert revoked.status_code == 200, revoked.text

    assert fhir.read("Patient/p")["id"] == "p"
    kinds = ["token" if str(r.url) == tokens.token_url else "read" for r in recorded.requests]
    assert list(zip(kinds, recorded.statuses, strict=True)) == [
        ("token", 200),
        ("read", 200),
        ("read", 401),
        ("token", 200),
        ("read", 200),
    ]


def test_the_client_secret_alternative_gets_a_token_from_the_same_server(
    tokens: TokenTestServer, connect: Callable[..., tuple[FhirServer, Recorded]]
) -> None:
    from pydantic import SecretStr

    fhir, recorded = connect(ClientSecret(SECRET_CLIENT, SecretStr(SECRET)))
    assert fhir.read("Patient/p")["id"] == "p"
    [token_request] = recorded.to(tokens.token_url)
    assert form(token_request)["client_secret"] == SECRET
    assert "client_assertion" not in form(token_request)


def test_a_token_without_the_scope_to_write_is_refused_naming_the_scope(
    keys: dict[str, ClientKey], connect: Callable[..., tuple[FhirServer, Recorded]]
) -> None:
    narrow = "system/Observation.read"
    fhir, _ = connect(keys["RS384"].authentication(), scope=narrow)
    observation = ihc_observation("3+", id="ihc-1", specimen="Specimen/s1")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": observation, "request": {"method": "PUT", "url": "Observation/ihc-1"}}
        ],
    }
    with pytest.raises(AuthorizationRefused) as refused:
        fhir.transaction(bundle)
    assert refused.value.status == 403
    assert refused.value.outcome is not None
    text = refused.value.outcome["issue"][0]["details"]["text"]
    assert text == "Insufficient scope: needs system/Observation.write"


def test_the_worker_writes_its_report_with_smart_backend_services(
    ehr: FhirTestServer,
    tokens: TokenTestServer,
    keys: dict[str, ClientKey],
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
) -> None:
    worker = start_worker(FHIR_SERVER_URL=ehr.base_url, **keys["ES384"].env(tokens.token_url))
    result = ihc_observation("3+", id="ihc-1", specimen="Specimen/s1")
    ehr_holds(ehr, result)
    issued = tokens.stats()["issued"]
    record = settled(send(her2_bundle(result), stored=False))
    assert record.state is JobState.DONE, record.outcome
    [report] = ehr.search("DiagnosticReport")
    assert report["status"] == "final"
    assert tokens.stats()["issued"] == issued + 1
    assert "eyJ" not in worker.log()  # no JWT (assertion or token) in the log
    assert "Bearer" not in worker.log()


def test_a_wrong_key_is_dead_lettered_as_auth_refused_without_key_material(
    ehr: FhirTestServer,
    tokens: TokenTestServer,
    keys: dict[str, ClientKey],
    start_worker: Callable[..., WorkerProcess],
    send: Callable,
    settled: Callable,
    redis_db: redis.Redis,
    worker_env: dict[str, str],
) -> None:
    wrong = keys["unregistered"]
    worker = start_worker(FHIR_SERVER_URL=ehr.base_url, **wrong.env(tokens.token_url))
    result = ihc_observation("3+", id="ihc-1", specimen="Specimen/s1")
    ehr_holds(ehr, result)
    refused = tokens.stats()["refused"]
    job = send(her2_bundle(result), stored=False)
    record = settled(job)

    assert record.state is JobState.FAILED
    assert tokens.stats()["refused"] == refused + 1
    [letter] = DeadLetterQueue(redis_db, 3600).list()
    assert letter.reason == "auth-refused"
    [issue] = letter.outcome["issue"]
    assert issue["code"] == "security"
    assert issue["diagnostics"] == (
        f"job {job.job_id}: token request to {tokens.token_url} refused: HTTP 401: "
        "invalid_client (client authentication failed)"
    )
    assert ehr.search("DiagnosticReport") == []

    listed = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "dlq", "list"],
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "auth-refused" in listed.stdout
    stored = redis_db.get(LETTER_PREFIX + job.job_id)
    assert stored is not None
    private = RSAKey.import_key(wrong.path.read_bytes()).as_dict(private=True)
    for said in (worker.log(), stored.decode(), listed.stdout + listed.stderr):
        for secret in ("PRIVATE KEY", private["d"], private["p"], "eyJ", "client_assertion"):
            assert secret not in said


def test_the_worker_refuses_to_start_with_a_key_it_cannot_use(
    tokens: TokenTestServer, keys: dict[str, ClientKey], tmp_path: Path, worker_env: dict[str, str]
) -> None:
    public = tmp_path / "public.pem"
    public.write_bytes(RSAKey.import_key(keys["RS384"].path.read_bytes()).as_pem(private=False))
    env = {
        **worker_env,
        **keys["RS384"].env(tokens.token_url),
        "FHIR_OAUTH_PRIVATE_KEY": str(public),
    }
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"her2-adapter worker: FHIR_OAUTH_PRIVATE_KEY {public}: a public key; "
        "the private key is needed\n"
    )
