"""Who may send (README "HL7 v2 feed", hl7v2-contract.md 1): the allow-list is judged on the MSH
alone, before the message is read, and under mutual TLS each allowed facility only over its own
client certificate; over real sockets, real TLS (certificates made by tests/mllp/pki.py) and a
real Redis as the broker.

Every message here is SYNTHETIC. To show that a stranger's OBX is never read, the reader is
wrapped in a spy that counts its calls and hands each one to the real reader (nothing is
mocked): an unreadable HER2 value, AE whenever it is read, is AR for a stranger, unread.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography import x509

from adapter.mappings import Mappings
from adapter.mllp import frames
from adapter.mllp.listener import tls_context
from adapter.mllp.senders import SenderPolicy
from adapter.settings import Settings
from tests.mllp.conftest import services_for
from tests.mllp.pki import client_context, make_pki, subject
from tests.mllp.support import Client, err_code, msa, running
from tests.mllp.test_listener import job_payloads, metric, nothing_queued
from tests.soak.processes import SCRIPT, service_env
from tests.unit.hl7v2.messages import MSH, ihc_loinc, oru

STRANGER = "STRANGER_LAB"
ONLY_SYNTH_LAB = SenderPolicy(frozenset({"SYNTH_LAB"}))
REJECTED = "her2_messages_rejected_total"


def from_facility(facility: str, *obx: str, control_id: str = "MSG1") -> str:
    msh = MSH.replace("|SYNTH_LAB|", f"|{facility}|").replace("MSG0001", control_id)
    return oru(*(obx or (ihc_loinc("2+"),)), msh=msh)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call of the message reader (a spy: the real reader still runs)."""
    calls: list[int] = []
    real: Callable[..., Any] = frames.read_v2_message

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(frames, "read_v2_message", counted)
    return calls


def test_a_stranger_is_refused_on_its_msh_and_its_obx_is_never_read(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings, reads: list[int]
) -> None:
    unreadable = from_facility(STRANGER, ihc_loinc("4+"))
    open_door = services_for(settings, redis_db, mappings)
    with running(open_door) as listener, Client(listener.port) as client:
        assert msa(client.ack(unreadable))[1] == "AE"  # read: the value cannot be
    assert len(reads) == 1

    guarded = services_for(settings, redis_db, mappings, senders=ONLY_SYNTH_LAB)
    with running(guarded) as listener, Client(listener.port) as client:
        refused = client.ack(unreadable)
        no_facility = client.ack(from_facility("", ihc_loinc("2+"), control_id="MSG2"))
        known = client.ack(from_facility("SYNTH_LAB", ihc_loinc("4+"), control_id="MSG3"))
    assert msa(refused)[1:4] == ["AR", "MSG1", "sending facility not allowed"]
    assert err_code(refused) == "200"
    assert msa(no_facility)[1:4] == ["AR", "MSG2", "sending facility not allowed"]
    assert msa(known)[1] == "AE"  # an allowed sender's message is read as before
    assert len(reads) == 2  # once for the open door, once for the allowed sender: never for 2
    assert metric(redis_db, REJECTED, door="mllp", reason="sender-not-allowed") == 2
    assert nothing_queued(redis_db)


def test_a_stranger_is_refused_before_its_size_is_even_counted(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings, reads: list[int]
) -> None:
    # over the 50,000-separator limit: an allowed sender would hear "too complex"
    crowded = from_facility(STRANGER, "OBX|1|ST|85319-2^HER2 IHC^LN||2+" + "|" * 60_000)
    guarded = services_for(settings, redis_db, mappings, senders=ONLY_SYNTH_LAB)
    with running(guarded) as listener, Client(listener.port) as client:
        ack = client.ack(crowded)
    assert msa(ack)[1:4] == ["AR", "MSG1", "sending facility not allowed"]
    assert metric(redis_db, REJECTED, door="mllp", reason="too-complex") == 0
    assert reads == []


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("PID|1||X\rMSH|^~\\&|LIS|SYNTH_LAB|||||ORU^R01|M1|P|2.5.1", "100"),  # text before MSH
        ("\ufeff\r\rNOT|HL7 at all", "100"),
        (MSH + "||||||BOGUS-CHARSET\rOBX|1|ST|85319-2^^LN||2+", "200"),  # unknown MSH-18
    ],
)
def test_without_a_readable_msh_the_answer_is_the_full_reads_ar(
    settings: Settings,
    redis_db: redis.Redis,
    mappings: Mappings,
    reads: list[int],
    message: str,
    code: str,
) -> None:
    guarded = services_for(settings, redis_db, mappings, senders=ONLY_SYNTH_LAB)
    with running(guarded) as listener, Client(listener.port) as client:
        ack = client.ack(message)
    assert msa(ack)[1] == "AR"
    assert err_code(ack) == code
    assert reads == []
    assert nothing_queued(redis_db)


