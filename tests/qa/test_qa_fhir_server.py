"""`her2-adapter qa --fhir-server`: the same population, written to the FHIR test server as the
write-back writes it (a transaction of PUTs per case; cases sent twice get version 2), read
back by a paged search with the service's authentication, gives the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.qa.conftest import Population, her2_adapter
from tests.qa.sinks import case_transactions
from tests.support.fhir_server import FhirTestServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "qa-test-token"


@pytest.fixture(scope="module")
def server(generated: Population) -> Iterator[FhirTestServer]:
    with FhirTestServer(free_port(), token=TOKEN, quiet=True) as fhir:
        client = fhir.client()
        for source in generated.sources:  # early reports first: the later ones are version 2
            for transaction in case_transactions(source):
                response = client.post(fhir.base_url, content=json.dumps(transaction))
                assert response.status_code == 200, response.text
        yield fhir


def test_the_server_gives_the_same_rows_as_the_files(
    server: FhirTestServer, generated: Population
) -> None:
    reports = server.search("DiagnosticReport", _count=1000)
    assert len(reports) == len(generated.cases)
    assert {r["meta"]["versionId"] for r in reports} == {"1", "2"}  # the cases sent twice
    ran = her2_adapter("qa", "--fhir-server", server.base_url, env={"FHIR_SERVER_TOKEN": TOKEN})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == her2_adapter("qa", *generated.sources).stdout


def test_a_report_withdrawn_on_the_server_is_not_counted(server: FhirTestServer) -> None:
    before = her2_adapter("qa", "--fhir-server", server.base_url, env={"FHIR_SERVER_TOKEN": TOKEN})
    report = server.search("DiagnosticReport", _count=1)[0]
    withdrawn = report | {"status": "entered-in-error"}
    client = server.client()
    response = client.put(
        f"{server.base_url}/DiagnosticReport/{report['id']}", content=json.dumps(withdrawn)
    )
    assert response.status_code == 200, response.text
    try:
        after = her2_adapter(
            "qa", "--fhir-server", server.base_url, env={"FHIR_SERVER_TOKEN": TOKEN}
        )
        assert after.stderr == "warning: 1 case(s) not counted: entered-in-error\n"
        changed = [
            (b, a)
            for b, a in zip(before.stdout.splitlines(), after.stdout.splitlines(), strict=True)
            if b != a
        ]
        assert len(changed) == 2  # the laboratory's row and the `all` row, one case fewer
    finally:
        response = client.put(
            f"{server.base_url}/DiagnosticReport/{report['id']}", content=json.dumps(report)
        )
        assert response.status_code == 200


def test_without_the_services_credentials_the_server_is_named_and_exit_2(
    server: FhirTestServer,
) -> None:
    ran = her2_adapter("qa", "--fhir-server", server.base_url, env={"FHIR_SERVER_TOKEN": None})
    assert ran.returncode == 2
    assert ran.stderr == (
        f"her2-adapter: {server.base_url}: cannot be read: search DiagnosticReport: HTTP 401\n"
    )
