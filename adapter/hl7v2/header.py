"""The MSH facts an ACK needs, and which messages the adapter takes (hl7v2-contract.md 2, 4).

Accepted: `ORU^R01` (MSH-9 `ORU^R01` or `ORU^R01^ORU_R01`), versions 2.3 to 2.8 (MSH-12),
processing id P, T or D (MSH-11). Anything else is a `V2BadMessage`: answered AR, code 200.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from adapter.hl7v2.errors import (
    SEGMENT_SEQUENCE_ERROR,
    UNSUPPORTED_MESSAGE_TYPE,
    V2BadMessage,
    V2Location,
)
from adapter.hl7v2.parse import ParsedMessage, decode_message, split_messages

PROCESSING_IDS: Final = frozenset({"P", "T", "D"})
# An MSH is a few hundred bytes; this much of a message is enough to know who sent it.
MSH_READ_LIMIT: Final = 4096
_VERSION: Final = re.compile(r"^2\.(?P<minor>\d)(?:\.\d+)*$")
_LINES: Final = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """MSH as the ACK echoes it: raw (still escaped) fields, plus a few read values."""

    field_separator: str  # MSH-1
    encoding_characters: str  # MSH-2
    sending_application: str  # MSH-3, raw
    sending_facility: str  # MSH-4, raw
    receiving_application: str  # MSH-5, raw
    receiving_facility: str  # MSH-6, raw
    message_type: str  # MSH-9, raw: "ORU^R01^ORU_R01"
    control_id: str  # MSH-10, raw
    processing_id: str  # MSH-11, raw
    version: str  # MSH-12.1
    accept_ack_type: str  # MSH-15: "" (original mode), AL, NE, ER, SU
    application_ack_type: str  # MSH-16
    facility: str  # MSH-4.1 unescaped (else MSH-3.1): the namespace of specimen keys
    timestamp: str  # MSH-7.1

    @property
    def enhanced_mode(self) -> bool:
        """Enhanced acknowledgement mode: MSH-15 is valued (contract 4)."""
        return bool(self.accept_ack_type)


def read_header(parsed: ParsedMessage) -> MessageHeader:
    """The facts of the message's MSH (python-hl7 numbers MSH-1 as field 1)."""
    msh = parsed.first("MSH")
    assert msh is not None  # parse.decode_message guarantees an MSH
    return MessageHeader(
        field_separator=str(msh[1]),
        encoding_characters=str(msh[2]),
        sending_application=parsed.raw(msh, 3),
        sending_facility=parsed.raw(msh, 4),
        receiving_application=parsed.raw(msh, 5),
        receiving_facility=parsed.raw(msh, 6),
        message_type=parsed.raw(msh, 9),
        control_id=parsed.raw(msh, 10),
        processing_id=parsed.raw(msh, 11),
        version=parsed.value(msh, 12),
        accept_ack_type=parsed.value(msh, 15).upper(),
        application_ack_type=parsed.value(msh, 16).upper(),
        facility=parsed.value(msh, 4) or parsed.value(msh, 3),
        timestamp=parsed.value(msh, 7),
    )


def read_msh_only(data: bytes) -> MessageHeader:
    """The MSH facts of a message read from its first segment alone, within its first
    `MSH_READ_LIMIT` bytes: who sent it, before anything else of the message is parsed.

    The MSH is decoded by its MSH-18, as the full read decodes it. Raises `V2BadMessage` as the
    full read does: text before the MSH or an unreadable MSH (100), an MSH-18 the adapter does
    not know (200).
    """
    head = data[:MSH_READ_LIMIT]
    raws = next(filter(None, map(split_messages, _LINES.split(head))), [])
    if not raws:
        raise V2BadMessage("no MSH segment: not an HL7 v2 message", code=SEGMENT_SEQUENCE_ERROR)
    return read_header(decode_message(raws[0]))


def check_accepted(parsed: ParsedMessage) -> None:
    """Raise `V2BadMessage` (located at the MSH field) unless the message is one we take."""
    msh = parsed.first("MSH")
    assert msh is not None
    kind, event, structure = (parsed.value(msh, 9, 1, n) for n in (1, 2, 3))
    if (kind, event) != ("ORU", "R01") or structure not in ("", "ORU_R01"):
        shown = "^".join(p for p in (kind, event, structure) if p) or "nothing"
        raise V2BadMessage(
            f"message type {shown} is not accepted: only ORU^R01",
            V2Location("MSH", 1, 9),
            UNSUPPORTED_MESSAGE_TYPE,
        )
    version = parsed.value(msh, 12)
    match = _VERSION.match(version)
    if match is None or not 3 <= int(match["minor"]) <= 8:
        raise V2BadMessage(
            f"version {version or 'nothing'} (MSH-12) is not accepted: 2.3 to 2.8",
            V2Location("MSH", 1, 12),
            UNSUPPORTED_MESSAGE_TYPE,
        )
    processing = parsed.value(msh, 11)
    if processing not in PROCESSING_IDS:
        raise V2BadMessage(
            f"processing id {processing or 'nothing'} (MSH-11) is not accepted: P, T or D",
            V2Location("MSH", 1, 11),
            UNSUPPORTED_MESSAGE_TYPE,
        )
