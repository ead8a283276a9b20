"""What the operations console costs the feed: ingest latency with and without the page rendered.

    python scripts/bench_console.py [--rate 100] [--seconds 15] [--renders-per-second 2]

Starts its own redis-server, `her2-adapter serve` and one worker (directory sink), then offers
messages at a fixed rate (open loop, as scripts/bench.py) in alternating phases: quiet, then with
a logged-in reader rendering `/console` (hour and day windows in turn) several times a second,
far more often than people with the page's 30 s refresh would; `--rounds` pairs. Prints POST -> 202
p50/p99 for each phase, pooled by kind, and the console's own render times. A benchmark, not a
timed test: it reports, it never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from bench import API_KEY, Env, JobWatch, _post_all, api, messages, redis_server, workers
from bench_report import percentile


def show(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def reader(base: str, per_second: float, stop: threading.Event, renders: list[float]) -> None:
    """Log in as a person does, then render the console until `stop`."""
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/console/login").text
        token = re.search(r'name="login_token" value="([^"]+)"', form)
        assert token, "no login form"
        http.post("/console/login", data={"key": API_KEY, "login_token": token.group(1)})
        windows = ("hour", "day")
        n = 0
        while not stop.wait(1 / per_second):
            started = time.perf_counter()
            page = http.get("/console", params={"window": windows[n % 2]})
            if page.status_code != 200:
                raise RuntimeError(f"the console answered {page.status_code}")
            renders.append(time.perf_counter() - started)
            n += 1


def phase(
    env: Env, base: str, bodies: list[str], rate: float, renders_per_second: float
) -> tuple[list[float], list[float]]:
    """Ingest latencies of `bodies` offered at `rate`, with the console read when asked; then
    wait for the worker to settle them (so the next phase starts from an empty queue)."""
    stop, renders = threading.Event(), []
    thread = None
    if renders_per_second:
        thread = threading.Thread(
            target=reader, args=(base, renders_per_second, stop, renders), daemon=True
        )
        thread.start()
    watch = JobWatch(env.redis())
    latencies = asyncio.run(_post_all(base, bodies, watch, 64, rate))
    stop.set()
    if thread is not None:
        thread.join()
    watch.wait(len(bodies), 600)
    return latencies, renders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s offered")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--renders-per-second", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2, help="quiet + console phase pairs")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    plan = ("quiet", "console") * args.rounds
    bodies = [body for _, body in messages(count * len(plan))]
    pooled: dict[str, list[float]] = {"quiet": [], "console": []}
    all_renders: list[float] = []
    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-console-")))
        url = stack.enter_context(redis_server(logs))
        env = Env(url, logs, 2, "WARNING", None)  # type: ignore[arg-type]  # no FHIR server
        base = stack.enter_context(api(env))
        stack.enter_context(workers(env, SINK_DIR=str(logs / "sink")))
        for i, kind in enumerate(plan):
            chunk = bodies[i * count : (i + 1) * count]
            per_second = args.renders_per_second if kind == "console" else 0.0
            latencies, renders = phase(env, base, chunk, args.rate, per_second)
            pooled[kind] += latencies
            all_renders += renders
            show(
                f"{kind:8} {len(latencies)} POSTs at {args.rate:g}/s: "
                f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 99) * 1000:.1f} ms"
                + (f"; {len(renders)} console renders" if renders else "")
            )
    for kind, latencies in pooled.items():
        show(
            f"{kind:8} pooled: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.1f} ms"
        )
    if all_renders:
        show(
            f"console render: p50 {percentile(all_renders, 50) * 1000:.0f} ms, "
            f"p99 {percentile(all_renders, 99) * 1000:.0f} ms ({len(all_renders)} renders)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
