"""The MLLP listener over real sockets, with a real Redis as its broker (hl7v2-contract.md 1, 4).

Every message here is SYNTHETIC. "Queued" is read from Redis itself: the task messages waiting
in the `her2` queue and the job records, never from the listener's own word.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from typing import Any

import redis

from adapter.broker import queue_depth
from adapter.job_store import JobStore
from adapter.metrics import Metrics
from adapter.mllp.frames import ListenerServices
from adapter.mllp.senders import SenderPolicy
from adapter.queue import QUEUE
from tests.mllp.support import (
    EB,
    SB,
    Client,
    ListenerThread,
    err,
    err_code,
    frame,
    msa,
    running,
    wait_until,
)
from tests.unit.hl7v2.messages import MSH, ihc_loinc, ish_loinc, oru


def numbered(n: int, *obx: str, accession: str = "ACC-1") -> str:
    """A good IHC message with control id MSG<n> (and accession `accession`)."""
    msh = MSH.replace("MSG0001", f"MSG{n}")
    return oru(*(obx or (ihc_loinc("2+"),)), msh=msh, obr=f"OBR|1|PL-1|{accession}|HER2^HER2 IHC")


def job_payloads(client: redis.Redis) -> list[dict[str, Any]]:
    """The jobs waiting in the broker, oldest first (kombu pushes left; each body is base64)."""
    out = []
    for item in reversed(client.lrange(QUEUE, 0, -1)):
        envelope = json.loads(item)
        body = json.loads(base64.b64decode(envelope["body"]))
        out.append(body[0][0])
    return out


def test_good_message_is_queued_then_answered_aa(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    with Client(listener.port) as client:
        ack = client.ack(numbered(1))
    assert msa(ack)[:3] == ["MSA", "AA", "MSG1"]
    jobs = job_payloads(redis_db)
    assert len(jobs) == 1
    assert jobs[0]["door"] == "mllp"
    assert jobs[0]["media_type"] == "application/hl7-v2"
    assert jobs[0]["body"].startswith("MSH|")
    assert redis_db.exists(f"her2:job:{jobs[0]['job_id']}")


def nothing_queued(client: redis.Redis) -> bool:
    return queue_depth(client) == 0 and not list(client.scan_iter("her2:job:*"))


def metric(client: redis.Redis, name: str, **labels: str) -> int:
    return Metrics(client).value(name, **labels)


# --- framing ---------------------------------------------------------------------------------


def test_frame_split_across_many_packets(listener: ListenerThread) -> None:
    data = frame(numbered(1))
    with Client(listener.port) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # byte by byte at the edges (the end block split between 0x1C and 0x0D), chunks inside
        pieces = [data[:1], data[1:4], data[4:50], data[50:-2], data[-2:-1], data[-1:]]
        for piece in pieces:
            client.send_raw(piece)
        assert msa(client.read_ack())[1:3] == ["AA", "MSG1"]


def test_several_messages_in_one_packet_are_answered_in_order(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    with Client(listener.port) as client:
        client.send_raw(b"".join(frame(numbered(n, accession=f"ACC-{n}")) for n in range(1, 6)))
        acks = [msa(client.read_ack()) for _ in range(5)]
    assert [a[1:3] for a in acks] == [["AA", f"MSG{n}"] for n in range(1, 6)]
    bodies = [job["body"] for job in job_payloads(redis_db)]
    assert [f"|MSG{n}|" in body for n, body in enumerate(bodies, 1)] == [True] * 5


def test_two_connections_at_once_each_get_their_own_acks(listener: ListenerThread) -> None:
    with Client(listener.port) as first, Client(listener.port) as second:
        first.send_raw(frame(numbered(1)))
        second.send_raw(frame(numbered(2)))
        second.send_raw(frame(numbered(3)))
        first.send_raw(frame(numbered(4)))
        assert [msa(first.read_ack())[2] for _ in range(2)] == ["MSG1", "MSG4"]
        assert [msa(second.read_ack())[2] for _ in range(2)] == ["MSG2", "MSG3"]


def test_connection_dropped_before_the_ack_leaves_the_listener_serving(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    with Client(listener.port) as client:
        client.send_raw(frame(numbered(1)))
        client.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
    # Queued or not, never half: a job record exists exactly when its task is in the broker.
    wait_until(lambda: queue_depth(redis_db) == 1, 5)
    records = list(redis_db.scan_iter("her2:job:*"))
    assert len(records) == queue_depth(redis_db)
    with Client(listener.port) as again:  # the sender sends it again: accepted again
        assert msa(again.ack(numbered(1)))[1] == "AA"


def test_frame_over_16_mib_is_answered_ar_and_the_connection_closed(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    big = numbered(7, f"OBX|1|TX|&GDT||{'x' * (17 * 1024 * 1024)}||||||F").encode()
    with Client(listener.port, timeout=60) as client:
        sender = threading.Thread(target=_send_quietly, args=(client.sock, frame(big)))
        sender.start()
        ack = client.read_ack()
        sender.join(60)
        assert client.closed_by_peer()
    fields = msa(ack)
    assert fields[1:3] == ["AR", "MSG7"]
    assert "16 MiB" in fields[3]
    assert nothing_queued(redis_db)


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        return  # the listener closed while we were still sending: expected


def test_bytes_before_the_start_block_are_skipped(listener: ListenerThread) -> None:
    with Client(listener.port) as client:
        client.send_raw(b"\r\nnoise PID|1||MRN42\r\n" + frame(numbered(1)))
        assert msa(client.read_ack())[1:3] == ["AA", "MSG1"]
        client.send_raw(b"\x1c\x0d\x00\x00" + frame(numbered(2)))  # stray end block too
        assert msa(client.read_ack())[1:3] == ["AA", "MSG2"]


# --- the ACK table (contract 4), row by row ---------------------------------------------------


def test_row_good_with_her2_is_aa_and_queued(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    with Client(listener.port) as client:
        ack = client.ack(numbered(1, *ish_loinc("2.2", "4.4", "2.0", first=1)))
    fields = msa(ack)
    assert fields[1] == "AA"
    assert fields[3] == "accepted for HER2 interpretation"
    assert err(ack) is None
    assert queue_depth(redis_db) == 1
    assert metric(redis_db, "her2_hl7v2_patterns_total", pattern="loinc") == 3
    assert metric(redis_db, "her2_mllp_acks_total", code="AA") == 1


def test_row_good_without_her2_is_aa_saying_nothing_interpreted_and_not_queued(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    message = numbered(1, "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F")
    with Client(listener.port) as client:
        fields = msa(client.ack(message))
    assert fields[1] == "AA"
    assert "nothing interpreted" in fields[3]
    assert nothing_queued(redis_db)
    assert metric(redis_db, "her2_hl7v2_not_interpreted_total") == 1


def test_row_unreadable_her2_value_is_ae_with_err_location_and_not_queued(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    message = numbered(1, ihc_loinc("2+"), "OBX|2|NM|49683-6^HER2/CEP17 ratio^LN||abc||||||F")
    with Client(listener.port) as client:
        ack = client.ack(message)
    assert msa(ack)[1:3] == ["AE", "MSG1"]
    error = err(ack)
    assert error is not None
    assert error[2] == "OBX^2^5"
    assert error[3].split("^")[0] in ("102", "103")
    assert error[4] == "E"
    assert "abc" not in ack  # MSA-3 names the place, never the value
    assert nothing_queued(redis_db)


def test_row_repeated_obx5_and_undecodable_bytes_are_ae(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    repeated = numbered(1, "OBX|1|NM|49683-6^HER2/CEP17 ratio^LN||2.1~2.3||||||F")
    undecodable = numbered(2, "OBX|1|ST|85319-2^HER2 IHC^LN||2+ \xff||||||F").encode("latin-1")
    with Client(listener.port) as client:
        first, second = client.ack(repeated), client.ack(undecodable)
    assert msa(first)[1] == "AE"
    assert (err(first) or [])[2] == "OBX^1^5"
    assert msa(second)[1:3] == ["AE", "MSG2"]
    assert err_code(second) == "102"
    assert nothing_queued(redis_db)


def test_row_not_hl7_no_msh_other_type_other_version_are_ar(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    adt = numbered(3).replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01")
    old = numbered(4).replace("|P|2.5.1", "|P|2.2")
    with Client(listener.port) as client:
        not_hl7 = client.ack("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        no_msh = client.ack("PID|1||MRN42\rOBX|1|ST|85319-2^HER2^LN||2+")
        other_type, other_version = client.ack(adt), client.ack(old)
    for ack in (not_hl7, no_msh):
        assert msa(ack)[1] == "AR"
        assert err_code(ack) == "100"
    for ack, control in ((other_type, "MSG3"), (other_version, "MSG4")):
        assert msa(ack)[1:3] == ["AR", control]
        assert err_code(ack) == "200"
    assert "MRN42" not in no_msh
    assert nothing_queued(redis_db)


def test_row_sender_not_allowed_is_ar(settings: Any, redis_db: redis.Redis, mappings: Any) -> None:
    from tests.mllp.conftest import services_for

    services = services_for(
        settings, redis_db, mappings, senders=SenderPolicy(frozenset({"OTHER_LAB"}))
    )
    with running(services) as listener, Client(listener.port) as client:
        ack = client.ack(numbered(1))
    assert msa(ack)[1:4] == ["AR", "MSG1", "sending facility not allowed"]
    assert err_code(ack) == "200"
    assert nothing_queued(redis_db)
    allowed = services_for(
        settings, redis_db, mappings, senders=SenderPolicy(frozenset({"SYNTH_LAB"}))
    )
    with running(allowed) as listener, Client(listener.port) as client:
        assert msa(client.ack(numbered(2)))[1] == "AA"


def test_row_broker_down_is_ar_207_resend_and_queues_nothing(
    settings: Any, redis_db: redis.Redis, mappings: Any
) -> None:
    from adapter.metrics import Metrics
    from adapter.queue import make_celery
    from adapter.redis_client import redis_client
    from adapter.settings import Settings
    from tests.support.fhir_server import free_port

    down = redis_client(Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    services = ListenerServices(
        mappings=mappings,
        celery=make_celery(settings),
        jobs=JobStore(down, settings.job_retention_seconds),  # the broker's Redis is away
        metrics=Metrics(redis_db),
    )
    with running(services) as listener, Client(listener.port) as client:
        ack = client.ack(numbered(1))
        assert msa(client.ack(numbered(2)))[1] == "AR"  # the connection stays usable
    fields = msa(ack)
    assert fields[1:3] == ["AR", "MSG1"]
    assert "send again" in fields[3]
    assert err_code(ack) == "207"
    assert nothing_queued(redis_db)


def test_enhanced_mode_ca_ne_and_er(listener: ListenerThread, redis_db: redis.Redis) -> None:
    def enhanced(n: int, mode: str, *obx: str) -> str:
        return numbered(n, *obx).replace("|P|2.5.1", f"|P|2.5.1|||{mode}|NE", 1)

    bad = "OBX|1|NM|49683-6^HER2/CEP17 ratio^LN||abc||||||F"
    with Client(listener.port) as client:
        assert msa(client.ack(enhanced(1, "AL")))[1:3] == ["CA", "MSG1"]
        assert msa(client.ack(enhanced(2, "AL", bad)))[1:3] == ["CE", "MSG2"]
        # NE: no ACK at all; ER: only on error. The next ACK on the connection is MSG5's.
        client.send_raw(frame(enhanced(3, "NE")) + frame(enhanced(4, "ER")))
        assert msa(client.ack(enhanced(5, "ER", bad)))[1:3] == ["CE", "MSG5"]
        assert msa(client.ack(numbered(6)))[1:3] == ["AA", "MSG6"]
    assert queue_depth(redis_db) == 4  # 1, 3, 4 and 6: NE / ER change the ACK, not the queueing
    assert metric(redis_db, "her2_mllp_acks_total", code="none") == 2


def test_ack_of_a_v2_3_message_is_msh9_ack_with_swapped_applications(
    listener: ListenerThread,
) -> None:
    message = numbered(1).replace("ORU^R01^ORU_R01|MSG1|P|2.5.1", "ORU^R01|MSG1|P|2.3")
    with Client(listener.port) as client:
        ack = client.ack(message)
    msh = ack.split("\r")[0].split("|")
    assert msh[2:6] == ["EHR", "HOSP", "LIS", "SYNTH_LAB"]
    assert msh[8] == "ACK"
    assert msh[11] == "2.3"
    assert msh[9] not in ("", "MSG1")
    assert msa(ack)[1:3] == ["AA", "MSG1"]


def test_a_slow_sender_is_served_while_another_connection_waits_mid_frame(
    listener: ListenerThread,
) -> None:
    with Client(listener.port) as stalled, Client(listener.port) as client:
        stalled.send_raw(SB + numbered(1).encode()[:40])  # never finished
        assert msa(client.ack(numbered(2)))[1] == "AA"
        stalled.send_raw(numbered(1).encode()[40:] + EB)
        assert msa(stalled.read_ack())[1:3] == ["AA", "MSG1"]


def test_a_message_of_too_many_separators_is_refused_before_parsing(
    listener: ListenerThread, redis_db: redis.Redis
) -> None:
    # 16 MiB of "|" would take python-hl7 minutes and gigabytes; refused at once instead.
    dense = numbered(1, f"OBX|1|TX|&GDT||{'|' * 2_000_000}||||||F")
    with Client(listener.port, timeout=10) as client:
        ack = client.ack(dense)
        assert msa(client.ack(numbered(2)))[1] == "AA"
    assert msa(ack)[1:3] == ["AR", "MSG1"]
    assert "separators" in msa(ack)[3]
    assert queue_depth(redis_db) == 1
