"""What the MLLP listener admits: the v2 twin of `adapter/service/admission.py` and the 202 path.

One frame -> one ACK (hl7v2-contract.md 4). With an allow-list, the sender is judged first,
on the MSH segment alone (`read_msh_only`) and the connection's client certificate
(`adapter/mllp/senders.py`): a sending facility (MSH-4.1) not allowed, or allowed but bound to
another certificate, gets AR 200 and nothing else of its message is parsed, so a stranger costs
the listener a few hundred bytes, never a parse of its OBX. Then the message is read exactly
as the worker will read it (`read_v2_message`, the dry run):

- not a v2 ORU^R01 we take: AR 200 / 100; a HER2 value that cannot be read: AE 102 / 103;
- no HER2 result at all (and no withdrawal of one): AA saying nothing was interpreted, nothing
  queued, counted;
- otherwise the job's record, its task and the frame's counts are written in one MULTI; AA
  only once the broker confirmed. A broker that does not confirm holds none of it, and the
  answer is AR 207 (resend).

Runs in a worker thread of the listener (CPU work and blocking Redis I/O); never raises: an
unexpected error reading a message is AE 207, one queueing it AR 207.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import celery
import redis
from cryptography import x509

from adapter.errors import BadInput, QueueUnavailable
from adapter.hl7v2.ack import (
    AckCode,
    AckOutcome,
    accepted,
    build_ack,
    rejected,
    resend_later,
    sender_not_allowed,
    sender_not_certified,
)
from adapter.hl7v2.errors import (
    APPLICATION_INTERNAL_ERROR,
    UNSUPPORTED_MESSAGE_TYPE,
    V2BadMessage,
    V2BadValue,
)
from adapter.hl7v2.header import MessageHeader, read_msh_only
from adapter.hl7v2.message import V2Reading, read_v2_message
from adapter.job_store import JobStore
from adapter.mapping_files import default_mappings
from adapter.mappings import Mappings
from adapter.metrics import Metrics, Tally
from adapter.mllp.senders import WRONG_CERTIFICATE, SenderPolicy
from adapter.queue import HL7V2_MEDIA_TYPE, InterpretJob, make_celery
from adapter.redis_client import redis_client
from adapter.settings import Settings

log = logging.getLogger("her2.mllp")
DOOR: Final = "mllp"
# python-hl7 builds an object per field, component and segment (about 30 us each): a frame of
# 16 MiB of `|` would take minutes and gigabytes to parse. A HER2 result message holds a few
# thousand separators (2,000 OBX of 20 fields: 40,000); more is refused (AR) unparsed.
MAX_SEPARATORS: Final = 50_000


@dataclass(frozen=True, slots=True)
class ListenerServices:
    """What admission needs, built once per listener process."""

    mappings: Mappings
    celery: celery.Celery
    jobs: JobStore
    metrics: Metrics
    senders: SenderPolicy = field(default_factory=SenderPolicy)  # default: every sender
    client: redis.Redis | None = None  # closed by close() when these services own it

    @classmethod
    def from_settings(cls, settings: Settings, senders: SenderPolicy) -> ListenerServices:
        client = redis_client(settings)
        return cls(
            mappings=default_mappings(),
            celery=make_celery(settings),
            jobs=JobStore(client, settings.job_retention_seconds),
            metrics=Metrics(client),
            senders=senders,
            client=client,
        )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


@dataclass(frozen=True, slots=True)
class Answer:
    """The ACK for one frame (None: enhanced mode asked for none), and what was decided."""

    ack: str | None
    code: str  # MSA-1 decided (AA, AE, AR, or CA, CE, CR in enhanced mode)
    job_id: str | None = None  # set when queued
    charset: str = "utf-8"  # the message's character set (MSH-18), for the ACK's bytes


def admit_frame(frame: bytes, certificate: x509.Name | None, svc: ListenerServices) -> Answer:
    """Read, decide, queue (or not) and acknowledge one MLLP frame's message; `certificate` is
    the subject of the connection's client certificate (None without one)."""
    started = time.perf_counter()
    header: MessageHeader | None = None
    reading: V2Reading | None = None
    reason = "queued"
    if svc.senders.restricted:
        refusal = _screen_sender(frame, certificate, svc, started)
        if refusal is not None:
            return refusal
    if separators(frame) > MAX_SEPARATORS:
        outcome = AckOutcome(
            AckCode.REJECT,
            f"not accepted: over {MAX_SEPARATORS} separators in one message",
            UNSUPPORTED_MESSAGE_TYPE,
        )
        return _answer(svc, _header_of(frame), outcome, "too-complex", None, None, started)
    try:
        reading = read_v2_message(frame, svc.mappings)
        header = reading.header
    except (V2BadMessage, V2BadValue) as error:
        header = _header_of(frame)  # where the MSH itself can be read, the ACK names it
        outcome = rejected(error)
        reason = "bad-message" if isinstance(error, V2BadMessage) else "bad-value"
    except BadInput as error:
        outcome = rejected(error)
        reason = "bad-value"
    except Exception as error:  # a bug must cost one AE, never the connection or the listener
        log.exception(
            "message could not be read", extra={"door": DOOR, "error": type(error).__name__}
        )
        outcome = AckOutcome(
            AckCode.ERROR,
            "not read: internal error reading the message",
            APPLICATION_INTERNAL_ERROR,
        )
        reason = "internal-error"
    if reading is not None:
        return _queue(frame, reading, svc, started)
    return _answer(svc, header, outcome, reason, None, None, started)


