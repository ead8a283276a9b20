"""The service's figures of one run of scripts/bench.py (issue 17 targets 1, 2, 3, 6 and 7).

Each target figure's name starts with the number of its issue 17 target, so the summary of
several runs lines them up. CPU per message is the API's and the worker's (with its pool) CPU
time over a run, from /proc, divided by the run's messages; baseline A's is this process's CPU
time over the same bodies.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench_doors import RSS_GROWTH
from bench_load import ServiceRun, service_run
from bench_procs import (
    Env,
    Finished,
    Process,
    adapter_command,
    api,
    own_cpu_seconds,
    run_to_end,
    workers,
)
from bench_profile import Profiler
from bench_report import Figure, Report, Target, percentile

A_RATE = "A: msg/s, simple messages"
A_CPU = "A: CPU ms/msg, simple messages"
A_CPU_REAL = "A: CPU ms/msg, realistic feed"


@dataclass(frozen=True)
class ServiceSizes:
    warm_up: int  # messages through a fresh service before anything is measured
    service: int  # messages per measured service run (simple to the sink; realistic)
    rate: float  # offered rate of the latency run, messages/s
    rate_seconds: float
    backfill: int  # lines of the backfill measured for its rate
    backfill_big: int  # lines of the larger file for the memory check; 0: not this run


def baseline_a(report: Report, simple: Sequence[str], realistic: Sequence[str]) -> None:
    """Bare R4B Bundle parse + validate + dump in this process: rate and CPU per message."""
    from fhir.resources.R4B.bundle import Bundle

    for name, bodies in ((A_CPU, simple), (A_CPU_REAL, realistic)):
        cpu, started = own_cpu_seconds(), time.perf_counter()
        for body in bodies:
            Bundle.model_validate_json(body).model_dump_json()
        wall, cpu = time.perf_counter() - started, own_cpu_seconds() - cpu
        report.add(Figure(name, cpu * 1000 / len(bodies), "ms"))
        if name == A_CPU:
            report.add(Figure(A_RATE, len(bodies) / wall, "msg/s"))


def measure(
    report: Report,
    env: Env,
    work: Path,
    simple: Sequence[str],
    realistic: Sequence[str],
    sizes: ServiceSizes,
    profile: Profiler | None = None,
) -> None:
    """Targets 1, 2, 3, 6 and the worker's and the backfill's memory (7)."""
    sink = work / "sink"

    def profiled(label: str, processes: dict[str, Process]) -> AbstractContextManager[None]:
        return profile(label, processes) if profile else nullcontext()

    with api(env) as (base, server), workers(env, SINK_DIR=str(sink)) as worker:
        service_run(env, base, server, worker, simple[: sizes.warm_up])
        with profiled("sink", {"api": server, "worker": worker}):
            run = service_run(env, base, server, worker, simple[: sizes.service])
        _cpu_figures(report, run, "simple -> sink", A_CPU)
        if profile:
            profile.attribute(report, "sink", run)
        report.add(Figure("2 service -> sink, msg/s", run.rate, "msg/s", Target(">=", 0.5, A_RATE),
                          note=_failed(run)))  # fmt: skip
        shutil.rmtree(sink, ignore_errors=True)
        count = int(sizes.rate * sizes.rate_seconds)
        paced = service_run(env, base, server, worker, simple[:count], rate=sizes.rate)
        _latency_figures(report, paced, sizes.rate)
        handled = sizes.warm_up + sizes.service + count
        handled += _measure_backfill(report, env, work, simple, sizes, worker)
        rss = max(max(worker.rss_mb()), run.peak_rss_mb, paced.peak_rss_mb)
        note = f"after {handled:,} messages"  # in the note: one row whatever the run's size
        report.add(Figure("7 worker RSS, largest process", rss, "MB", Target("<", 200), note=note))
        shutil.rmtree(sink, ignore_errors=True)
        with workers(env, FHIR_SERVER_URL=env.fhir.base_url) as writer:
            service_run(env, base, server, writer, realistic[: sizes.warm_up])
            with profiled("realistic", {"api": server, "worker": writer}):
                real = service_run(env, base, server, writer, realistic[: sizes.service])
        env.fhir.reset()
    _cpu_figures(report, real, "realistic -> FHIR server", A_CPU_REAL)
    if profile:
        profile.attribute(report, "realistic", real)
    report.add(Figure("realistic -> FHIR server, msg/s", real.rate, "msg/s", note=_failed(real)))


def _cpu_figures(report: Report, run: ServiceRun, what: str, baseline: str) -> None:
    name = f"1 CPU ms/msg, {what} (API + worker)"
    total = run.ms_per_message(run.api_cpu + run.worker_cpu)
    report.add(Figure(name, total, "ms", Target("<=", 2.5, baseline)))
    for part, cpu in (("API", run.api_cpu), ("worker", run.worker_cpu)):
        split = f"user {_ms(run, cpu.user)} + kernel {_ms(run, cpu.system)} ms/msg"
        report.add(Figure(f"  of which {part}, {what}", run.ms_per_message(cpu), "ms", note=split))


def _ms(run: ServiceRun, seconds: float) -> str:
    return f"{seconds * 1000 / run.count:.2f}"


def _latency_figures(report: Report, paced: ServiceRun, rate: float) -> None:
    for what, values, bound in (
        ("ingest", paced.ingest, 10.0),
        ("end to end", paced.end_to_end, 1000.0),
    ):
        for p in (50, 99):
            report.add(
                Figure(
                    f"{'3 ' if p == 99 else '  '}{what} p{p} at {rate:g} msg/s",
                    percentile(values, p) * 1000,
                    "ms",
                    Target("<", bound) if p == 99 else None,
                    note=_failed(paced) if p == 99 and what == "end to end" else "",
                )
            )


def _measure_backfill(
    report: Report, env: Env, work: Path, bodies: Sequence[str], sizes: ServiceSizes,
    worker: Process,
) -> int:  # fmt: skip
    """Target 6, and the backfill's memory when `sizes.backfill_big`; the messages it sent.

    The rate leaves out the command's start-up (imports, mappings, Redis: its wall time on a
    file of one line), as for the CLI: a backfill of years is not 10,000 lines long."""
    startup = _backfill(env, _backfill_file(work, bodies, 1)).wall
    cpu = worker.cpu()
    done = _backfill(env, _backfill_file(work, bodies[1:], sizes.backfill))
    cpu = worker.cpu() - cpu + done.cpu
    name = f"6 backfill -> sink, {sizes.backfill:,} lines, msg/s"
    rate = sizes.backfill / max(done.wall - startup, 1e-9)
    note = f"with its start-up ({startup:.1f} s): {sizes.backfill / done.wall:.0f} msg/s"
    report.add(Figure(name, rate, "msg/s", Target(">=", 1.5, A_RATE), note=note))
    per_message = cpu.total * 1000 / sizes.backfill
    report.add(Figure("  backfill CPU ms/msg (command + worker)", per_message, "ms"))
    if not sizes.backfill_big:
        return 1 + sizes.backfill
    big = _backfill(env, _backfill_file(work, bodies, sizes.backfill_big))
    name = f"7 backfill RSS growth, {sizes.backfill:,} -> {sizes.backfill_big:,} lines"
    grown = big.peak_rss_mb - done.peak_rss_mb
    report.add(Figure(name, grown, "MB", Target("<=", RSS_GROWTH)))
    return 1 + sizes.backfill + sizes.backfill_big


def _backfill(env: Env, path: Path) -> Finished:
    return run_to_end(adapter_command("backfill", str(path)), env.env())


def _backfill_file(work: Path, bodies: Sequence[str], lines: int) -> Path:
    """A file of `lines` lines, `bodies` over and over."""
    path = work / f"backfill-{lines}.ndjson"
    with path.open("w") as out:
        for n in range(lines):
            out.write(bodies[n % len(bodies)] + "\n")
    return path


def _failed(run: ServiceRun) -> str:
    return f"{run.failed} jobs failed (dead-lettered)" if run.failed else ""
