"""The MLLP listener (hl7v2-contract.md 1): asyncio, one coroutine per connection.

Each connection handles its frames strictly in order: read bytes -> complete frames
(`FrameDecoder`) -> admit each in a worker thread (`admit_frame`: dry-run read, queue, ACK text)
-> write its ACK -> the next frame. Bytes are read only while no frame is being admitted, so a
slow broker back-pressures the sender through TCP (the stream reader's buffer is bounded by
`READ_LIMIT`) instead of being buffered here. A frame over the limit is answered AR and the
connection closed; a connection silent for `idle_timeout` seconds is closed.

`stop()` stops accepting, lets every frame being admitted finish and send its ACK, then closes
the connections: an ACK is never sent for a message that was not queued, and a message queued
without its ACK (a dropped connection) is safe to resend (contract 5: deterministic ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from cryptography import x509

from adapter.hl7v2.ack import AckCode, AckOutcome, build_ack
from adapter.hl7v2.errors import APPLICATION_INTERNAL_ERROR
from adapter.mllp.frames import Answer, ListenerServices, admit_frame, too_large
from adapter.mllp.framing import (
    END_BLOCK,
    MAX_FRAME_BYTES,
    START_BLOCK,
    FrameDecoder,
    FrameTooLarge,
)
from adapter.mllp.senders import certificate_subject

log = logging.getLogger("her2.mllp")
READ_CHUNK: Final = 64 * 1024
READ_LIMIT: Final = 64 * 1024  # the stream reader pauses the socket beyond about twice this
ADMISSION_THREADS: Final = 8
IDLE_TIMEOUT_SECONDS: Final = 600.0
STOP_GRACE_SECONDS: Final = 10.0


class MllpListener:
    """An MLLP server over `ListenerServices`; `await start()`, then `await stop()`."""

    def __init__(
        self,
        services: ListenerServices,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        threads: int = ADMISSION_THREADS,
    ) -> None:
        self.services = services
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout = idle_timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="her2-mllp")
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], bool] = {}  # task -> admitting a frame now
        self._numbers = itertools.count(1)
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Bind and accept connections; `self.port` is then the bound port (0 picks one)."""
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, ssl=self.ssl_context, limit=READ_LIMIT
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "mllp listening",
            extra={"host": self.host, "port": self.port, "tls": self.ssl_context is not None},
        )

    async def stop(self) -> None:
        """Stop accepting; let frames being admitted finish and ACK; close every connection."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for task, admitting in list(self._connections.items()):
            if not admitting:
                task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=STOP_GRACE_SECONDS)
        for task in list(self._connections):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), STOP_GRACE_SECONDS)
        self._pool.shutdown(wait=True)
        log.info("mllp stopped", extra={"port": self.port})

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = False
        number = next(self._numbers)
        peer = writer.get_extra_info("peername")
        log.info(
            "mllp connection opened",
            extra={"connection": number, "peer": str(peer[0]) if peer else ""},
        )
        frames_done, reason = 0, "closed by the sender"
        try:
            tls = writer.get_extra_info("ssl_object")
            certificate = certificate_subject(tls.getpeercert(binary_form=True) if tls else None)
            frames_done, reason = await self._frames(reader, writer, task, number, certificate)
        except asyncio.CancelledError:
            reason = "closed by the listener stopping"
        except (ConnectionError, ssl.SSLError, OSError) as error:
            reason = f"lost ({type(error).__name__})"
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)
            log.info(
                "mllp connection closed",
                extra={"connection": number, "frames": frames_done, "reason": reason},
            )

    async def _frames(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        task: asyncio.Task[None],
        number: int,
        certificate: x509.Name | None,
    ) -> tuple[int, str]:
        decoder = FrameDecoder(self.max_frame_bytes)
        done = 0
        while not self._stopping.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), self.idle_timeout)
            except TimeoutError:
                return done, "idle"
            if not chunk:
                return done, "closed by the sender"
            try:
                frames = decoder.feed(chunk)
            except FrameTooLarge as error:
                self._connections[task] = True
                answer = await self._run(too_large, error.head, self.max_frame_bytes)
                await _send(writer, answer)
                return done, "frame too large"
            finally:
                skipped = decoder.take_skipped()
                if skipped:  # their count only: stray bytes may be anything
                    log.warning(
                        "mllp bytes outside a frame skipped",
                        extra={"connection": number, "bytes": skipped},
                    )
            for frame in frames:
                if self._stopping.is_set():  # not admitted, not acknowledged: sent again later
                    break
                self._connections[task] = True
                answer = await self._run(admit_frame, frame, certificate)
                await _send(writer, answer)
                self._connections[task] = False
                done += 1
        return done, "listener stopping"

    async def _run(self, function: Callable[..., Answer], *args: object) -> Answer:
        """`function(*args, services)` in the admission pool; a crash there is AR 207."""
        loop = asyncio.get_running_loop()
        try:
            answer: Answer = await asyncio.shield(
                loop.run_in_executor(self._pool, functools.partial(function, *args, self.services))
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # never lose the connection's order over one message
            log.error("mllp admission failed", extra={"error": type(error).__name__})
            outcome = AckOutcome(
                AckCode.REJECT, "not queued: internal error, send again", APPLICATION_INTERNAL_ERROR
            )
            return Answer(build_ack(None, outcome, control_id="error", now=datetime.now(UTC)), "AR")
        return answer


async def _send(writer: asyncio.StreamWriter, answer: Answer) -> None:
    if answer.ack is None:
        return
    writer.write(START_BLOCK + answer.ack.encode(answer.charset, errors="replace") + END_BLOCK)
    await writer.drain()


def tls_context(
    cert: Path | None, key: Path | None, client_ca: Path | None
) -> ssl.SSLContext | None:
    """The server TLS context (TLS 1.2+), or None without a certificate.

    With `client_ca`, clients must present a certificate it signed. Raises ValueError for a
    certificate without its key (or the reverse), or a client CA without a certificate.
    """
    if cert is None and key is None:
        if client_ca is not None:
            raise ValueError("MLLP_TLS_CLIENT_CA needs MLLP_TLS_CERT and MLLP_TLS_KEY")
        return None
    if cert is None or key is None:
        raise ValueError("MLLP_TLS_CERT and MLLP_TLS_KEY go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    return context
