"""Bytes -> HL7 v2 messages, parsed by python-hl7 (hl7v2-contract.md 2).

What is done here by hand is only what python-hl7 cannot: MLLP framing bytes (0x0B, 0x1C) are
dropped, a UTF-8 byte-order mark is dropped, segment separators CR, LF and CRLF become CR, and a
file is split into messages at each `MSH` segment. The bytes of each message are decoded by
MSH-18 (empty or `UNICODE UTF-8`: UTF-8; `8859/1`: Latin-1), then `hl7.parse` does the rest.
Every value read goes through `ParsedMessage.value`, which unescapes it
(`\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import hl7

from adapter.hl7v2.errors import (
    DATA_TYPE_ERROR,
    SEGMENT_SEQUENCE_ERROR,
    UNSUPPORTED_MESSAGE_TYPE,
    V2BadMessage,
    V2BadValue,
    V2Location,
)

BOM: Final = b"\xef\xbb\xbf"
MLLP_FRAMING: Final = (b"\x0b", b"\x1c")
CHARSETS: Final = {
    "": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ASCII": "ascii",
    "8859/1": "latin-1",
}
# MSH has 21 fields in v2.5, 25 in v2.8: more means a segment separator is missing and the next
# segment ran into MSH (seen in lfh-connect-naaccr5-prostate-malformed-5.hl7).
MAX_MSH_FIELDS: Final = 25
_UNDECODED: Final = re.compile("[\udc80-\udcff]")  # bytes surrogateescape could not decode
# \.br\ is a line break in the text; highlighting (\H\ \N\) carries no meaning to keep.
_APP_ESCAPES: Final = {".br": "\n", "H": "", "N": ""}


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One message cut from a file: its number in the file (from 1) and its bytes (CR-separated).

    `before_first_msh` marks text that stood before the file's first MSH: a bad message.
    """

    number: int
    data: bytes
    before_first_msh: bool = False


def split_messages(data: bytes) -> list[RawMessage]:
    """Cut a file (or an MLLP stream) into messages, each starting at an `MSH` segment.

    Framing bytes and blank lines are dropped; text before the first MSH becomes message 1,
    marked `before_first_msh`. A file with no segment at all gives no message.
    """
    for byte in MLLP_FRAMING:
        data = data.replace(byte, b"")
    data = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    groups: list[list[bytes]] = []
    prefix: list[bytes] = []
    for segment in data.split(b"\r"):
        segment = segment.removeprefix(BOM)
        if not segment.strip():
            continue
        if segment.startswith(b"MSH") and len(segment) > 3:
            groups.append([segment])
        elif groups:
            groups[-1].append(segment)
        else:
            prefix.append(segment)
    messages: list[RawMessage] = []
    if prefix:
        messages.append(RawMessage(1, b"\r".join(prefix), before_first_msh=True))
    for group in groups:
        messages.append(RawMessage(len(messages) + 1, b"\r".join(group)))
    return messages