# --- facilities bound to client certificates (mutual TLS) ------------------------------------

CLIENTS = {
    "lis-a": subject("lis-a.example.org"),
    "lis-b": x509.Name.from_rfc4514_string("CN=lis-b,O=Hospital B,C=GB"),
}
BINDINGS = {"LAB_A": "lis-a.example.org", "LAB_B": "CN=lis-b,O=Hospital B,C=GB"}
NOT_CERTIFIED = "sending facility not allowed with this client certificate"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), CLIENTS)


def test_a_facility_is_accepted_over_its_own_certificate_and_refused_over_another(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings, pki: Path, reads: list[int]
) -> None:
    bound = Settings(
        redis_url=settings.redis_url,
        mllp_tls_cert=pki / "server.pem",
        mllp_tls_key=pki / "server.key",
        mllp_tls_client_ca=pki / "ca.pem",
        mllp_sender_certificates=json.dumps(BINDINGS),
    )
    context = tls_context(bound.mllp_tls_cert, bound.mllp_tls_key, bound.mllp_tls_client_ca)
    services = services_for(settings, redis_db, mappings, senders=SenderPolicy.from_settings(bound))
    with running(services, ssl_context=context) as listener:
        with Client(listener.port, context=client_context(pki, "lis-a")) as lis_a:
            a_as_a = lis_a.ack(from_facility("LAB_A", control_id="A1"))
            a_as_b = lis_a.ack(from_facility("LAB_B", ihc_loinc("4+"), control_id="A2"))
            a_as_stranger = lis_a.ack(from_facility(STRANGER, control_id="A3"))
        with Client(listener.port, context=client_context(pki, "lis-b")) as lis_b:
            b_as_b = lis_b.ack(from_facility("LAB_B", control_id="B1"))
            b_as_a = lis_b.ack(from_facility("LAB_A", control_id="B2"))

    assert [msa(ack)[1] for ack in (a_as_a, b_as_b)] == ["AA", "AA"]
    for ack, control_id in ((a_as_b, "A2"), (b_as_a, "B2")):
        assert msa(ack)[1:4] == ["AR", control_id, NOT_CERTIFIED]
        assert err_code(ack) == "200"
    assert msa(a_as_stranger)[1:4] == ["AR", "A3", "sending facility not allowed"]
    queued = [job["body"].split("|")[3] for job in job_payloads(redis_db)]  # MSH-4 of each
    assert sorted(queued) == ["LAB_A", "LAB_B"]
    assert len(reads) == 2  # only the two accepted messages were read
    assert metric(redis_db, REJECTED, door="mllp", reason="sender-certificate-mismatch") == 2


@pytest.mark.parametrize(
    ("setting", "value", "line"),
    [
        (
            "MLLP_SENDER_CERTIFICATES",
            '{"LAB_A": "lis-a.example.org", "LAB_B": "CN=lis-b,=O"}',
            "her2-adapter mllp: MLLP_SENDER_CERTIFICATES: the subject of 'LAB_B' is not RFC 4514",
        ),
        (
            "MLLP_ALLOWED_SENDERS",
            "LAB_A,LAB_B",
            "her2-adapter mllp: settings: with MLLP_TLS_CLIENT_CA, bind each allowed "
            "sender to its client certificate",
        ),
    ],
)
def test_the_mllp_command_refuses_an_allow_list_it_cannot_bind_in_one_line(
    pki: Path, setting: str, value: str, line: str
) -> None:
    env = {
        **service_env(REDIS_URL="redis://127.0.0.1:1/0"),
        "MLLP_TLS_CERT": str(pki / "server.pem"),
        "MLLP_TLS_KEY": str(pki / "server.key"),
        "MLLP_TLS_CLIENT_CA": str(pki / "ca.pem"),
        setting: value,
    }
    result = subprocess.run(
        [SCRIPT, "mllp", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith(line), result.stderr
    assert result.stderr.count("\n") == 1
