"""MLLP framing (hl7v2-contract.md 1): `0x0B` + message + `0x1C 0x0D`, decoded incrementally.

`FrameDecoder.feed(chunk)` takes bytes as they arrive (a frame may be split across any number
of reads, or several frames may come in one) and returns the frames it completed, in order.
Bytes outside a frame (before a `0x0B`) are skipped and counted, never kept or shown. A frame
that grows past `max_bytes` raises `FrameTooLarge` as soon as it does: nothing of it is
buffered beyond the limit; the listener then answers AR and closes the connection.
"""

from __future__ import annotations

from typing import Final

START_BLOCK: Final = b"\x0b"
END_BLOCK: Final = b"\x1c\x0d"
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024
HEAD_BYTES: Final = 4096  # the start of an over-long frame, kept to read its MSH for the ACK


class FrameTooLarge(Exception):
    """A frame grew past the limit; `head` is its first bytes (for the ACK's MSH facts)."""

    def __init__(self, limit: int, head: bytes) -> None:
        super().__init__(f"an MLLP frame over {limit} bytes")
        self.head = head


class FrameDecoder:
    """Incremental MLLP decoder for one connection."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_bytes = max_bytes
        self.skipped = 0  # bytes seen outside any frame, since the last `take_skipped`
        self._frame = bytearray()
        self._in_frame = False
        self._scanned = 0  # how far `_frame` was searched for END_BLOCK already

    @property
    def in_frame(self) -> bool:
        """True while a frame was started and not yet ended."""
        return self._in_frame

    def take_skipped(self) -> int:
        """Bytes skipped since the last call (to log their count, never their content)."""
        skipped, self.skipped = self.skipped, 0
        return skipped

    def feed(self, data: bytes) -> list[bytes]:
        """The frames `data` completes (without their framing bytes), in order.

        Raises `FrameTooLarge` when the current frame passes `max_bytes`.
        """
        frames: list[bytes] = []
        pos = 0
        while pos < len(data):
            if not self._in_frame:
                start = data.find(START_BLOCK, pos)
                if start < 0:
                    self.skipped += len(data) - pos
                    break
                self.skipped += start - pos
                pos = start + 1
                self._in_frame = True
                continue
            self._frame += data[pos:]
            pos = len(data)
            # An END_BLOCK split across two reads: look again from the byte before.
            end = self._frame.find(END_BLOCK, max(0, self._scanned - 1))
            if end < 0:
                self._scanned = len(self._frame)
                if len(self._frame) > self.max_bytes:
                    self._too_large()
                break
            if end > self.max_bytes:
                self._too_large()
            frames.append(bytes(self._frame[:end]))
            data, pos = bytes(self._frame[end + len(END_BLOCK) :]), 0  # more frames, or noise
            self._reset()
        return frames

    def _too_large(self) -> None:
        head = bytes(self._frame[:HEAD_BYTES])
        self._reset()
        raise FrameTooLarge(self.max_bytes, head)

    def _reset(self) -> None:
        self._frame = bytearray()
        self._in_frame = False
        self._scanned = 0
