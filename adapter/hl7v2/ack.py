"""The ACK of a v2 message (hl7v2-contract.md 4): a pure function of message facts and outcome.

MSH with sending and receiving application/facility swapped, the message's delimiters and
version, MSH-9 `ACK^R01^ACK` (`ACK` in 2.3), a new MSH-10 (given by the caller); MSA-1 the code,
MSA-2 the message's MSH-10, MSA-3 a short text without patient data; for AE/AR an ERR segment
(ERR-2 location, ERR-3 code from table 0357, ERR-4 severity E; ERR-1 before v2.5).
Enhanced mode (MSH-15 valued): CA/CE/CR; `NE` sends no ACK, `ER` only on error, `SU` only on
success. python-hl7's own ACK has no MSA-3 and no ERR, so the segments are built here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from adapter.errors import BadInput
from adapter.hl7v2.errors import (
    APPLICATION_INTERNAL_ERROR,
    DATA_TYPE_ERROR,
    UNSUPPORTED_MESSAGE_TYPE,
    V2BadMessage,
    V2BadValue,
    V2Location,
)
from adapter.hl7v2.header import MessageHeader

ERROR_TEXTS: Final = {
    "100": "Segment sequence error",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "207": "Application internal error",
}
DEFAULT_VERSION: Final = "2.5.1"  # for a message whose MSH could not be read


class AckCode(enum.Enum):
    """MSA-1 in original mode; enhanced mode swaps the A for a C (table 0008)."""

    ACCEPT = "A"
    ERROR = "E"
    REJECT = "R"


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What to acknowledge: the code, MSA-3 text, and for errors ERR-3 and ERR-2."""

    code: AckCode
    text: str
    error_code: str | None = None
    location: V2Location | None = None


def accepted(*, has_her2: bool) -> AckOutcome:
    """AA: queued for interpretation, or (no HER2 result) taken and nothing interpreted."""
    if has_her2:
        return AckOutcome(AckCode.ACCEPT, "accepted for HER2 interpretation")
    return AckOutcome(AckCode.ACCEPT, "accepted: no HER2 result, nothing interpreted")


def rejected(error: BadInput) -> AckOutcome:
    """AE for a HER2 value that cannot be read (V2BadValue), AR for a message we do not take."""
    if isinstance(error, V2BadMessage):
        return AckOutcome(
            AckCode.REJECT,
            _short(error.message),
            error.code or UNSUPPORTED_MESSAGE_TYPE,
            error.location,
        )
    location = error.location if isinstance(error, V2BadValue) else None
    code = error.code if isinstance(error, V2BadValue) else DATA_TYPE_ERROR
    where = f" at {location.err2}" if location else ""
    # The reader's message may quote the value: MSA-3 names only the place (no result values).
    return AckOutcome(
        AckCode.ERROR, f"rejected: a HER2 value cannot be read{where}", code, location
    )


def resend_later() -> AckOutcome:
    """AR 207: the broker cannot take the message now; the sender should send it again."""
    return AckOutcome(
        AckCode.REJECT,
        "not queued: temporarily unavailable, send again",
        APPLICATION_INTERNAL_ERROR,
    )


def sender_not_allowed() -> AckOutcome:
    """AR 200: MSH-4.1 is not an allowed sending facility."""
    return AckOutcome(AckCode.REJECT, "sending facility not allowed", UNSUPPORTED_MESSAGE_TYPE)


def sender_not_certified() -> AckOutcome:
    """AR 200: MSH-4.1 is allowed, but not over the client certificate of this connection."""
    return AckOutcome(
        AckCode.REJECT,
        "sending facility not allowed with this client certificate",
        UNSUPPORTED_MESSAGE_TYPE,
    )


def build_ack(
    header: MessageHeader | None, outcome: AckOutcome, *, control_id: str, now: datetime
) -> str | None:
    """The ACK as ER7 text (segments separated by CR, no MLLP framing); None: send none."""
    enhanced = header is not None and header.enhanced_mode
    if enhanced and header is not None and not _wanted(header.accept_ack_type, outcome.code):
        return None
    field_sep = header.field_separator if header else "|"
    encoding = header.encoding_characters if header else "^~\\&"
    padded = (encoding + "^~\\&"[len(encoding) :])[:4]
    component, repetition, escape, subcomponent = padded[0], padded[1], padded[2], padded[3]
    version = header.version if header and header.version else DEFAULT_VERSION

    def esc(text: str) -> str:
        for char, name in ((escape, "E"), (field_sep, "F"), (component, "S")):
            text = text.replace(char, f"{escape}{name}{escape}")
        for char, name in ((subcomponent, "T"), (repetition, "R")):
            text = text.replace(char, f"{escape}{name}{escape}")
        return text

    message_type = "ACK" if version == "2.3" else component.join(("ACK", "R01", "ACK"))
    msh = [
        "MSH",
        encoding,
        header.receiving_application if header else "",
        header.receiving_facility if header else "",
        header.sending_application if header else "",
        header.sending_facility if header else "",
        now.strftime("%Y%m%d%H%M%S") + now.strftime("%z"),
        "",
        message_type,
        esc(control_id),
        (header.processing_id if header else "") or "P",
        version,
    ]
    code = ("C" if enhanced else "A") + outcome.code.value
    msa = ["MSA", code, header.control_id if header else "", esc(outcome.text)]
    segments = [field_sep.join(msh), field_sep.join(msa)]
    if outcome.code is not AckCode.ACCEPT:
        segments.append(field_sep.join(_err(outcome, version, component, subcomponent)))
    return "\r".join(segments) + "\r"


def _wanted(accept_ack_type: str, code: AckCode) -> bool:
    if accept_ack_type == "NE":
        return False
    if accept_ack_type == "ER":
        return code is not AckCode.ACCEPT
    if accept_ack_type == "SU":
        return code is AckCode.ACCEPT
    return True  # AL, and values outside table 0155: answer rather than stay silent


def _err(outcome: AckOutcome, version: str, component: str, subcomponent: str) -> list[str]:
    error_code = outcome.error_code or DATA_TYPE_ERROR
    text = ERROR_TEXTS.get(error_code, "")
    location = outcome.location.err2.replace("^", component) if outcome.location else ""
    if _before_2_5(version):
        # ERR-1 (ELD): segment ^ sequence ^ field ^ code&text&table.
        parts = location.split(component) if location else ["", "", ""]
        parts += [""] * (3 - len(parts))
        eld = component.join([*parts[:3], subcomponent.join((error_code, text, "HL70357"))])
        return ["ERR", eld]
    code = component.join((error_code, text, "HL70357"))
    return ["ERR", "", location, code, "E"]


def _before_2_5(version: str) -> bool:
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (2, 5)
    except (IndexError, ValueError):
        return False


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."
