"""Errors of the HL7 v2 door, in the `BadInput` tree so every entry point already handles them.

    BadInput
    ├── UnreadableMessage
    │   └── V2BadMessage   not HL7 v2, no MSH, unsupported type/version  -> ACK AR, ERR-3 200/100
    └── UnreadableValue
        └── V2BadValue     a HER2 value that cannot be read, a repeated
                           OBX-5, undecodable bytes                      -> ACK AE, ERR-3 102/103

Both carry a `V2Location` (`OBX[4]-5`): the `expression` of the error is that location, so the
offline error line and the ACK's ERR-2 name the same field. A leaf: the ACK's MSH facts are read
beside an error, never attached to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from adapter.errors import UnreadableMessage, UnreadableValue

# HL7 table 0357 (message error condition codes), the rows contract 4 uses.
SEGMENT_SEQUENCE_ERROR: Final = "100"
DATA_TYPE_ERROR: Final = "102"
TABLE_VALUE_NOT_FOUND: Final = "103"
UNSUPPORTED_MESSAGE_TYPE: Final = "200"
APPLICATION_INTERNAL_ERROR: Final = "207"


@dataclass(frozen=True, slots=True)
class V2Location:
    """A field of one segment: `OBX[4]-5` is OBX-5 of the message's fourth OBX (from 1)."""

    segment: str
    index: int  # 1-based among the message's segments of that name
    field: int | None = None

    def __str__(self) -> str:
        where = f"{self.segment}[{self.index}]"
        return f"{where}-{self.field}" if self.field is not None else where

    @property
    def err2(self) -> str:
        """ERR-2 (error location, ERL) components: segment ID ^ sequence ^ field position."""
        parts = [self.segment, str(self.index)]
        if self.field is not None:
            parts.append(str(self.field))
        return "^".join(parts)


class V2BadMessage(UnreadableMessage):
    """Not an HL7 v2 message the adapter takes: answered AR; nothing of it is read."""

    def __init__(
        self,
        message: str,
        location: V2Location | None = None,
        code: str = UNSUPPORTED_MESSAGE_TYPE,
    ) -> None:
        super().__init__(message, expression=str(location) if location else None)
        self.location = location
        self.code = code


class V2BadValue(UnreadableValue):
    """A readable message with a HER2 value that cannot be read: answered AE, rejected whole."""

    def __init__(self, message: str, location: V2Location, code: str = DATA_TYPE_ERROR) -> None:
        super().__init__(message, expression=str(location))
        self.location = location
        self.code = code
