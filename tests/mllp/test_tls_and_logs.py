"""TLS with client certificates, and what the listener logs (hl7v2-contract.md 1, 5).

The certificates are made in the test (tests/mllp/pki.py: a CA, a server certificate for
localhost, a client certificate signed by the CA, and one that is not).
"""

from __future__ import annotations

import io
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapter.log import JsonFormatter
from adapter.mllp.frames import ListenerServices
from adapter.mllp.listener import tls_context
from tests.mllp.pki import client_context, make_pki, subject
from tests.mllp.support import Client, ListenerThread, msa, running
from tests.unit.hl7v2.messages import ihc_loinc, ish_loinc, oru


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(
        tmp_path_factory.mktemp("pki"), {"client": subject("lis")}, {"stranger": subject("lis")}
    )


@pytest.fixture
def tls_listener(services: ListenerServices, pki: Path) -> Iterator[ListenerThread]:
    context = tls_context(pki / "server.pem", pki / "server.key", pki / "ca.pem")
    with running(services, ssl_context=context) as listener:
        yield listener


def test_tls_with_a_client_certificate_of_the_ca_is_served(
    tls_listener: ListenerThread, pki: Path
) -> None:
    with Client(tls_listener.port, context=client_context(pki, "client")) as client:
        assert msa(client.ack(oru(ihc_loinc("2+"))))[1] == "AA"


@pytest.mark.parametrize("cert", [None, "stranger"])
def test_tls_without_an_accepted_client_certificate_is_refused(
    tls_listener: ListenerThread, pki: Path, cert: str | None
) -> None:
    # TLS 1.3 reports a refused client certificate on the first read, not in the handshake
    with (
        pytest.raises((ssl.SSLError, ConnectionError, AssertionError)),
        Client(tls_listener.port, context=client_context(pki, cert)) as client,
    ):
        client.ack(oru(ihc_loinc("2+")))


def test_plain_mllp_to_a_tls_listener_gets_no_ack(tls_listener: ListenerThread) -> None:
    with (
        pytest.raises((AssertionError, ConnectionError, TimeoutError)),
        Client(tls_listener.port, timeout=5) as client,
    ):
        client.ack(oru(ihc_loinc("2+")))
    with pytest.raises(ValueError, match="go together"):
        tls_context(Path("server.pem"), None, None)


def test_the_listener_logs_ids_and_codes_never_patient_data(listener: ListenerThread) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root, ours = logging.getLogger(), logging.getLogger("her2")
    root.addHandler(handler)
    level = ours.level
    ours.setLevel(logging.INFO)
    try:
        pid = "PID|1||MRN7731^^^HOSP&1.2.3.4&ISO^MR||DOE^JANE^Q||19610203|F"
        good = oru(ihc_loinc("2+"), *ish_loinc("2.417", "5.931", "2.453"), pid=pid)
        bad = oru(ihc_loinc("2+"), "OBX|2|NM|49683-6^ratio^LN||2,417x||||||F", pid=pid)
        with Client(listener.port) as client:
            client.send_raw(b"noise MRN7731 DOE\r" + b"\x0b" + good.encode() + b"\x1c\x0d")
            assert msa(client.read_ack())[1] == "AA"
            assert msa(client.ack(bad))[1] == "AE"
            assert msa(client.ack("PID|1||MRN7731||DOE^JANE"))[1] == "AR"
    finally:
        root.removeHandler(handler)
        ours.setLevel(level)
    logged = stream.getvalue()
    assert '"event": "message acknowledged"' in logged
    assert '"event": "mllp bytes outside a frame skipped"' in logged
    for patient_data in ("MRN7731", "DOE", "JANE", "19610203", "2.417", "5.931", "2,417x"):
        assert patient_data not in logged, patient_data
