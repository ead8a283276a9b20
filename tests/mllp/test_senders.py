"""Who may send (README "HL7 v2 feed", hl7v2-contract.md 1): the allow-list is judged on the MSH
alone, before the message is read, over real sockets with a real Redis as the broker.

Every message here is SYNTHETIC. To show that a stranger's OBX is never read, the reader is
wrapped in a spy that counts its calls and hands each one to the real reader (nothing is
mocked): an unreadable HER2 value, AE whenever it is read, is AR for a stranger, unread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from adapter.mappings import Mappings
from adapter.mllp import admission
from adapter.settings import Settings
from tests.mllp.conftest import services_for
from tests.mllp.support import Client, err_code, msa, running
from tests.mllp.test_listener import metric, nothing_queued
from tests.unit.hl7v2.messages import MSH, ihc_loinc, oru

STRANGER = "STRANGER_LAB"
REJECTED = 'her2_messages_rejected_total|door="mllp",reason="{}"'


def from_facility(facility: str, *obx: str, control_id: str = "MSG1") -> str:
    msh = MSH.replace("|SYNTH_LAB|", f"|{facility}|").replace("MSG0001", control_id)
    return oru(*(obx or (ihc_loinc("2+"),)), msh=msh)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call of the message reader (a spy: the real reader still runs)."""
    calls: list[int] = []
    real: Callable[..., Any] = admission.read_v2_message

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(admission, "read_v2_message", counted)
    return calls


def test_a_stranger_is_refused_on_its_msh_and_its_obx_is_never_read(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings, reads: list[int]
) -> None:
    unreadable = from_facility(STRANGER, ihc_loinc("4+"))
    open_door = services_for(settings, redis_db, mappings)
    with running(open_door) as listener, Client(listener.port) as client:
        assert msa(client.ack(unreadable))[1] == "AE"  # read: the value cannot be
    assert len(reads) == 1

    guarded = services_for(settings, redis_db, mappings, allowed_senders=frozenset({"SYNTH_LAB"}))
    with running(guarded) as listener, Client(listener.port) as client:
        refused = client.ack(unreadable)
        no_facility = client.ack(from_facility("", ihc_loinc("2+"), control_id="MSG2"))
        known = client.ack(from_facility("SYNTH_LAB", ihc_loinc("4+"), control_id="MSG3"))
    assert msa(refused)[1:4] == ["AR", "MSG1", "sending facility not allowed"]
    assert err_code(refused) == "200"
    assert msa(no_facility)[1:4] == ["AR", "MSG2", "sending facility not allowed"]
    assert msa(known)[1] == "AE"  # an allowed sender's message is read as before
    assert len(reads) == 2  # once for the open door, once for the allowed sender: never for 2
    assert metric(redis_db, REJECTED.format("sender-not-allowed")) == 2
    assert nothing_queued(redis_db)


def test_a_stranger_is_refused_before_its_size_is_even_counted(
    settings: Settings, redis_db: redis.Redis, mappings: Mappings, reads: list[int]
) -> None:
    # over the 50,000-separator limit: an allowed sender would hear "too complex"
    crowded = from_facility(STRANGER, "OBX|1|ST|85319-2^HER2 IHC^LN||2+" + "|" * 60_000)
    guarded = services_for(settings, redis_db, mappings, allowed_senders=frozenset({"SYNTH_LAB"}))
    with running(guarded) as listener, Client(listener.port) as client:
        ack = client.ack(crowded)
    assert msa(ack)[1:4] == ["AR", "MSG1", "sending facility not allowed"]
    assert metric(redis_db, REJECTED.format("too-complex")) == 0
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
    guarded = services_for(settings, redis_db, mappings, allowed_senders=frozenset({"SYNTH_LAB"}))
    with running(guarded) as listener, Client(listener.port) as client:
        ack = client.ack(message)
    assert msa(ack)[1] == "AR"
    assert err_code(ack) == code
    assert reads == []
    assert nothing_queued(redis_db)
