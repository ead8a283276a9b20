"""`scripts/bench.py --profile DIR`: py-spy flame graphs of the API and the worker under load,
and from them where each process's milliseconds per message go.

Each profiled block gets two py-spy recorders per process, its pool children included: a flame
graph (`LABEL-NAME.svg`) and the same samples as collapsed stacks (`LABEL-NAME.txt`). They
sample at 200 Hz without stopping the process (`--nonblocking`) and only the thread holding the
GIL (`--gil`): a sample is Python (or C extension) work, never a wait. A thread waiting in a
system call (an fsync, a socket read) would otherwise count as busy. So a stage's share of the
samples times the process's user CPU per message (from /proc, the same block) is its ms/msg;
the kernel's CPU (system calls: sockets to Redis, the sink's files) is its own row.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_load import ServiceRun
from bench_procs import Process
from bench_report import Figure, Report

# (stage, pattern of one frame, "function (file:line)"). A sample goes to the first stage with
# a frame on its stack, whatever its depth; the steps named are disjoint subtrees.
WORKER_STAGES = [
    ("read the message (parse, FHIR input, arrival)", r"^job_arrival "),
    ("case lock and load (Redis)", r"^CaseStore\.checkout"),
    ("settle: interpretation, report resources", r"^(settle|for_server) "),
    ("R4B validation of the transaction Bundle", r"^transaction_bundle "),
    ("write (directory sink / FHIR client)", r"^(DirectorySink|FhirServer)\.transaction "),
    ("case save (Redis)", r"^HeldCase\.save "),
    ("job record and counts (Redis)", r"^(JobStore\.|Metrics\.|Tally\.)"),
    ("logging", r"^Logger\."),
]
WORKER_REST = "Celery, kombu, billiard: task fetch, hand-over, ack"
API_STAGES = [
    ("admission: parse, read, R4B validation", r"^admit "),
    ("queue: job record + outbox + task, one MULTI (Redis)", r"^JobStore\.enqueue "),
    ("job id (uuid4)", r"^uuid4 "),
    ("API key check", r"^ApiKeys\.check "),
    ("logging", r"^Logger\."),
]
API_REST = "HTTP: uvicorn, httptools, starlette, fastapi, middleware"
RECORD = ["py-spy", "record", "--rate", "200", "--gil", "--nonblocking", "--subprocesses"]
KERNEL = "kernel: system calls (sockets, files)"


class Profiler:
    def __init__(self, directory: Path) -> None:
        if shutil.which("py-spy") is None:
            raise SystemExit("--profile needs py-spy (pip install -e '.[dev]')")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def __call__(self, label: str, processes: dict[str, Process]) -> Iterator[None]:
        """Record every process of `processes` over the block."""
        recorders = []
        for name, process in processes.items():
            for form, suffix in (("flamegraph", "svg"), ("raw", "txt")):
                path = self.directory / f"{label}-{name}.{suffix}"
                argv = [*RECORD, "--pid", str(process.pid), "--format", form, "--output", str(path)]
                recorders.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
        try:
            yield
        finally:
            for recorder in recorders:
                recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
            for recorder in recorders:
                recorder.wait(timeout=60)

    def attribute(self, report: Report, label: str, run: ServiceRun) -> None:
        """Figures 'profile LABEL NAME: STAGE' in ms/msg, from the profiles of the block that
        measured `run`."""
        for name, cpu, table, rest in (
            ("api", run.api_cpu, API_STAGES, API_REST),
            ("worker", run.worker_cpu, WORKER_STAGES, WORKER_REST),
        ):
            raw = self.directory / f"{label}-{name}.txt"
            for stage, share in stages(raw, table, rest).items():
                ms = share * run.ms_per_message(cpu) * cpu.user / cpu.total
                report.add(Figure(f"  profile {label} {name}: {stage}", ms, "ms"))
            kernel = run.ms_per_message(cpu) * cpu.system / cpu.total
            report.add(Figure(f"  profile {label} {name}: {KERNEL}", kernel, "ms"))


def stages(raw: Path, table: list[tuple[str, str]], rest: str) -> dict[str, float]:
    """Share of the samples of a collapsed-stacks profile per stage, largest first."""
    patterns = [(stage, re.compile(pattern)) for stage, pattern in table]
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        stage = next((s for s, p in patterns if any(p.search(f) for f in frames)), rest)
        counts[stage] += int(count)
    total = sum(counts.values()) or 1
    return {stage: count / total for stage, count in counts.most_common()}
