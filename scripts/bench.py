"""Cost per message and the issue 17 targets, as ratios to baseline A measured in the same run.

    python scripts/bench.py [--quick] [--runs N] [--workers N] [--profile DIR] [--out FILE]

Each run starts what it needs: its own redis-server on a free port, `her2-adapter serve`,
`her2-adapter worker` (to the directory sink, then to the FHIR test server), the backfill
command, the offline CLI and `her2-adapter mllp`; the FHIR test server is shared by the runs.
The messages are generated once from fixed seeds (bench_feeds.py). Per run:

  A   bare fhir.resources R4B Bundle parse + validate + dump of the same bodies, in this
      process: its rate and CPU per message (the simple messages and the realistic feed)
  1   CPU per message of the API + the worker (from /proc) over the simple messages to the
      directory sink and over the realistic feed to the FHIR test server, against A's
  2   service -> sink throughput, one message per POST, against A
  3   ingest and end-to-end p99 at 200 messages/s offered (open loop)
  6   `her2-adapter backfill` end to end to the sink, against A
  7   worker RSS; in the first run only (memory does not depend on the machine's load):
      `interpret --ndjson` RSS growth 1,000 -> 100,000 lines, backfill RSS at two file sizes
  5   `interpret --hl7v2` against `interpret --ndjson` on the same cases
  4   MLLP ACKs/s over 4 connections, ACK p99 at 200 messages/s (no worker: admission alone)

It prints the CPU-per-message ratios first, each run's table (figure, value, baseline, ratio,
target, met?) and, over the runs, every target's met / not met; the JSON holds the same. A
missed target is a line of the table, never a failing exit status: this is not a timed test.
`--quick` divides the sizes by about 10 for a smoke run; `--profile DIR` records py-spy flame
graphs of the API and the worker under load (bench_profile.py), which slows what it watches:
profile in a run of its own (`--runs 1`), not in the one whose figures are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench_doors  # noqa: E402
import bench_service  # noqa: E402
from bench_feeds import messages, realistic  # noqa: E402
from bench_procs import Env, redis_server  # noqa: E402
from bench_profile import Profiler  # noqa: E402
from bench_report import Report, summary, table  # noqa: E402

from tests.support.fhir_server import FhirTestServer, free_port  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    service: bench_service.ServiceSizes
    pool: int  # distinct simple messages generated
    cli_small: int  # `interpret --ndjson` lines, the smaller file of the memory check
    cli_big: int
    v2: int  # cases for --hl7v2 against --ndjson, and MLLP frames


# Full: 5-9 minutes a run on 2 shared cores, the first 4 more (the memory files).
FULL = Sizes(bench_service.ServiceSizes(500, 10_000, 200.0, 30.0, 10_000, 30_000),
             10_000, 1_000, 100_000, 5_000)  # fmt: skip
QUICK = Sizes(bench_service.ServiceSizes(100, 1_000, 200.0, 5.0, 1_000, 5_000),
              1_000, 1_000, 10_000, 1_000)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size about 10x smaller")
    parser.add_argument("--runs", type=int, help="runs (default 3, or 1 with --quick)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy flame graphs here")
    parser.add_argument(
        "--no-memory", action="store_true", help="leave out the large files of target 7"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the services")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 3)
    started = datetime.now(UTC)
    reports: list[Report] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="her2-bench-")))
        say(f"generating messages (logs in {work / 'logs'})")
        pool = messages(sizes.pool)
        simple = [body for _, body in pool]
        feed = realistic(sizes.service.service + sizes.service.warm_up)
        cases = bench_doors.v2_cases(pool, sizes.v2)
        fhir = stack.enter_context(FhirTestServer(free_port(), quiet=True))
        for n in range(1, runs + 1):
            say(f"run {n} of {runs} (load average {os.getloadavg()[0]:.1f})")
            reports.append(one_run(n, work, fhir, args, sizes, simple, feed, cases))
            print(f"\nrun {n}\n{table(reports[-1])}\n", flush=True)  # noqa: T201
            write_json(args, sizes, started, reports)  # each run kept, should a later one fail
    print(headline(reports))  # noqa: T201 - the figures are the output
    print(f"\n{summary(reports)}")  # noqa: T201
    print(f"\nwritten: {args.out}")  # noqa: T201
    return 0


def one_run(
    n: int,
    work: Path,
    fhir: FhirTestServer,
    args: argparse.Namespace,
    sizes: Sizes,
    simple: Sequence[str],
    feed: Sequence[str],
    cases: Sequence[tuple[str, str]],
) -> Report:
    report = Report()
    run_dir = work / f"run-{n}"
    (run_dir / "logs").mkdir(parents=True)
    memory = n == 1 and not args.no_memory
    service = sizes.service if memory else replace(sizes.service, backfill_big=0)
    with redis_server(run_dir / "logs") as (url, _):
        env = Env(url, run_dir / "logs", args.workers, args.log_level, fhir)
        say("baseline A: R4B parse + validate + dump, simple messages and realistic feed")
        bench_service.baseline_a(report, simple[: service.service], feed[: service.service])
        say("service: simple -> sink, 200/s paced, backfill; realistic feed -> FHIR server")
        profile = Profiler(args.profile / f"run-{n}") if args.profile else None
        bench_service.measure(report, env, run_dir, simple, feed, service, profile)
        if memory:
            say(f"interpret --ndjson memory: {sizes.cli_small:,} and {sizes.cli_big:,} lines")
            bench_doors.cli_memory(report, run_dir, simple, sizes.cli_small, sizes.cli_big)
        say(f"interpret --hl7v2 against --ndjson, {len(cases):,} cases")
        bench_doors.cli_v2(report, run_dir, cases)
        say("MLLP: closed loop over 4 connections, then paced")
        bench_doors.mllp(report, env, cases, service.rate, service.rate_seconds)
    return report


def headline(reports: Sequence[Report]) -> str:
    """Target 1 of every run, first: CPU per message of the service against A's."""
    lines = ["CPU per message, service (API + worker) / baseline A (target <= 2.5x):"]
    for n, report in enumerate(reports, 1):
        rows = [r for r in report.rows() if r.name.startswith("1 ")]
        shown = "; ".join(
            f"{r.name.split(', ', 1)[1].split(' (')[0]} {r.value:.2f} ms = {r.ratio:.2f}x"
            for r in rows
            if r.value is not None and r.ratio is not None
        )
        lines.append(f"  run {n}: {shown}")
    return "\n".join(lines)


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: T201


def machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as meminfo:
        mem = int(meminfo.readline().split()[1]) // 1024 // 1024
    versions = {}
    for name, argv in (("redis", ["redis-server", "--version"]), ("node", ["node", "--version"])):
        versions[name] = subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    return {
        "load_average": os.getloadavg(),  # other work on the machine skews every figure
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def write_json(
    args: argparse.Namespace, sizes: Sizes, started: datetime, reports: Sequence[Report]
) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "workers": args.workers,
        "sizes": asdict(sizes),
        "machine": machine(),
        "runs": [report.as_json() for report in reports],
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