def _screen_sender(
    frame: bytes, certificate: x509.Name | None, svc: ListenerServices, started: float
) -> Answer | None:
    """AR for a sender the policy refuses, judged on the MSH alone; None: read on."""
    try:
        header = read_msh_only(frame)
    except V2BadMessage as error:  # no sender to judge: refused as the full read would
        return _answer(svc, None, rejected(error), "bad-message", None, None, started)
    reason = svc.senders.refusal(header, certificate)
    if reason is None:
        return None
    outcome = sender_not_certified() if reason == WRONG_CERTIFICATE else sender_not_allowed()
    return _answer(svc, header, outcome, reason, None, None, started)


def too_large(head: bytes, limit: int, svc: ListenerServices) -> Answer:
    """AR for a frame over `limit` bytes; the MSH is read from its first bytes where it can be."""
    header = _header_of(head)
    outcome = AckOutcome(
        AckCode.REJECT,
        f"not accepted: message over {limit // (1024 * 1024)} MiB",
        UNSUPPORTED_MESSAGE_TYPE,
    )
    return _answer(svc, header, outcome, "too-large", None, None, time.perf_counter())


def _queue(frame: bytes, reading: V2Reading, svc: ListenerServices, started: float) -> Answer:
    """Queue a message read well, its counts in the same MULTI (one round trip); AA once the
    broker confirmed, AR 207 when it did not."""
    if not reading.has_her2 and not reading.withdraws:
        outcome = accepted(has_her2=False)
        return _answer(svc, reading.header, outcome, "no-her2-result", None, reading, started)
    job = InterpretJob(
        job_id=str(uuid.uuid4()),
        door=DOOR,
        received_at=datetime.now(UTC),
        body=frame.decode(reading.charset),  # read at admission, so it decodes
        media_type=HL7V2_MEDIA_TYPE,
    )
    answer, counted = _decided(reading.header, accepted(has_her2=True), job.job_id, reading)
    try:
        svc.jobs.enqueue(svc.celery, job, also=[counted])
    except QueueUnavailable:
        outcome = resend_later()
        return _answer(svc, reading.header, outcome, "queue-unavailable", None, reading, started)
    _logged(answer, reading.header, accepted(has_her2=True), "queued", reading, started)
    return answer


def _answer(
    svc: ListenerServices,
    header: MessageHeader | None,
    outcome: AckOutcome,
    reason: str,
    job_id: str | None,
    reading: V2Reading | None,
    started: float,
) -> Answer:
    """The ACK of a frame not queued (`job_id` None) or queued apart, counted now and logged."""
    answer, counted = _decided(header, outcome, job_id, reading, reason)
    svc.metrics.send(counted)
    _logged(answer, header, outcome, reason, reading, started)
    return answer


def _decided(
    header: MessageHeader | None,
    outcome: AckOutcome,
    job_id: str | None,
    reading: V2Reading | None,
    reason: str = "queued",
) -> tuple[Answer, Tally]:
    """The ACK for `outcome` and the frame's counts, not yet sent."""
    enhanced = header is not None and header.enhanced_mode
    code = ("C" if enhanced else "A") + outcome.code.value
    ack = build_ack(header, outcome, control_id=uuid.uuid4().hex[:20], now=datetime.now(UTC))
    counted = Tally()
    counted.incr("her2_messages_received_total", door=DOOR)
    counted.incr("her2_mllp_acks_total", code=code if ack is not None else "none")
    if job_id is not None:
        counted.incr("her2_messages_accepted_total", door=DOOR)
        for pattern in reading.patterns if reading is not None else ():
            counted.incr("her2_hl7v2_patterns_total", pattern=pattern)
    elif reason == "no-her2-result":
        counted.incr("her2_hl7v2_not_interpreted_total")
    else:
        counted.incr("her2_messages_rejected_total", door=DOOR, reason=reason)
    charset = reading.charset if reading is not None else "utf-8"
    return Answer(ack, code, job_id, charset), counted


def _logged(
    answer: Answer,
    header: MessageHeader | None,
    outcome: AckOutcome,
    reason: str,
    reading: V2Reading | None,
    started: float,
) -> None:
    # Ids and codes only: no value, no patient identifier (the ERR location names a field).
    log.info(
        "message acknowledged",
        extra={
            "door": DOOR,
            "ack": answer.code,
            "sent": answer.ack is not None,
            "reason": reason,
            "job_id": answer.job_id or "",
            "control_id": header.control_id if header is not None else "",
            "error_code": outcome.error_code or "",
            "error_location": str(outcome.location) if outcome.location else "",
            "cases": len(reading.case_keys) if reading is not None and answer.job_id else 0,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )


def separators(frame: bytes) -> int:
    """Segment separators plus the delimiters the first MSH declares (MSH-1, MSH-2), counted."""
    start = frame.find(b"MSH")
    declared = set(frame[start + 3 : start + 8]) if start >= 0 else set()
    counted = (declared - set(b"\r\n")) | {ord("|"), ord("^")}
    return sum(frame.count(bytes([byte])) for byte in counted | {ord("\r"), ord("\n")})


def _header_of(head: bytes) -> MessageHeader | None:
    """The MSH facts of a message's first bytes, or None where they cannot be read."""
    try:
        return read_msh_only(head)
    except Exception:  # an unreadable head: the ACK goes without its MSH facts
        return None