class ParsedMessage:
    """A python-hl7 message with unescaped, 1-based, never-failing value access."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self.charset = "utf-8"
        # python-hl7's separators: segment, field, repetition, component, subcomponent.
        self._delimiters = str.maketrans("", "", str(message.separators)[2:])
        self.undecoded_at: V2Location | None = None  # first field with undecodable bytes
        self.segments: list[tuple[str, int, Any]] = []  # (name, index among that name, segment)
        counts: dict[str, int] = {}
        for segment in message:
            name = str(segment[0])
            counts[name] = counts.get(name, 0) + 1
            self.segments.append((name, counts[name], segment))

    def first(self, name: str) -> Any | None:
        """The first segment of that name, or None."""
        return next((s for n, _, s in self.segments if n == name), None)

    def value(self, segment: Any, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
        """The unescaped value at field/repetition/component/subcomponent; '' where absent."""
        raw = leaf(segment[field], rep, comp, sub) if field < len(segment) else ""
        if str(segment[0]) == "MSH" and field in (1, 2):
            return raw  # the delimiters themselves are never escaped
        text = self.message.unescape(raw, app_map=_APP_ESCAPES) if raw else raw
        # \X0D\\X0A\ and \.br\ both mean a line break: one form for the text we keep.
        return str(text).replace("\r\n", "\n").replace("\r", "\n").strip()

    def is_empty(self, segment: Any, field: int) -> bool:
        """True when a field holds nothing in any repetition, component or subcomponent:
        `^6.01` (an SN with an empty comparator) is not empty though its first component is."""
        raw = self.raw(segment, field)
        return not raw.translate(self._delimiters).strip()

    def text(self, segment: Any, field: int) -> str:
        """A whole text field (ST, TX, FT) unescaped, its components kept as written: senders
        put unescaped `^` and `&` in text, and reading only the first component would drop the
        rest of it."""
        raw = self.raw(segment, field)
        text = self.message.unescape(raw, app_map=_APP_ESCAPES) if raw else raw
        return str(text).replace("\r\n", "\n").replace("\r", "\n").strip()

    def raw(self, segment: Any, field: int) -> str:
        """A whole field as it was written (escaped), e.g. to echo MSH-3 in an ACK."""
        return str(segment[field]) if field < len(segment) else ""

    def repetitions(self, segment: Any, field: int) -> int:
        """How many repetitions a field holds (0 when empty)."""
        if field >= len(segment):
            return 0
        node = segment[field]
        if node and isinstance(node[0], str):
            return 1 if node[0] else 0
        return len(node)

    def field_count(self, segment: Any) -> int:
        """The number of fields the segment holds (MSH counts MSH-1, the field separator)."""
        return len(segment) - 1


def leaf(node: Any, *path: int) -> str:
    """Walk python-hl7's containers by 1-based indices; the first child where it runs deeper.

    python-hl7 stores a value without components as a plain string one level up, so a path
    that runs past a string is valid as long as the remaining indices are all 1.
    """
    for index in path:
        if isinstance(node, str):
            if index != 1:
                return ""
            continue
        if index < 1 or index > len(node):
            return ""
        node = node[index - 1]
    while not isinstance(node, str):
        node = node[0] if len(node) else ""
    return node


def decode_message(raw: RawMessage, *, charset: str | None = None) -> ParsedMessage:
    """Decode one message by its MSH-18 and parse it.

    Raises `V2BadMessage` for text before the first MSH, an unreadable MSH or an unknown
    character set. Bytes that do not decode are kept (surrogate-escaped) and located in
    `undecoded_at`: `check_decoded` rejects them once the MSH facts are read. `charset` (a
    Python codec) overrides MSH-18, for text that was decoded already.
    """
    if raw.before_first_msh:
        raise V2BadMessage(
            "text before the first MSH segment: not an HL7 v2 message",
            code=SEGMENT_SEQUENCE_ERROR,
        )
    charset = charset or _charset(raw.data)
    text = raw.data.decode(charset, errors="surrogateescape")
    parsed = _parse(text)
    parsed.charset = charset
    if _UNDECODED.search(text):
        parsed.undecoded_at = _undecodable_location(parsed) or V2Location("MSH", 1)
    return parsed


def check_decoded(parsed: ParsedMessage) -> None:
    """Raise `V2BadValue` at the first field holding bytes its character set does not decode."""
    if parsed.undecoded_at is not None:
        raise V2BadValue(
            f"bytes that are not {parsed.charset.upper()}", parsed.undecoded_at, DATA_TYPE_ERROR
        )


def _parse(text: str) -> ParsedMessage:
    try:
        message = hl7.parse(text)
    except Exception as error:  # python-hl7 raises bare exceptions on a broken MSH
        raise V2BadMessage(
            f"the MSH segment cannot be read ({type(error).__name__})",
            V2Location("MSH", 1),
            SEGMENT_SEQUENCE_ERROR,
        ) from error
    parsed = ParsedMessage(message)
    msh = parsed.first("MSH")
    if msh is None or len(msh) < 3 or len(str(msh[2])) < 3:
        raise V2BadMessage(
            "the MSH segment has no encoding characters (MSH-2)",
            V2Location("MSH", 1, 2),
            SEGMENT_SEQUENCE_ERROR,
        )
    if parsed.field_count(msh) > MAX_MSH_FIELDS:
        raise V2BadMessage(
            f"MSH has {parsed.field_count(msh)} fields (at most {MAX_MSH_FIELDS} exist): "
            "a segment separator is missing after MSH",
            V2Location("MSH", 1, MAX_MSH_FIELDS + 1),
            SEGMENT_SEQUENCE_ERROR,
        )
    return parsed


def _charset(data: bytes) -> str:
    """The Python codec MSH-18 names; MSH is read from a lossless Latin-1 view of the bytes."""
    header = data.split(b"\r", 1)[0].decode("latin-1")
    parsed = _parse(header)
    msh = parsed.first("MSH")
    name = parsed.value(msh, 18).upper() if msh is not None else ""
    codec = CHARSETS.get(" ".join(name.split()))
    if codec is None:
        raise V2BadMessage(
            f"character set {name!r} (MSH-18) is not supported: use UNICODE UTF-8 or 8859/1",
            V2Location("MSH", 1, 18),
            UNSUPPORTED_MESSAGE_TYPE,
        )
    return codec


def _undecodable_location(parsed: ParsedMessage) -> V2Location | None:
    """The first field holding an undecoded byte (python-hl7 numbers MSH-1 as segment[1])."""
    for name, index, segment in parsed.segments:
        if _UNDECODED.search(str(segment[0])):
            return V2Location(name, index)
        for number in range(1, len(segment)):
            if _UNDECODED.search(str(segment[number])):
                return V2Location(name, index, number)
    return None
