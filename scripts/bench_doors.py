"""The other doors' figures of one run of scripts/bench.py (issue 17 targets 4, 5 and 7).

The offline CLI (`interpret --ndjson`, `--hl7v2`) runs as a child process; its rate leaves out
its start-up (imports, mappings: a run on one message) and its peak RSS is its
VmHWM, read while it runs (bench_procs.run_to_end). The MLLP listener runs with no worker, so
its figures are admission's alone; its jobs stay queued, which is why it is measured last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bench_feeds import Spec, v2_message
from bench_load import mllp_send
from bench_procs import Env, Finished, adapter_command, mllp_listener, run_to_end
from bench_report import Figure, Report, Target, percentile

RSS_GROWTH = 16.0  # MB, the bound


def interpret(*args: str) -> Finished:
    return run_to_end(adapter_command("interpret", *args))


def startup(flag: str, path: Path) -> Finished:
    """The CLI on a file of one message: its imports and mappings (the least CPU of 3)."""
    return min((interpret(flag, str(path)) for _ in range(3)), key=lambda run: run.cpu.total)


def cli_memory(report: Report, work: Path, bodies: Sequence[str], small: int, big: int) -> None:
    """Target 7: how much more `interpret --ndjson` holds at `big` lines than at `small`."""
    peaks = []
    for lines in (small, big):
        path = work / f"cli-{lines}.ndjson"
        with path.open("w") as out:
            for n in range(lines):
                out.write(bodies[n % len(bodies)] + "\n")
        peaks.append(interpret("--ndjson", str(path)).peak_rss_mb)
    report.add(Figure(f"  interpret --ndjson peak RSS at {small:,} lines", peaks[0], "MB"))
    name = f"7 interpret --ndjson RSS growth, {small:,} -> {big:,} lines"
    report.add(Figure(name, peaks[1] - peaks[0], "MB", Target("<=", RSS_GROWTH)))


def v2_cases(pool: Sequence[tuple[Spec, str]], count: int) -> list[tuple[str, str]]:
    """(FHIR body, ORU^R01) of the first `count` cases that have a v2 form."""
    return [(body, m) for n, (spec, body) in enumerate(pool[:count]) if (m := v2_message(spec, n))]


def cli_v2(report: Report, work: Path, cases: Sequence[tuple[str, str]]) -> None:
    """Target 5: `interpret --hl7v2` against `interpret --ndjson` on the same cases, in
    messages per CPU second (a rate the other work on a shared machine does not move), each
    less its own start-up; the wall-time rates are in the notes."""
    name = f"  interpret --ndjson, same {len(cases):,} cases as v2"
    for figure, flag, spell in (
        (name, "--ndjson", lambda body, _: body + "\n"),
        ("5 interpret --hl7v2", "--hl7v2", lambda _, v2: "\x0b" + v2 + "\x1c\x0d"),
    ):
        one, every = work / f"one{flag}", work / f"same{flag}"
        one.write_text(spell(*cases[0]))
        every.write_text("".join(spell(*case) for case in cases))
        base, run = startup(flag, one), interpret(flag, str(every))
        rate = len(cases) / max(run.cpu.total - base.cpu.total, 1e-9)
        note = f"{len(cases) / max(run.wall - base.wall, 1e-9):.0f} msg/s of wall time"
        target = Target(">=", 0.7, name) if flag == "--hl7v2" else None
        report.add(Figure(figure, rate, "msg/CPU s", target, note=note))


def mllp(
    report: Report, env: Env, cases: Sequence[tuple[str, str]], rate: float, seconds: float
) -> None:
    """Target 4: ACKs/s over 4 connections (closed loop), ACK p99 at `rate`/s (open loop)."""
    frames = [m.encode() for _, m in cases]
    with mllp_listener(env) as port:
        acks, _ = asyncio.run(mllp_send(port, frames, 4, None))
    count = int(rate * seconds)
    with mllp_listener(env) as port:
        _, latencies = asyncio.run(mllp_send(port, (frames * 10)[:count], 4, rate))
    report.add(Figure("4 MLLP ACKs/s, 4 connections", acks, "ack/s", Target(">=", 1000)))
    name = f"4 MLLP ACK p99 at {rate:g} msg/s"
    report.add(Figure(name, percentile(latencies, 99) * 1000, "ms", Target("<", 10)))
