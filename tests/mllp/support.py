"""An MLLP client for the tests, and the listener run in a thread of the test process.

The client speaks raw sockets (so a test can split frames, glue them, drop the connection or
send noise); every read has a deadline, so a listener that hangs fails the test, never blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

from adapter.mllp.frames import ListenerServices
from adapter.mllp.listener import MllpListener

SB, EB = b"\x0b", b"\x1c\x0d"


def frame(message: str | bytes) -> bytes:
    data = message.encode() if isinstance(message, str) else message
    return SB + data + EB


class Client:
    """One MLLP connection; `ack(msg)` sends a framed message and returns the ACK text."""

    def __init__(
        self, port: int, *, timeout: float = 20.0, context: ssl.SSLContext | None = None
    ) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock: socket.socket = (
            context.wrap_socket(raw, server_hostname="localhost") if context else raw
        )
        self.sock.settimeout(timeout)
        self._buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_ack(self) -> str:
        """The next ACK (framing stripped); AssertionError when the connection closes first."""
        while EB not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the listener closed the connection without an ACK")
            self._buffer += chunk
        end = self._buffer.index(EB)
        data, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        assert data.startswith(SB), data[:20]
        return data[1:].decode("utf-8")

    def ack(self, message: str | bytes) -> str:
        self.send_raw(frame(message))
        return self.read_ack()

    def closed_by_peer(self, timeout: float = 10.0) -> bool:
        """True when the listener closes the connection within `timeout` (data read is dropped)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def msa(ack: str) -> list[str]:
    """MSA fields of an ACK: [MSA, code, control id, text] (split by the ACK's MSH-1)."""
    segment = next(s for s in ack.split("\r") if s.startswith("MSA"))
    return segment.split(ack[3])


def err(ack: str) -> list[str] | None:
    segment = next((s for s in ack.split("\r") if s.startswith("ERR")), None)
    return segment.split("|") if segment else None


def err_code(ack: str) -> str:
    """ERR-3.1 (v2.5 on), or the code inside ERR-1 (before v2.5); '' without ERR."""
    fields = err(ack) or []
    if len(fields) > 3:
        return fields[3].split("^")[0]
    if len(fields) == 2:
        return fields[1].split("^")[3].split("&")[0]
    return ""


class ListenerThread:
    """An `MllpListener` on a free port, in its own event loop on a thread of the test process."""

    def __init__(self, services: ListenerServices, **options: Any) -> None:
        self.listener = MllpListener(services, host="127.0.0.1", port=0, **options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.listener.port

    def start(self) -> ListenerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def running(services: ListenerServices, **options: Any) -> Iterator[ListenerThread]:
    listener = ListenerThread(services, **options).start()
    try:
        yield listener
    finally:
        listener.stop()


def wait_until(probe: Any, timeout: float = 10.0) -> Any:
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(delay)
        delay = min(delay * 2, 0.3)
