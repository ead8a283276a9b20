"""Benchmark of `her2-adapter qa`: its rate (reports per second) and peak memory over 100,000
and 1,000,000 reports (issue 13). Prints figures; it is not a test and asserts nothing.

    python scripts/bench_qa.py                 # 100,000 and 1,000,000 reports
    python scripts/bench_qa.py --reports 20000 # one smaller run

The reports are what `interpret --ndjson` prints (one collection Bundle per message: status
Observation, DiagnosticReport, Provenance), made by the adapter itself from a few messages of
different kinds and then varied per case: 40 laboratories, 24 months, breast and gastric, and
every tenth report a second, later report of the case before it (only the later one counts).
They are piped to `her2-adapter qa -` as they are made, so no file of gigabytes is written; the
generator's own rate is printed too, to show it is not what limits. Peak memory is the qa
process's maximum resident set size (`os.wait4` of that child).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_procs import PeakRss  # noqa: E402

from adapter.fhir.report import collection_bundle  # noqa: E402
from adapter.mapping_files import default_mappings  # noqa: E402
from adapter.service.offline import interpret_message  # noqa: E402

LOINC = "http://loinc.org"
IHC = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}
SITES = {"breast": "76752008", "gastric": "69695003"}
CASE, LAB, TIME, ISSUED = "@@case@@", "@@lab@@", "2026-01-15", "2026-06-01T12:00:00+00:00"
KINDS = [  # (site, IHC score, ISH ratio/HER2/CEP17 or None), weighted as a laboratory's mix
    ("breast", "0", None),
    ("breast", "1+", None),
    ("breast", "1+", None),
    ("breast", "2+", ("1.5", "3.0", "2.0")),
    ("breast", "2+", ("2.5", "6.0", "2.4")),
    ("breast", "3+", None),
    ("breast", "2+", None),
    ("gastric", "3+", None),
    ("gastric", "1+", None),
]


def templates() -> list[str]:
    """One printed Bundle per kind, with placeholders for the case, laboratory and times."""
    mappings = default_mappings()
    made = []
    for n, (site, score, ish) in enumerate(KINDS):
        observations: list[dict[str, Any]] = [
            _observation(f"ihc{n}", "85319-2", site, {"valueCodeableConcept": _answer(score)})
        ]
        if ish is not None:
            ratio, her2, cep17 = ish
            value = {
                "valueQuantity": {"value": float(ratio)},
                "component": [
                    {"code": _code("74860-8"), "valueQuantity": {"value": float(her2)}},
                    {"code": _code("74861-6"), "valueQuantity": {"value": float(cep17)}},
                ],
            }
            observations.append(_observation(f"ish{n}", "49683-6", site, value))
        message = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": o} for o in observations],
        }
        recorded = datetime.fromisoformat(ISSUED)
        case = interpret_message(message, mappings, recorded=recorded).cases[0]
        text = json.dumps(collection_bundle(case.resources), separators=(",", ":"))
        identifier = case.diagnostic_report["identifier"][0]["value"]
        made.append(text.replace(identifier, CASE).replace("LABNAME", LAB))
    return made


def _observation(oid: str, loinc: str, site: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": _code(loinc),
        "specimen": {"reference": f"Specimen/{oid}"},
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": SITES[site]}]},
        "performer": [{"display": "LABNAME"}],
        "effectiveDateTime": TIME,
        **value,
    }


def _code(loinc: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": loinc}]}


def _answer(score: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": IHC[score]}]}


def reports(count: int, made: list[str]) -> Iterator[bytes]:
    """`count` printed Bundles: every tenth a later report of the case before it."""
    start = datetime.fromisoformat(ISSUED)
    for i in range(count):
        case = i - 1 if i % 10 == 9 else i
        month = 1 + case // 40 % 24
        time = f"{2024 + (month - 1) // 12}-{1 + (month - 1) % 12:02d}-15"
        issued = (start + timedelta(seconds=i)).isoformat()
        line = (
            made[(case * 7 + i % 10 // 9) % len(made)]
            .replace(CASE, f"00000000-0000-5000-8000-{case:012d}")
            .replace(LAB, f"LAB-{case % 40:02d}")
            .replace(TIME, time)
            .replace(ISSUED, issued)
        )
        yield line.encode() + b"\n"


def generator_rate(count: int, made: list[str]) -> float:
    started = time.perf_counter()
    for _ in reports(count, made):
        pass
    return count / (time.perf_counter() - started)


def run_qa(count: int, made: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, output rows) of `her2-adapter qa -` over `count` reports."""
    script = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"
    started = time.perf_counter()
    qa = subprocess.Popen([script, "qa", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert qa.stdin is not None
    assert qa.stdout is not None
    # Its peak from /proc while it runs, not wait4's ru_maxrss, which counts what the child
    # held before its exec: this process, copied by fork.
    peak = PeakRss(qa.pid)
    for line in reports(count, made):
        qa.stdin.write(line)
    qa.stdin.close()
    output = qa.stdout.read()
    qa.wait()
    peak_mb = peak.stop()
    seconds = time.perf_counter() - started
    if qa.returncode != 0:
        raise SystemExit(f"her2-adapter qa exited {qa.returncode}")
    return seconds, peak_mb, output.count(b"\n") - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, action="append", help="run sizes (repeatable)")
    sizes = sorted(parser.parse_args().reports or [100_000, 1_000_000])
    made = templates()
    machine = f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    say(f"machine: {machine}; load average at start {os.getloadavg()[0]:.2f}")
    say(f"generator alone: {generator_rate(min(sizes), made):,.0f} reports/s")
    say("   reports      cases   rows  seconds  reports/s  peak RSS")
    results = []
    for count in sizes:
        seconds, peak, rows = run_qa(count, made)
        cases = count - count // 10
        results.append((count, peak))
        rate = count / seconds
        say(f"{count:>10,} {cases:>10,} {rows:>6} {seconds:>8.1f} {rate:>10,.0f} {peak:>5.0f} MiB")
    if len(results) > 1:
        (small, small_peak), (large, large_peak) = results[0], results[-1]
        say(f"peak memory, {large:,} vs {small:,} reports: {large_peak / small_peak:.2f}x")


def say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the figures are the output


if __name__ == "__main__":
    main()
